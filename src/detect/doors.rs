//! The rules of the printer's other doors: risky LPD usage (1601-1604), administrative IPP
//! operations from clients the policy does not allow (1611), IPP answers that would inject
//! PPD lines (1612), CUPS browse announcements from hosts that are neither printers nor
//! allowed (1621); and what an IPP answer says about the printer, for the inventory.

use super::rules::Rule;
use super::{unspecified, About, Decision, Detector, Fire, FlowMarks, Route};
use crate::event::{CupsBrowsed, Evidence, Ipp, IppPrinter};
use crate::flow::Conn;
use crate::net::Timestamp;
use crate::proto::lpd::Risk as LpdRisk;

impl Detector {
    /// Risky usage in an LPD command or job: content, so never budgeted or folded; one alert
    /// per rule and connection endpoints within the suppression window.
    pub fn on_lpd(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        findings: &[(LpdRisk, String)],
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        for (risk, line) in findings {
            let rule = Rule::Lpd(*risk);
            let fire = Fire {
                rule,
                raised: false,
                about: About::Flow,
                key: (Some(conn.l4), conn.client.0, conn.server.0, conn.server.1),
                variant: 0,
                budget_source: None,
                sliding: false,
                evidence: Evidence {
                    command: Some(line.clone()),
                    reason: Some(lpd_reason(*risk).to_owned()),
                    printer: self.printer_name(conn.server.0),
                    ..Evidence::default()
                },
            };
            self.fire(fire, conn, marks, now, out);
        }
    }

    /// An IPP operation: an administrative one from a client the policy does not allow; an
    /// answer that carries PPD injection; and who the printer says it is.
    pub fn on_ipp(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        ipp: &Ipp,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        let (client, (server, port)) = (conn.client.0, conn.server);
        if ipp.operation.is_admin() && !self.policy.allows(client, server) {
            let status = ipp
                .status
                .as_deref()
                .map_or("no answer seen".to_owned(), |s| format!("answered {s}"));
            let fire = Fire {
                rule: Rule::IppAdminOperation,
                raised: false,
                about: About::Flow,
                key: (Some(conn.l4), client, server, port),
                variant: u32::from(ipp.operation_id),
                // a connection whose handshake was seen takes a real client; one picked up
                // mid-stream could be a spoofed segment, so it is budgeted
                budget_source: (!conn.track.handshake_completed()).then_some(client),
                sliding: false,
                evidence: Evidence {
                    command: Some(ipp.operation.name().to_owned()),
                    uri: ipp.printer_uri.clone(),
                    policy: Some(self.policy.missed_allow(server)),
                    printer: self.printer_name(server),
                    reason: Some(format!(
                        "an administrative IPP operation from a client the policy does not allow ({status})"
                    )),
                    ..Evidence::default()
                },
            };
            self.fire(fire, conn, marks, now, out);
        }
        if let Some(inj) = &ipp.ppd_injection {
            // One alert per answering server, whoever asked: the server is the attacker.
            let fire = Fire {
                rule: Rule::IppPpdInjection,
                raised: false,
                about: About::Flow,
                key: (Some(conn.l4), unspecified(), server, port),
                variant: 0,
                budget_source: None,
                sliding: false,
                evidence: Evidence {
                    command: Some(format!("{}: {}", inj.attribute, inj.value)),
                    reason: Some(
                        "an IPP answer whose attribute value would add lines to the PPD a CUPS client builds from it (CVE-2024-47175; with cups-filters' foomatic-rip, a command run on the client)".into(),
                    ),
                    ..Evidence::default()
                },
            };
            self.fire(fire, conn, marks, now, out);
        }
        if let Some(p) = ipp.printer.as_ref().filter(|p| !p.is_empty()) {
            self.inventory.service(server, conn.l4, port, now);
            let (mfg, model) = identity(p);
            self.inventory
                .identity(server, mfg, model, p.firmware.as_deref());
        }
    }

    /// A browse announcement: one whose URI names another address than its sender is 1622
    /// whoever sent it (the sender of a datagram is easily spoofed, a printer's address too);
    /// any other from a host that is neither a printer (policy or inventory) nor allowed is
    /// 1621. Both are spoofable (one UDP datagram), so each has its own budget per sender.
    pub fn on_cups_browsed(
        &mut self,
        conn: &Conn,
        marks: &mut FlowMarks,
        route: Route,
        c: &CupsBrowsed,
        now: Timestamp,
        out: &mut Vec<Decision>,
    ) {
        let sender = route.src;
        let redirect = c.redirect == Some(true);
        if !redirect && (self.is_printer(sender) || self.policy.allows(sender, route.dst)) {
            return;
        }
        let rule = if redirect {
            Rule::CupsBrowsedRedirect
        } else {
            Rule::CupsBrowsedAnnouncement
        };
        let reason = if redirect {
            format!(
                "{sender} announces a printer at {}, another host: a cups-browsed that accepts it fetches that server's attributes (the CVE-2024-47176 chain)",
                c.uri_host
            )
        } else {
            format!("{sender} announces a printer but is no known printer and not allowed")
        };
        let fire = Fire {
            rule,
            raised: false,
            about: About::Record,
            key: (Some(route.l4), sender, unspecified(), route.dport),
            variant: 0,
            budget_source: Some(sender),
            sliding: false,
            evidence: Evidence {
                uri: Some(c.uri.clone()),
                policy: Some(self.policy.missed_allow(route.dst)),
                reason: Some(reason),
                ..Evidence::default()
            },
        };
        self.fire(fire, conn, marks, now, out);
    }

    /// Whether a browse announcement's record is counted into the campaign on its port instead
    /// of written (its alert, if any, is still written).
    pub fn fold_announcement(&mut self, conn: &Conn, route: Route) -> bool {
        if self.policy.log_folded_flows || self.policy.allows(route.src, route.dst) {
            return false;
        }
        let folded = self.campaigns.fold_message(conn.l4, conn.server.1);
        self.stats.messages_folded += u64::from(folded);
        folded
    }
}

/// Manufacturer and model: the IEEE 1284 device ID's MFG and MDL when it has them, else
/// printer-make-and-model as the model.
fn identity(p: &IppPrinter) -> (Option<&str>, Option<&str>) {
    let field = |key: &str| {
        p.device_id.as_deref().and_then(|id| {
            id.split(';').find_map(|kv| {
                let (k, v) = kv.split_once(':')?;
                let k = k.trim();
                (k.eq_ignore_ascii_case(key)
                    || (key == "MFG" && k.eq_ignore_ascii_case("MANUFACTURER"))
                    || (key == "MDL" && k.eq_ignore_ascii_case("MODEL")))
                .then_some(v.trim())
            })
        })
    };
    let mfg = field("MFG");
    let model = field("MDL").or(p.make_and_model.as_deref());
    (mfg, model)
}

fn lpd_reason(r: LpdRisk) -> &'static str {
    match r {
        LpdRisk::PathInFileName => "an LPD file name with a path separator or `..`: a daemon that spools under that name writes outside its spool directory",
        LpdRisk::ShellMetacharacters => "shell metacharacters in an LPD command or control line: a daemon or filter that puts host, user or job names on a command line runs them",
        LpdRisk::MailRequest => "an LPD control file asks the daemon to send mail (M line)",
        LpdRisk::RemoveJobs => "an LPD remove-jobs command",
    }
}
