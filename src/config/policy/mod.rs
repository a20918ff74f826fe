//! The site policy (README, "Site policy"): which ports are monitored, which must be closed, which
//! hosts are printers (the inventory) and which clients may reach them. Read from TOML and/or
//! the command line; every mistake stops start-up with the file, the line and the reason.

use crate::defrag::OverlapPolicy;
use crate::net::ports::{PortSet, DEFAULT_TCP, DEFAULT_UDP};
use ipnet::IpNet;
use serde::Deserialize;
use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy '{path}': {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Syntax, unknown key, wrong type, bad CIDR or duration: toml reports the position.
    #[error("policy '{path}' line {line}: {reason}")]
    Parse {
        path: String,
        line: usize,
        reason: String,
    },
    /// Well-formed but meaningless or self-contradicting.
    #[error("policy '{path}'{}: {reason}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Invalid {
        path: String,
        line: Option<usize>,
        reason: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    monitor_ports: Option<Ports>,
    #[serde(default)]
    blocked_ports: Vec<u16>,
    #[serde(default)]
    printer: Vec<PrinterEntry>,
    #[serde(default)]
    clients: Clients,
    #[serde(default)]
    scan: ScanEntry,
    #[serde(default)]
    suppress: SuppressEntry,
    #[serde(default)]
    campaign: CampaignEntry,
    #[serde(default)]
    alerts: AlertsEntry,
    #[serde(default)]
    defrag: DefragEntry,
    #[serde(default)]
    sensor: SensorEntry,
    kafka: Option<KafkaEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SensorEntry {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KafkaEntry {
    url: String,
    #[serde(default, deserialize_with = "duration")]
    wait: Option<Duration>,
    #[serde(default)]
    options: std::collections::BTreeMap<String, String>,
}

/// The `[kafka]` section: read here with the rest of the file, used by the output stage
/// (`--kafka` and `--kafka-option` on the command line win).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaSettings {
    pub url: String,
    pub wait: Option<Duration>,
    pub options: Vec<(String, String)>,
}
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefragEntry {
    #[serde(default, deserialize_with = "overlap_policy")]
    policy: Option<OverlapPolicy>,
}

fn overlap_policy<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<OverlapPolicy>, D::Error> {
    let s = String::deserialize(d)?;
    parse_overlap_policy(&s)
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// An overlap policy by name (`linux`, `first`, `last`, `bsd`).
pub fn parse_overlap_policy(s: &str) -> Result<OverlapPolicy, String> {
    OverlapPolicy::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = OverlapPolicy::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown fragment overlap policy '{s}' (one of: {})",
            names.join(", ")
        )
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ports {
    #[serde(default)]
    tcp: Vec<u16>,
    #[serde(default)]
    udp: Vec<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrinterEntry {
    name: String,
    address: IpAddr,
    #[serde(default, deserialize_with = "nets")]
    allow: Vec<IpNet>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Clients {
    #[serde(default, deserialize_with = "nets")]
    allow: Vec<IpNet>,
}

/// A CIDR, or a bare address meaning that one host.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("'{s}' is neither a CIDR (10.1.0.0/28) nor an address"))
}

fn nets<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| parse_net(s).map_err(serde::de::Error::custom))
        .collect()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanEntry {
    hosts: Option<usize>,
    ports: Option<usize>,
    #[serde(default, deserialize_with = "duration")]
    window: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    slow_window: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignEntry {
    sources: Option<usize>,
    attempts: Option<u64>,
    log_folded_flows: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsEntry {
    budget: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressEntry {
    #[serde(default, deserialize_with = "duration")]
    window: Option<Duration>,
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map(Some).map_err(|e| {
        serde::de::Error::custom(format!("bad duration '{s}': {e} (e.g. \"60s\", \"1h\")"))
    })
}

/// A printer of the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Printer {
    pub name: String,
    pub address: IpAddr,
    /// Clients allowed to use this printer on top of `clients_allow`.
    pub allow: Vec<IpNet>,
}

/// Per-source memory grows with the scan thresholds; this keeps it small.
pub const MAX_SCAN_THRESHOLD: usize = 256;

#[derive(Clone, Debug)]
pub struct Policy {
    pub ports: PortSet,
    pub blocked_ports: Vec<u16>,
    pub printers: Vec<Printer>,
    pub clients_allow: Vec<IpNet>,
    /// A source contacting this many hosts (or `scan_ports` monitored ports) within
    /// `scan_window` is scanning (alert 1004).
    pub scan_hosts: usize,
    pub scan_ports: usize,
    pub scan_window: Duration,
    /// The same thresholds over a longer horizon catch slow scans (one probe a minute).
    pub scan_slow_window: Duration,
    /// One alert per (rule, source, destination, port) per window.
    pub suppress_window: Duration,
    /// Distinct sources, and contacts, to one port (protocol and port) within `scan_window`
    /// that make a campaign (alert 1006).
    pub campaign_sources: usize,
    pub campaign_attempts: u64,
    /// Write a `flow` record for every attempt a campaign counts (Zeek-style), instead of
    /// counting them into the campaign.
    pub log_folded_flows: bool,
    /// Alerts of each budgeted rule written per `scan_window`; the rest are counted and
    /// summarised.
    pub alert_budget: u32,
    /// How the monitored hosts put overlapping IP fragments together.
    pub defrag_policy: OverlapPolicy,
    /// `[sensor] name`: this sensor's name in every record (`--sensor-name` wins).
    pub sensor_name: Option<String>,
    /// `[kafka]`: records to a Kafka topic.
    pub kafka: Option<KafkaSettings>,
    /// Where the policy came from, for alerts ("the policy entry that was missed").
    pub origin: String,
    /// SHA-1 of the policy file's text, hex; `none` without a file (a reload's record names
    /// the version that runs).
    pub digest: String,
    /// [`Policy::missed_allow`]'s words, written on first use: every unexpected client's alert
    /// repeats them, and writing the allow lists out each time was a tenth of a printer-heavy
    /// replay's work. (The lists do not change once the policy is loaded.)
    missed_allow_words: OnceLock<MissedAllow>,
}

/// What an unexpected client missed: with no printer of the inventory, and with each.
#[derive(Clone, Debug)]
struct MissedAllow {
    anywhere: String,
    by_printer: Vec<String>,
}

impl Default for Policy {
    /// No policy: every contact with a monitored port is reported (the advisory's stance).
    fn default() -> Self {
        Policy {
            ports: PortSet::default(),
            blocked_ports: Vec::new(),
            printers: Vec::new(),
            clients_allow: Vec::new(),
            scan_hosts: 8,
            scan_ports: 4,
            scan_window: Duration::from_secs(60),
            scan_slow_window: Duration::from_secs(3600),
            suppress_window: Duration::from_secs(3600),
            campaign_sources: 32,
            campaign_attempts: 128,
            log_folded_flows: false,
            alert_budget: 10,
            defrag_policy: OverlapPolicy::default(),
            sensor_name: None,
            kafka: None,
            origin: "none".into(),
            digest: "none".into(),
            missed_allow_words: OnceLock::new(),
        }
    }
}

/// Command-line shorthands that work with or without a file.
#[derive(Clone, Debug, Default)]
pub struct Shorthands {
    pub allow: Vec<IpNet>,
    pub printers: Vec<IpAddr>,
    pub blocked_ports: Vec<u16>,
    pub defrag_policy: Option<OverlapPolicy>,
}

/// Lower-case hex SHA-1.
fn digest(text: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(text)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Policy {
    /// Reads `path` (if any) and applies the shorthands on top.
    pub fn load(path: Option<&Path>, cli: &Shorthands) -> Result<Policy, PolicyError> {
        let mut p = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                Policy::parse(&text, &path.display().to_string())?
            }
            None => Policy::default(),
        };
        p.clients_allow.extend(cli.allow.iter().copied());
        for (i, addr) in cli.printers.iter().enumerate() {
            if !p.printers.iter().any(|x| x.address == *addr) {
                p.printers.push(Printer {
                    name: format!("cli-printer-{}", i + 1),
                    address: *addr,
                    allow: vec![],
                });
            }
        }
        for port in &cli.blocked_ports {
            if !p.blocked_ports.contains(port) {
                p.blocked_ports.push(*port);
            }
        }
        if let Some(d) = cli.defrag_policy {
            p.defrag_policy = d;
        }
        if !cli.allow.is_empty()
            || !cli.printers.is_empty()
            || !cli.blocked_ports.is_empty()
            || cli.defrag_policy.is_some()
        {
            p.origin = match path {
                Some(_) => format!("{} + command line", p.origin),
                None => "command line".into(),
            };
        }
        p.validate(
            None,
            path.map(|p| p.display().to_string())
                .as_deref()
                .unwrap_or("command line"),
        )?;
        Ok(p)
    }

    /// Parses policy text; `name` is used in messages.
    pub fn parse(text: &str, name: &str) -> Result<Policy, PolicyError> {
        let f: File = toml::from_str(text).map_err(|e| PolicyError::Parse {
            path: name.into(),
            line: e.span().map_or(1, |s| line_of(text, s.start)),
            reason: e.message().trim().to_owned(),
        })?;
        let d = Policy::default();
        let ports = match &f.monitor_ports {
            Some(p) => PortSet::new(&p.tcp, &p.udp),
            None => PortSet::new(DEFAULT_TCP, DEFAULT_UDP),
        };
        let p = Policy {
            ports,
            blocked_ports: f.blocked_ports,
            printers: f
                .printer
                .into_iter()
                .map(|e| Printer {
                    name: e.name,
                    address: e.address,
                    allow: e.allow,
                })
                .collect(),
            clients_allow: f.clients.allow,
            scan_hosts: f.scan.hosts.unwrap_or(d.scan_hosts),
            scan_ports: f.scan.ports.unwrap_or(d.scan_ports),
            scan_window: f.scan.window.unwrap_or(d.scan_window),
            scan_slow_window: f.scan.slow_window.unwrap_or(d.scan_slow_window),
            suppress_window: f.suppress.window.unwrap_or(d.suppress_window),
            campaign_sources: f.campaign.sources.unwrap_or(d.campaign_sources),
            campaign_attempts: f.campaign.attempts.unwrap_or(d.campaign_attempts),
            log_folded_flows: f.campaign.log_folded_flows.unwrap_or(d.log_folded_flows),
            alert_budget: f.alerts.budget.unwrap_or(d.alert_budget),
            defrag_policy: f.defrag.policy.unwrap_or(d.defrag_policy),
            sensor_name: f.sensor.name,
            kafka: f.kafka.map(|k| KafkaSettings {
                url: k.url,
                wait: k.wait,
                options: k.options.into_iter().collect(),
            }),
            origin: name.into(),
            digest: digest(text.as_bytes()),
            missed_allow_words: OnceLock::new(),
        };
        p.validate(Some(text), name)?;
        Ok(p)
    }

    /// The checks a parser cannot make: references to nothing and contradictions.
    fn validate(&self, text: Option<&str>, name: &str) -> Result<(), PolicyError> {
        let invalid_nth = |needle: &str, nth: usize, reason: String| PolicyError::Invalid {
            path: name.into(),
            line: text.and_then(|t| locate(t, needle, nth)),
            reason,
        };
        let invalid = |needle: &str, reason: String| invalid_nth(needle, 0, reason);
        if self.ports.tcp_ports().is_empty() && self.ports.udp_ports().is_empty() {
            return Err(invalid(
                "monitor_ports",
                "monitor_ports lists no port: nothing would be monitored".into(),
            ));
        }
        for port in &self.blocked_ports {
            if !self.ports.tcp(*port) && !self.ports.udp(*port) {
                return Err(invalid(
                    "blocked_ports",
                    format!("blocked port {port} is not a monitored port: add it to monitor_ports or remove it"),
                ));
            }
        }
        for (i, a) in self.printers.iter().enumerate() {
            if a.name.trim().is_empty() {
                return Err(invalid_nth(
                    "[[printer]]",
                    i,
                    "a printer has an empty name".into(),
                ));
            }
            for b in &self.printers[..i] {
                let clash = if a.address == b.address {
                    format!(
                        "printers '{}' and '{}' have the same address {}",
                        b.name, a.name, a.address
                    )
                } else if a.name == b.name {
                    format!("two printers are named '{}'", a.name)
                } else {
                    continue;
                };
                return Err(invalid_nth("[[printer]]", i, clash));
            }
        }
        if self.scan_hosts < 2 || self.scan_ports < 2 {
            return Err(invalid(
                "[scan]",
                "scan.hosts and scan.ports must be at least 2 (one contact is not a scan)".into(),
            ));
        }
        if self.scan_hosts > MAX_SCAN_THRESHOLD || self.scan_ports > MAX_SCAN_THRESHOLD {
            return Err(invalid(
                "[scan]",
                format!("scan.hosts and scan.ports must be at most {MAX_SCAN_THRESHOLD} (each tracked source keeps that many targets)"),
            ));
        }
        if self.blocked_ports.contains(&0) {
            return Err(invalid("blocked_ports", "port 0 is not a port".into()));
        }
        if self.scan_window.is_zero() {
            return Err(invalid(
                "[scan]",
                "scan.window must be longer than zero".into(),
            ));
        }
        if self.scan_slow_window < self.scan_window {
            return Err(invalid(
                "slow_window",
                "scan.slow_window must be at least scan.window".into(),
            ));
        }
        if self.campaign_sources < 2 || self.campaign_sources > MAX_SCAN_THRESHOLD {
            return Err(invalid(
                "[campaign]",
                format!("campaign.sources must be from 2 to {MAX_SCAN_THRESHOLD}"),
            ));
        }
        if self.campaign_attempts < self.campaign_sources as u64 {
            return Err(invalid(
                "[campaign]",
                "campaign.attempts must be at least campaign.sources".into(),
            ));
        }
        if self.alert_budget == 0 {
            return Err(invalid(
                "[alerts]",
                "alerts.budget must be at least 1 (it is how many alerts of a rule a window may hold)".into(),
            ));
        }
        if self.suppress_window.is_zero() {
            return Err(invalid(
                "[suppress]",
                "suppress.window must be longer than zero".into(),
            ));
        }
        Ok(())
    }

    /// The printer of the inventory at `addr`.
    pub fn printer(&self, addr: IpAddr) -> Option<&Printer> {
        self.printers.iter().find(|p| p.address == addr)
    }

    /// Whether `client` may reach `server`: on the global allow list, or on that printer's.
    pub fn allows(&self, client: IpAddr, server: IpAddr) -> bool {
        self.trusted(client)
            || self
                .printer(server)
                .is_some_and(|p| p.allow.iter().any(|n| n.contains(&client)))
    }

    /// On the global allow list (print servers, admin hosts).
    pub fn trusted(&self, client: IpAddr) -> bool {
        self.clients_allow.iter().any(|n| n.contains(&client))
    }

    /// What an unexpected client missed, for the alert's evidence.
    pub fn missed_allow(&self, server: IpAddr) -> String {
        let words = self.missed_allow_words.get_or_init(|| MissedAllow {
            anywhere: self.missed_allow_text(None),
            by_printer: self
                .printers
                .iter()
                .map(|p| self.missed_allow_text(Some(p)))
                .collect(),
        });
        match self.printers.iter().position(|p| p.address == server) {
            Some(i) => words.by_printer[i].clone(),
            None => words.anywhere.clone(),
        }
    }

    fn missed_allow_text(&self, printer: Option<&Printer>) -> String {
        let fmt = |v: &[IpNet]| {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = if self.clients_allow.is_empty() {
            "no [clients].allow entry".to_owned()
        } else {
            format!("not in [clients].allow ({})", fmt(&self.clients_allow))
        };
        if let Some(p) = printer {
            if !p.allow.is_empty() {
                s.push_str(&format!(
                    " nor printer '{}' allow ({})",
                    p.name,
                    fmt(&p.allow)
                ));
            }
        }
        s
    }

    pub fn is_blocked(&self, port: u16) -> bool {
        self.blocked_ports.contains(&port)
    }

    /// The policy in force, as a policy file that says the same (`--check-config`): every
    /// setting spelled out, defaults included, so what the sensor will do is on one page.
    /// Written by serde from [`Effective`], the file's layout, so it cannot drift from what
    /// the parser reads.
    pub fn effective_toml(&self) -> String {
        let body = toml::to_string(&Effective::from(self))
            .unwrap_or_else(|e| format!("# the policy could not be written: {e}\n"));
        format!(
            "# effective policy (from {})\n{body}",
            self.origin.replace('\n', " ")
        )
    }
}

/// The policy file's layout, for writing: what `effective_toml` serialises.
#[derive(serde::Serialize)]
struct Effective {
    monitor_ports: EffectivePorts,
    blocked_ports: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    printer: Vec<EffectivePrinter>,
    clients: EffectiveClients,
    scan: EffectiveScan,
    suppress: EffectiveSuppress,
    campaign: EffectiveCampaign,
    alerts: EffectiveAlerts,
    defrag: EffectiveDefrag,
    #[serde(skip_serializing_if = "Option::is_none")]
    sensor: Option<EffectiveSensor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kafka: Option<EffectiveKafka>,
}

#[derive(serde::Serialize)]
struct EffectivePorts {
    tcp: Vec<u16>,
    udp: Vec<u16>,
}

#[derive(serde::Serialize)]
struct EffectivePrinter {
    name: String,
    address: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    allow: Vec<String>,
}

#[derive(serde::Serialize)]
struct EffectiveClients {
    allow: Vec<String>,
}

#[derive(serde::Serialize)]
struct EffectiveScan {
    hosts: usize,
    ports: usize,
    window: String,
    slow_window: String,
}

#[derive(serde::Serialize)]
struct EffectiveSuppress {
    window: String,
}

#[derive(serde::Serialize)]
struct EffectiveCampaign {
    sources: usize,
    attempts: u64,
    log_folded_flows: bool,
}

#[derive(serde::Serialize)]
struct EffectiveAlerts {
    budget: u32,
}

#[derive(serde::Serialize)]
struct EffectiveDefrag {
    policy: &'static str,
}

#[derive(serde::Serialize)]
struct EffectiveSensor {
    name: String,
}

#[derive(serde::Serialize)]
struct EffectiveKafka {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    wait: Option<String>,
    options: std::collections::BTreeMap<String, String>,
}

impl From<&Policy> for Effective {
    fn from(p: &Policy) -> Self {
        let dur = |d: Duration| humantime::format_duration(d).to_string();
        let nets = |v: &[IpNet]| v.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        Effective {
            monitor_ports: EffectivePorts {
                tcp: p.ports.tcp_ports(),
                udp: p.ports.udp_ports(),
            },
            blocked_ports: p.blocked_ports.clone(),
            printer: p
                .printers
                .iter()
                .map(|x| EffectivePrinter {
                    name: x.name.clone(),
                    address: x.address.to_string(),
                    allow: nets(&x.allow),
                })
                .collect(),
            clients: EffectiveClients {
                allow: nets(&p.clients_allow),
            },
            scan: EffectiveScan {
                hosts: p.scan_hosts,
                ports: p.scan_ports,
                window: dur(p.scan_window),
                slow_window: dur(p.scan_slow_window),
            },
            suppress: EffectiveSuppress {
                window: dur(p.suppress_window),
            },
            campaign: EffectiveCampaign {
                sources: p.campaign_sources,
                attempts: p.campaign_attempts,
                log_folded_flows: p.log_folded_flows,
            },
            alerts: EffectiveAlerts {
                budget: p.alert_budget,
            },
            defrag: EffectiveDefrag {
                policy: p.defrag_policy.name(),
            },
            sensor: p.sensor_name.clone().map(|name| EffectiveSensor { name }),
            kafka: p.kafka.as_ref().map(|k| EffectiveKafka {
                url: k.url.clone(),
                wait: k.wait.map(dur),
                // secrets are not printed
                options: k
                    .options
                    .iter()
                    .map(|(key, v)| {
                        let secret = key.contains("password") || key.contains("secret");
                        (key.clone(), if secret { "***".into() } else { v.clone() })
                    })
                    .collect(),
            }),
        }
    }
}

/// The line of the `nth` occurrence of `needle` outside comments.
fn locate(text: &str, needle: &str, nth: usize) -> Option<usize> {
    text.match_indices(needle)
        .filter(|(at, _)| {
            let line_start = text[..*at].rfind('\n').map_or(0, |i| i + 1);
            !text[line_start..*at].contains('#')
        })
        .nth(nth)
        .map(|(at, _)| line_of(text, at))
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests;
