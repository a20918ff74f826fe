//! Syslog senders.
//!
//! * `udp://HOST[:PORT]`: RFC 5424 message, one per datagram (RFC 5426).
//! * `tcp://HOST[:PORT]`: RFC 5424 message with octet-counting framing (RFC 6587 §3.4.1:
//!   `LEN SP MSG`), so a record is never split or merged, whatever bytes it holds.
//! * `unix:///dev/log`: the local daemon's datagram socket, in the format the C library's
//!   `syslog(3)` uses (`<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`); rsyslog's imuxsock and journald
//!   parse that, not RFC 5424.
//!
//! A receiver that goes away never blocks the caller: records are dropped (and counted) until
//! a reconnect succeeds; reconnects back off from 0.5 s up to 30 s.

use super::{Meta, Sent, Transport};
use crate::event::Timestamp;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DEFAULT_PORT: u16 = 514;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A receiver that stops reading for this long is treated as gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
const UNIX_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
const APP_NAME: &str = "bjnp-watch";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    Udp(SocketAddr),
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl SyslogTarget {
    /// Parses and resolves `udp://HOST[:PORT]`, `tcp://HOST[:PORT]` or `unix://PATH`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (scheme, rest) = s.split_once("://").ok_or_else(|| {
            format!("'{s}': expected udp://HOST[:PORT], tcp://HOST[:PORT] or unix:///PATH")
        })?;
        let resolve = |rest: &str| -> Result<SocketAddr, String> {
            if rest.is_empty() {
                return Err(format!("'{s}': no host"));
            }
            // A bare host (or [v6]) takes the standard port.
            let with_port = if rest.ends_with(']') || (!rest.contains(':')) {
                format!("{rest}:{DEFAULT_PORT}")
            } else {
                rest.to_owned()
            };
            with_port
                .to_socket_addrs()
                .map_err(|e| format!("'{s}': cannot resolve: {e}"))?
                .next()
                .ok_or_else(|| format!("'{s}': the name has no address"))
        };
        match scheme {
            "udp" => Ok(SyslogTarget::Udp(resolve(rest)?)),
            "tcp" => Ok(SyslogTarget::Tcp(resolve(rest)?)),
            "unix" if rest.starts_with('/') => Ok(SyslogTarget::Unix(PathBuf::from(rest))),
            "unix" => Err(format!(
                "'{s}': the socket path must be absolute (unix:///dev/log)"
            )),
            other => Err(format!(
                "'{s}': unknown scheme '{other}' (udp, tcp or unix)"
            )),
        }
    }
}

impl std::fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SyslogTarget::Udp(a) => write!(f, "udp://{a}"),
            SyslogTarget::Tcp(a) => write!(f, "tcp://{a}"),
            SyslogTarget::Unix(p) => write!(f, "unix://{}", p.display()),
        }
    }
}

/// RFC 5424 facilities by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Facility(pub u8);

impl std::str::FromStr for Facility {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        const NAMES: [&str; 24] = [
            "kern",
            "user",
            "mail",
            "daemon",
            "auth",
            "syslog",
            "lpr",
            "news",
            "uucp",
            "cron",
            "authpriv",
            "ftp",
            "ntp",
            "security",
            "console",
            "solaris-cron",
            "local0",
            "local1",
            "local2",
            "local3",
            "local4",
            "local5",
            "local6",
            "local7",
        ];
        NAMES
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| Facility(i as u8))
            .ok_or_else(|| format!("unknown facility '{s}' (daemon, user, local0 ... local7, ...)"))
    }
}

enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Unix(UnixDatagram),
}

pub struct Syslog {
    target: SyslogTarget,
    facility: Facility,
    hostname: String,
    pid: u32,
    conn: Option<Conn>,
    ever_connected: bool,
    next_try: Instant,
    backoff: Duration,
    reconnects: u64,
    buf: Vec<u8>,
    /// Shutting down: no write may block past this.
    deadline: Option<Instant>,
}

impl Syslog {
    /// Connects once now; a receiver that is down is not an error (it is retried), so the
    /// sensor can start before the log server.
    pub fn new(target: SyslogTarget, facility: Facility, hostname: &str) -> Self {
        let mut s = Syslog {
            target,
            facility,
            hostname: super::super::format::printable_ascii(hostname, 255),
            pid: std::process::id(),
            conn: None,
            ever_connected: false,
            next_try: Instant::now(),
            backoff: BACKOFF_MIN,
            reconnects: 0,
            buf: Vec::with_capacity(8192),
            deadline: None,
        };
        if !s.connect() {
            tracing::warn!(target = %s.target, "syslog receiver not reachable yet; retrying in the background");
        }
        s
    }

    fn try_connect(&self) -> io::Result<Conn> {
        match &self.target {
            SyslogTarget::Udp(a) => {
                let bind: SocketAddr = if a.is_ipv4() {
                    "0.0.0.0:0".parse().expect("literal")
                } else {
                    "[::]:0".parse().expect("literal")
                };
                let s = UdpSocket::bind(bind)?;
                s.connect(a)?;
                Ok(Conn::Udp(s))
            }
            SyslogTarget::Tcp(a) => {
                let s = TcpStream::connect_timeout(a, CONNECT_TIMEOUT)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                s.set_nodelay(true)?;
                Ok(Conn::Tcp(s))
            }
            SyslogTarget::Unix(p) => {
                let s = UnixDatagram::unbound()?;
                s.connect(p)?;
                // a local daemon that stops reading fills the socket: a send then waits this
                // long at most, and the receiver counts as gone
                s.set_write_timeout(Some(UNIX_WRITE_TIMEOUT))?;
                Ok(Conn::Unix(s))
            }
        }
    }

    /// True when connected. Honours the backoff: never more than one attempt per period.
    fn connect(&mut self) -> bool {
        if self.conn.is_some() {
            return true;
        }
        let now = Instant::now();
        if now < self.next_try {
            return false;
        }
        match self.try_connect() {
            Ok(c) => {
                if self.ever_connected {
                    self.reconnects += 1;
                    tracing::info!(target = %self.target, "syslog receiver reconnected");
                }
                self.ever_connected = true;
                self.conn = Some(c);
                self.backoff = BACKOFF_MIN;
                true
            }
            Err(e) => {
                tracing::debug!(target = %self.target, error = %e, "syslog connect failed");
                self.next_try = now + self.backoff;
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                false
            }
        }
    }

    fn lost(&mut self, e: &io::Error) {
        tracing::warn!(target = %self.target, error = %e, "syslog receiver lost; records are dropped until it is back");
        self.conn = None;
        self.next_try = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// The message as it goes on the wire (framing included).
    fn frame(&mut self, line: &[u8], meta: Meta) {
        let pri = u16::from(self.facility.0) * 8 + u16::from(meta.severity.min(7));
        let now = Timestamp::now();
        self.buf.clear();
        match self.target {
            SyslogTarget::Unix(_) => {
                let _ = write!(
                    self.buf,
                    "<{pri}>{} {APP_NAME}[{}]: ",
                    now.bsd_syslog(),
                    self.pid
                );
                self.buf.extend_from_slice(line);
            }
            _ => rfc5424(
                &mut self.buf,
                pri,
                now,
                &self.hostname,
                self.pid,
                meta.event_type.name(),
                line,
                matches!(self.target, SyslogTarget::Tcp(_)),
            ),
        }
    }
}

/// One RFC 5424 message, `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`, appended to
/// `out`; with `octet_counted`, preceded by its length and a space (RFC 6587 §3.4.1).
/// `hostname` and `msgid` must already be printable ASCII without spaces.
#[allow(clippy::too_many_arguments)]
pub fn rfc5424(
    out: &mut Vec<u8>,
    pri: u16,
    ts: Timestamp,
    hostname: &str,
    pid: u32,
    msgid: &str,
    msg: &[u8],
    octet_counted: bool,
) {
    let header = format!("<{pri}>1 {ts} {hostname} {APP_NAME} {pid} {msgid} - ");
    if octet_counted {
        let _ = write!(out, "{} ", header.len() + msg.len());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(msg);
}

/// A peer that closed its side shows as readable with 0 bytes: notice before writing into a
/// connection whose data would be silently lost.
fn peer_closed(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut b = [0u8; 1];
    let closed = match s.peek(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    closed || s.set_nonblocking(false).is_err()
}

impl Transport for Syslog {
    fn send(&mut self, line: &[u8], meta: Meta) -> io::Result<Sent> {
        // at shutdown, no send may wait past the deadline
        if let Some(d) = self.deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Sent::Dropped);
            }
            let bound = Some(left.min(WRITE_TIMEOUT));
            match &self.conn {
                Some(Conn::Tcp(s)) => {
                    let _ = s.set_write_timeout(bound);
                }
                Some(Conn::Unix(s)) => {
                    let _ = s.set_write_timeout(bound.map(|b| b.min(UNIX_WRITE_TIMEOUT)));
                }
                _ => {}
            }
            if self.conn.is_none() {
                // no reconnecting at shutdown: a connect could take its whole timeout
                return Ok(Sent::Dropped);
            }
        }
        if !self.connect() {
            return Ok(Sent::Dropped);
        }
        self.frame(line, meta);
        let result = match self.conn.as_mut().expect("connected") {
            Conn::Udp(s) => s.send(&self.buf).map(|_| ()),
            Conn::Unix(s) => s.send(&self.buf).map(|_| ()),
            Conn::Tcp(s) => {
                if peer_closed(s) {
                    Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "closed by the receiver",
                    ))
                } else {
                    s.write_all(&self.buf)
                }
            }
        };
        match result {
            Ok(()) => Ok(Sent::Written),
            // UDP: an ICMP unreachable from an earlier datagram; the socket itself is fine.
            Err(e) if matches!(self.conn, Some(Conn::Udp(_))) => {
                tracing::debug!(error = %e, "syslog datagram not delivered");
                Ok(Sent::Dropped)
            }
            Err(e) => {
                self.lost(&e);
                Ok(Sent::Dropped)
            }
        }
    }

    fn flush(&mut self) -> io::Result<super::Flushed> {
        Ok(super::Flushed::default())
    }

    fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    fn reconnects(&self) -> u64 {
        self.reconnects
    }

    fn description(&self) -> String {
        format!("syslog {}", self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventType;

    #[test]
    fn targets() {
        assert_eq!(
            SyslogTarget::parse("udp://127.0.0.1").unwrap(),
            SyslogTarget::Udp("127.0.0.1:514".parse().unwrap())
        );
        assert_eq!(
            SyslogTarget::parse("tcp://[::1]:6514").unwrap(),
            SyslogTarget::Tcp("[::1]:6514".parse().unwrap())
        );
        assert_eq!(
            SyslogTarget::parse("tcp://[::1]").unwrap(),
            SyslogTarget::Tcp("[::1]:514".parse().unwrap())
        );
        assert_eq!(
            SyslogTarget::parse("unix:///dev/log").unwrap(),
            SyslogTarget::Unix("/dev/log".into())
        );
        for bad in [
            "127.0.0.1:514",
            "http://x",
            "udp://",
            "unix://dev/log",
            "tcp://1.2.3.4:99999",
        ] {
            assert!(SyslogTarget::parse(bad).is_err(), "{bad}");
        }
        assert_eq!("local5".parse::<Facility>().unwrap(), Facility(21));
        assert_eq!("DAEMON".parse::<Facility>().unwrap(), Facility(3));
        assert!("local9".parse::<Facility>().is_err());
    }

    /// UDP is best-effort, but what the sender sees is counted: sends to a closed port on
    /// loopback draw ICMP port unreachable, and the sends that report it (ECONNREFUSED) are
    /// drops, not deliveries.
    #[test]
    fn udp_send_errors_are_drops() {
        let port = {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.local_addr().unwrap().port()
        };
        let target = SyslogTarget::parse(&format!("udp://127.0.0.1:{port}")).unwrap();
        let mut s = Syslog::new(target, Facility(21), "sensor");
        let meta = Meta {
            event_type: EventType::Alert,
            severity: 2,
            key: None,
        };
        let mut dropped = 0;
        for _ in 0..20 {
            if s.send(b"{}", meta).unwrap() == Sent::Dropped {
                dropped += 1;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(dropped >= 5, "refusals counted as drops: {dropped} of 20");
    }

    #[test]
    fn octet_counting_frame() {
        let mut s = Syslog {
            target: SyslogTarget::Tcp("127.0.0.1:9".parse().unwrap()),
            facility: Facility(21),
            hostname: "sensor".into(),
            pid: 42,
            conn: None,
            ever_connected: false,
            next_try: Instant::now(),
            backoff: BACKOFF_MIN,
            reconnects: 0,
            buf: Vec::new(),
            deadline: None,
        };
        let msg = "{\"a\":\"x\\ny\"}\n";
        s.frame(
            msg.as_bytes(),
            Meta {
                event_type: EventType::Alert,
                severity: 2,
                key: None,
            },
        );
        let framed = String::from_utf8(s.buf.clone()).unwrap();
        let (len, rest) = framed.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), rest.len());
        // local5 (21) * 8 + critical (2)
        assert!(rest.starts_with("<170>1 "), "{rest}");
        assert!(rest.contains(" sensor bjnp-watch 42 alert - {"), "{rest}");
        assert!(rest.ends_with(msg));
    }
}
