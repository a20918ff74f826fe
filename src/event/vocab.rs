//! The closed sets records speak in. Each is an enum serialised under its stable name, so rules
//! match variants and only the output ever sees the strings.

use crate::net::named_enum;
use crate::proto::pdl::Language;

named_enum! {
    /// What a record is (`event_type`): one per kind of body.
    pub enum EventType {
        Bjnp = "bjnp",
        Anomaly = "anomaly",
        Alert = "alert",
        Flow = "flow",
        Printer = "printer",
        Print = "print",
        Stats = "stats",
        Warning = "warning",
        Campaign = "campaign",
        Summary = "summary",
        Lpd = "lpd",
        Ipp = "ipp",
        Tls = "tls",
        CupsBrowsed = "cups_browsed",
        Reload = "reload",
    }
}

impl EventType {
    /// Records an analyst must not lose when the output queue is full: alerts and what
    /// explains them, the inventory, the sensor's own health. The others (flow, protocol and
    /// anomaly records) are dropped first, and counted.
    pub fn is_priority(self) -> bool {
        matches!(
            self,
            EventType::Alert
                | EventType::Campaign
                | EventType::Summary
                | EventType::Printer
                | EventType::Warning
                | EventType::Stats
                | EventType::Reload
        )
    }
}

named_enum! {
    /// How an attempt to reach a printer port ended (alerts 1001/1003).
    pub enum Outcome {
        /// Nothing came back.
        Attempted = "attempted",
        /// A TCP reset came back.
        Refused = "refused",
        /// The printer answered the SYN but the client never completed the handshake: a SYN
        /// scan (nmap -sS resets instead) or a spoofed source. The port is reachable.
        HalfOpen = "half_open",
        /// A completed handshake, or any answer without a reset.
        Established = "established",
    }
}

impl Outcome {
    /// The printer answered: the port is reachable from the client's side (an established
    /// connection, or a SYN-ACK the client did not complete).
    pub fn reached(self) -> bool {
        matches!(self, Outcome::HalfOpen | Outcome::Established)
    }
}

named_enum! {
    /// Zeek's `conn_state`.
    pub enum ConnState {
        S0 = "S0",
        S1 = "S1",
        Sf = "SF",
        Rej = "REJ",
        S2 = "S2",
        S3 = "S3",
        Rsto = "RSTO",
        Rstr = "RSTR",
        Rstos0 = "RSTOS0",
        Rstrh = "RSTRH",
        Sh = "SH",
        Shr = "SHR",
        Oth = "OTH",
    }
}

named_enum! {
    /// Where a flow stood when it ended (`flow.state`).
    pub enum FlowState {
        /// The server never answered.
        New = "new",
        Established = "established",
        Closed = "closed",
    }
}

named_enum! {
    /// Why a flow ended (`flow.reason`).
    pub enum EndReason {
        /// Idle past its timeout.
        Timeout = "timeout",
        /// Closed by FIN/RST (reported once the close delay has passed).
        Closed = "closed",
        /// Pushed out by a new flow at the table's cap.
        Evicted = "evicted",
        /// End of input or stop signal.
        Shutdown = "shutdown",
    }
}

named_enum! {
    /// A BJNP message's direction (bit 7 of dev_type).
    pub enum Direction {
        Request = "request",
        Response = "response",
    }
}

named_enum! {
    /// Suricata's anomaly `type`: the layer that found it.
    pub enum AnomalyType {
        Decode = "decode",
        Applayer = "applayer",
        Stream = "stream",
    }
}

named_enum! {
    /// Suricata's anomaly `event`.
    pub enum AnomalyEvent {
        /// Bytes on a BJNP port that fail the hard checks.
        NotBjnp = "not_bjnp",
        /// A datagram to or from a monitored port came in IP fragments (put together).
        Ipv4Fragment = "ipv4.fragment",
        Ipv6Fragment = "ipv6.fragment",
        /// Fragments overlapped bytes already held with other bytes.
        FragmentOverlap = "ip.fragment_overlap",
        /// A first fragment ends inside the transport header.
        FragmentTiny = "ip.fragment_tiny",
        /// Fragments reach past the largest datagram, or far too many of them.
        FragmentTooLarge = "ip.fragment_too_large",
        /// A datagram's fragments stopped coming before it was whole.
        FragmentIncomplete = "ip.fragment_incomplete",
        /// A BJNP TCP stream lost a segment.
        BjnpTcpGap = "bjnp.tcp_gap",
        /// A BJNP TCP connection closed inside a message.
        BjnpTcpIncompleteMessage = "bjnp.tcp_incomplete_message",
        /// An `@PJL` line inside page data: the printer prints it as data, but someone tried.
        PjlInPrintData = "print.pjl_in_data",
        /// TCP segments overlapped bytes already received with other bytes (the first copy was
        /// kept).
        TcpOverlapConflict = "tcp.overlap_conflict",
        /// The client's side of an LPD connection stopped making sense (the reason names how).
        LpdMalformed = "lpd.malformed",
        /// More jobs in one LPD connection than are recorded one by one (their content is
        /// still scanned).
        LpdTooManyJobs = "lpd.too_many_jobs",
        /// HTTP or IPP framing on 631 broken, or neither HTTP nor TLS there.
        IppMalformed = "ipp.malformed",
        /// A datagram on UDP 631 that is no browse announcement.
        CupsBrowsedMalformed = "cups_browsed.malformed",
    }
}

named_enum! {
    /// What a `printer` record reports, least to most significant (a packet that causes several
    /// changes reports the most significant one).
    pub enum PrinterChange {
        Service = "service",
        Mac = "mac",
        Identity = "identity",
        New = "new",
    }
}

named_enum! {
    /// The sensor's own health conditions (`warning.code`).
    pub enum WarningCode {
        /// No packet passed the capture for several stats intervals.
        CaptureSilent = "capture_silent",
        /// The output cannot be written (disk full, I/O error): records are dropped, counted.
        OutputFailing = "output_failing",
        /// The output works again; the warning says how many records were lost.
        OutputRecovered = "output_recovered",
        /// SIGHUP could not reopen the output file: the open one is kept, the reopen retried.
        OutputReopenFailed = "output_reopen_failed",
        /// SIGHUP could not reload the policy (unreadable, invalid): the running one is kept.
        PolicyReloadFailed = "policy_reload_failed",
    }
}

/// The application protocol of a record (`app_proto`): a BJNP service, another door of the
/// printer (LPD, IPP, TLS on a printer port, CUPS browsing), or the language of a print job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppProto {
    Bjnp,
    Mfnp,
    Lpd,
    Ipp,
    Tls,
    CupsBrowsed,
    Print(Language),
}

impl AppProto {
    /// A print stream whose language nobody could tell (`unknown`).
    pub fn is_unknown(self) -> bool {
        self == AppProto::Print(Language::Unknown)
    }

    pub fn name(self) -> &'static str {
        match self {
            AppProto::Bjnp => "bjnp",
            AppProto::Mfnp => "mfnp",
            AppProto::Lpd => "lpd",
            AppProto::Ipp => "ipp",
            AppProto::Tls => "tls",
            AppProto::CupsBrowsed => "cups_browsed",
            AppProto::Print(l) => l.name(),
        }
    }
}

impl serde::Serialize for AppProto {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
