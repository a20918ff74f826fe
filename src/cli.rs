//! Command-line interface.

use crate::capture::live::LiveOptions;
use crate::config::{Policy, PolicyError};
use crate::engine::EngineConfig;
use crate::flow::FlowConfig;
use crate::net::PortSet;
use crate::output::format::Format;
use crate::output::sink::{Facility, KafkaTarget, SyslogTarget};
use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  bjnp-watch -r samples/cups-bjnp-print.pcap          replay a capture, JSON lines on stdout
  bjnp-watch -r monday.pcapng -r tuesday.pcap          several files, one flow state, in order
  bjnp-watch -r 'captures/*.pcap' -o eve.json          a glob (quoted), records appended to a file
  tcpdump -w - -i eth0 | bjnp-watch -r -               read a capture from stdin
  sudo bjnp-watch -i eth0 udp port 8611                a filter after the options, as in tcpdump
  sudo bjnp-watch -i eth0 -c 1000                      stop after 1000 packets
  bjnp-watch --check-config --policy site.toml -i eth0   check it all, print the policy, exit
  sudo bjnp-watch -i eth0                              live, default filter: the printer ports
  sudo bjnp-watch -i any -f 'udp port 8611'            live on every interface, own BPF filter
  bjnp-watch -r week.pcap --policy /etc/bjnp-watch.toml   alerts judged against a site policy
  bjnp-watch -r week.pcap --allow 10.1.0.0/28 --printer 10.1.2.30 --blocked-port 9100
  bjnp-watch inventory -r week.pcap                    the printers seen, and who used them
  bjnp-watch verify -r week.pcap --policy site.toml --change-at 2026-11-28T18:00:00Z
                                                       did the firewall change block the ports?
  sudo bjnp-watch -i eth0 --format ecs -o /var/log/bjnp-watch/eve.json   ECS for Filebeat
  sudo bjnp-watch -i eth0 --format cef --syslog tcp://siem.example:514   CEF over syslog
  sudo bjnp-watch -i eth0 --sensor-name bldg2 --kafka kafka://k1:9092,k2:9092/printers
                                                       records to a Kafka topic, named
  bjnp-watch -r evasive.pcap --defrag-policy bsd       put overlapping fragments together as BSD
  sudo bjnp-watch -i eth0 -Z nobody -o /var/log/bjnp-watch/eve.json  drop root once capturing
  sudo bjnp-watch -i eth0 --metrics 127.0.0.1:9611 --stats-interval 15
                                                       counters for Prometheus at /metrics
  sudo kill -HUP $(pidof bjnp-watch)                   reload the policy file, keep every flow
  bjnp-watch --list-interfaces
  tcpdump -i eth0 -w printers.pcap \"$(bjnp-watch --print-filter)\"   the same ports in tcpdump

Monitored ports: TCP and UDP 8610-8614 (Canon MFNP/BJNP; 8611 printing, 8612 scanning),
TCP 9100-9102 (raw printing: PJL, PostScript, PCL), TCP 515 (LPD), TCP 631 (IPP, IPPS) and
UDP 631 (CUPS browsing).

Signals: INT/TERM stop cleanly (records flushed, final stats written); HUP reopens the -o file
and reloads the --policy file (a `reload` record; an invalid file keeps the running policy).

Exit status: 0 done (also after SIGINT/SIGTERM), 1 runtime failure (no permission to capture,
capture or output failed), 2 usage or input error (bad flag, unreadable or corrupt capture
file, unknown interface, bad filter, unknown -Z user, a --metrics address that cannot be bound).";

#[derive(Debug, Parser)]
#[command(
    name = "bjnp-watch",
    version,
    about = "Passive monitor for Canon BJNP/MFNP and raw-printing (port 9100) traffic",
    after_help = EXAMPLES,
    group(ArgGroup::new("source").required(true).multiple(true).args(["read", "interface", "list_interfaces", "print_filter", "check_config"])),
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Replay a pcap or pcapng file ('-' for stdin). Repeat, or give a glob, for several files:
    /// they are read in order with one flow state.
    #[arg(
        short = 'r',
        long = "read",
        value_name = "FILE",
        conflicts_with = "interface"
    )]
    pub read: Vec<PathBuf>,

    /// Capture live on an interface ('any' for all).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// List the interfaces that can be captured, then exit.
    #[arg(long, conflicts_with_all = ["read", "interface"])]
    pub list_interfaces: bool,

    /// Print the default live BPF filter for Ethernet (the monitored ports of the policy, also
    /// inside VLAN tags), then exit: the same filter for tcpdump or a capture appliance.
    #[arg(long, conflicts_with_all = ["read", "interface", "list_interfaces"])]
    pub print_filter: bool,

    /// BPF filter expression (libpcap syntax). Live, it replaces the default filter (the
    /// monitored ports, also inside VLAN tags); on replay, packets it rejects are skipped.
    /// May also be given after the options, as tcpdump takes it: `bjnp-watch -i eth0 udp port 8611`.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// The filter expression as tcpdump takes it: the words after the options.
    #[arg(value_name = "EXPRESSION", conflicts_with = "filter", num_args = 1..)]
    pub expression: Vec<String>,

    /// Stop after COUNT packets (those the filter passed), as tcpdump -c does.
    #[arg(short = 'c', long = "count", value_name = "COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// Check the flags, the policy, the filter, the output and the -Z user, print the
    /// effective policy, and exit: 0 when all is well, 2 otherwise (as `suricata -T`).
    #[arg(long, conflicts_with_all = ["list_interfaces", "print_filter"])]
    pub check_config: bool,

    /// Diagnostics on stderr: -v for progress of the run (info), -vv for debugging. RUST_LOG,
    /// when set, wins.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Write records to FILE (appended) instead of stdout; SIGHUP reopens it (logrotate).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Write the packets of monitored flows to a pcap file (replaced if it exists, as tcpdump
    /// -w does); SIGHUP reopens it. Alert records name the file holding their packets.
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub write: Option<PathBuf>,

    /// With -w: only the flows an alert names, from their first packet.
    #[arg(long, requires = "write")]
    pub write_alerted: bool,

    /// With -w: start the next file (FILE1, FILE2, ...) before one grows past SIZE: millions of
    /// bytes, or with k, m, g (1024-based), as tcpdump -C.
    #[arg(short = 'C', value_name = "SIZE", requires = "write",
          value_parser = crate::output::pcap::parse_size)]
    pub write_size: Option<u64>,

    /// With -w: start the next file every SECS seconds of packet time (as tcpdump -G, with
    /// numbered names).
    #[arg(short = 'G', value_name = "SECS", requires = "write",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub write_every: Option<u64>,

    /// Record format: eve (Suricata-style JSON), ecs (Elastic Common Schema JSON), cef
    /// (ArcSight CEF).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = Format::Eve)]
    pub format: Format,

    /// Send records to syslog instead of stdout: udp://HOST[:PORT], tcp://HOST[:PORT]
    /// (RFC 5424, octet-counted), or unix:///dev/log. The port defaults to 514.
    #[arg(long, value_name = "URL", conflicts_with = "output",
          value_parser = SyslogTarget::parse)]
    pub syslog: Option<SyslogTarget>,

    /// Syslog facility.
    #[arg(long, value_name = "NAME", default_value = "local5", requires = "syslog",
          value_parser = clap::value_parser!(Facility))]
    pub syslog_facility: Facility,

    /// Send records to a Kafka topic instead of stdout: kafka://HOST:PORT[,HOST:PORT...]/TOPIC.
    /// Each record is one message keyed by its flow id (one flow's records stay in order on one
    /// partition); EVE records then carry the sensor's name as `host`. Also `[kafka]` in the
    /// policy file.
    #[arg(long, value_name = "URL", conflicts_with_all = ["output", "syslog"],
          value_parser = KafkaTarget::parse)]
    pub kafka: Option<KafkaTarget>,

    /// A producer setting for --kafka (repeatable), as librdkafka names it:
    /// security.protocol=SASL_SSL, sasl.mechanism=SCRAM-SHA-512, sasl.username=U,
    /// sasl.password=P, ssl.ca.location=/etc/ssl/ca.pem, compression.type=gzip, ...
    #[arg(long = "kafka-option", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub kafka_options: Vec<(String, String)>,

    /// Seconds to wait at start for a Kafka broker to answer before giving up (exit 1)
    /// [default: 10].
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub kafka_wait: Option<u64>,

    /// Live: seconds between `stats` records (0: only at exit). Replays write one at the end.
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub stats_interval: u64,

    /// Name of this sensor in every record's ECS `observer.hostname`, CEF `dvchost` and the
    /// syslog HOSTNAME [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub sensor_name: Option<String>,

    /// Serve the counters of every `stats` record for Prometheus at http://ADDR:PORT/metrics
    /// (OpenMetrics text). Off by default; a loopback address keeps it local
    /// (`--metrics 127.0.0.1:9611`). Live, the figures move with each `--stats-interval`.
    #[arg(long, value_name = "ADDR:PORT")]
    pub metrics: Option<std::net::SocketAddr>,

    /// No progress bar and no summary line on stderr.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// After opening the capture and the output, switch to USER (and its groups) and give up
    /// root, as tcpdump -Z does.
    #[arg(short = 'Z', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Live: do not put the interface into promiscuous mode.
    #[arg(long, requires = "interface")]
    pub no_promisc: bool,

    /// Live: bytes captured per packet [default: 65535].
    #[arg(long, value_name = "BYTES", requires = "interface",
          value_parser = clap::value_parser!(i32).range(64..=262_144))]
    pub snaplen: Option<i32>,

    /// Live: kernel capture buffer in MiB [default: 64]. (tcpdump's -B counts KiB: its
    /// `-B 65536` is `--buffer-size 64` here.)
    #[arg(long, value_name = "MIB", requires = "interface",
          value_parser = clap::value_parser!(i32).range(1..=2047))]
    pub buffer_size: Option<i32>,

    #[command(flatten)]
    pub policy: PolicyArgs,

    /// Maximum number of flows tracked at once (oldest idle flows are evicted beyond it).
    #[arg(long, value_name = "N", default_value_t = 65_536,
          value_parser = clap::value_parser!(u64).range(16..=100_000_000))]
    pub max_flows: u64,

    /// Worker threads that decode, follow flows and analyze them, each with its share of the
    /// flows (a hash of the two addresses) and of --max-flows; detection and output stay one.
    /// Live, each worker has its own capture socket in a kernel fanout group. Replay gives the
    /// same records whatever N (see the README, "Workers").
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub workers: u16,

    /// Internal: decode every packet fully (proves the pre-check changes nothing).
    #[arg(long, hide = true)]
    pub no_prefilter: bool,
}

/// The site policy: a file and/or shorthands (they add to the file).
#[derive(Debug, Clone, Default, Args)]
pub struct PolicyArgs {
    /// Site policy (TOML): monitored and blocked ports, printer inventory, allowed clients,
    /// scan thresholds, suppression window. Without one, every contact is reported.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// A client network (or address) allowed to reach every printer (repeatable).
    #[arg(long, value_name = "CIDR", value_parser = crate::config::parse_net)]
    pub allow: Vec<ipnet::IpNet>,

    /// A printer of the inventory (repeatable): only these may answer on monitored ports.
    #[arg(long = "printer", value_name = "ADDR")]
    pub printers: Vec<std::net::IpAddr>,

    /// A port that must be closed: an established connection to it raises alert 1003
    /// (repeatable).
    #[arg(long = "blocked-port", value_name = "PORT")]
    pub blocked_ports: Vec<u16>,

    /// How the monitored hosts put overlapping IP fragments together, so the datagram
    /// analysed is the one they see: linux (default), first, last or bsd (docs/EVASION.md).
    #[arg(long = "defrag-policy", value_name = "POLICY", value_parser = crate::config::parse_overlap_policy)]
    pub defrag_policy: Option<crate::defrag::OverlapPolicy>,
}

impl PolicyArgs {
    /// The policy file with the shorthands on top, checked.
    pub fn load(&self) -> Result<Policy, PolicyError> {
        Policy::load(self.policy.as_deref(), &self.shorthands())
    }

    pub fn shorthands(&self) -> crate::config::Shorthands {
        crate::config::Shorthands {
            allow: self.allow.clone(),
            printers: self.printers.clone(),
            blocked_ports: self.blocked_ports.clone(),
            defrag_policy: self.defrag_policy,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay captures and print the printers seen: identity, services, and the clients that
    /// used each, first and last seen.
    Inventory(InventoryArgs),
    /// Prove a firewall change from traffic: per printer port, whether clients the policy does
    /// not allow still get through, and whether the allowed ones still print.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Print a shell completion script: `bjnp-watch completions bash > /etc/bash_completion.d/bjnp-watch`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `bjnp-watch man | man -l -`.
    Man,
}

const VERIFY_EXAMPLES: &str = "\
Examples:
  bjnp-watch verify -r after-change.pcap --policy /etc/bjnp-watch.toml
  bjnp-watch verify -r week.pcap --policy site.toml --change-at 2026-11-28T18:00:00Z
  bjnp-watch verify --before monday.pcap --after tuesday.pcap --policy site.toml --format markdown
  bjnp-watch verify --records /var/log/bjnp-watch/eve.json --policy site.toml --change-at 2026-11-28T18:00:00Z --format html -o report.html
  sudo bjnp-watch verify -i eth0 --for 10m --policy site.toml

A row's reachability counts attempts from clients the policy does not allow (on a blocked
port, from anyone): blocked (every attempt failed), open (any answered: a handshake, a SYN-ACK,
a datagram back) or untested (nobody tried: the report says how to test it). Its service
counts the allowed clients: working, broken (their latest connection failed: the change broke
printing) or unused.

Exit status: 0 pass, 1 fail (a port open that should not be, or printing broken),
3 inconclusive (a blocked port untested, no traffic after the change, a printer not used
after the change), 2 usage or input error, 4 the verification could not run (no permission
to capture, capture failed).";

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("evidence").required(true).multiple(true).args(["read", "interface", "records", "before"])))]
pub struct VerifyArgs {
    /// Capture files (pcap/pcapng, '-' for stdin, globs), read in order as one run.
    #[arg(short = 'r', long = "read", value_name = "FILE", conflicts_with_all = ["interface", "records", "before"])]
    pub read: Vec<PathBuf>,

    /// Watch an interface for `--for` and verify what it saw.
    #[arg(short = 'i', long = "interface", value_name = "IFACE", requires = "duration", conflicts_with_all = ["records", "before"])]
    pub interface: Option<String>,

    /// How long to watch with -i ("90s", "10m", "1h").
    #[arg(long = "for", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<std::time::Duration>,

    /// The sensor's own EVE JSON records (repeatable; '-' for stdin), instead of captures.
    #[arg(long = "records", value_name = "FILE", conflicts_with = "before")]
    pub records: Vec<PathBuf>,

    /// Evidence from before the change: a capture or an EVE records file.
    #[arg(long = "before", value_name = "FILE", requires = "after")]
    pub before: Option<PathBuf>,

    /// Evidence from after the change: a capture or an EVE records file.
    #[arg(long = "after", value_name = "FILE", requires = "before")]
    pub after: Option<PathBuf>,

    /// When the change was made (RFC 3339, e.g. 2026-11-28T18:00:00Z, or seconds since the
    /// epoch): the evidence is split there and both sides shown.
    #[arg(long = "change-at", value_name = "TIME", value_parser = parse_change_at, conflicts_with = "before")]
    pub change_at: Option<crate::net::Timestamp>,

    /// BPF filter applied while reading captures.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// Report format.
    #[arg(
        long = "format",
        value_enum,
        value_name = "FORMAT",
        default_value = "table"
    )]
    pub format: crate::verify::render::Format,

    /// Write the report here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

fn parse_change_at(s: &str) -> Result<crate::net::Timestamp, String> {
    crate::verify::parse_time(s).ok_or_else(|| {
        format!(
            "'{s}' is not a time: give RFC 3339 (2026-11-28T18:00:00Z) or seconds since the epoch"
        )
    })
}

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Capture files (pcap/pcapng, '-' for stdin, globs), read in order.
    #[arg(short = 'r', long = "read", value_name = "FILE", required = true)]
    pub read: Vec<PathBuf>,

    /// BPF filter applied while reading.
    #[arg(short = 'f', long = "filter", value_name = "EXPR")]
    pub filter: Option<String>,

    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub policy: PolicyArgs,
}

impl Cli {
    /// The filter the user gave: `-f EXPR`, or the words after the options.
    pub fn filter_expression(&self) -> Option<String> {
        self.filter
            .clone()
            .or_else(|| (!self.expression.is_empty()).then(|| self.expression.join(" ")))
    }

    /// The diagnostics level -v/-vv ask for, when RUST_LOG does not say.
    pub fn log_level(&self) -> &'static str {
        match self.verbose {
            0 => "warn",
            1 => "info",
            _ => "debug",
        }
    }

    /// The engine's settings under `policy`.
    pub fn engine_config(&self, policy: Policy) -> EngineConfig {
        EngineConfig {
            policy,
            flow: FlowConfig {
                max_flows: self.max_flows as usize,
                ..FlowConfig::default()
            },
            prefilter: !self.no_prefilter,
            ..EngineConfig::default()
        }
    }

    /// Live capture on `iface` for the monitored `ports`.
    pub fn live_options(&self, iface: &str, ports: &PortSet) -> LiveOptions {
        LiveOptions {
            iface: iface.to_owned(),
            promisc: !self.no_promisc,
            snaplen: self.snaplen.unwrap_or(65535),
            buffer_size: self.buffer_size.unwrap_or(64).saturating_mul(1 << 20),
            filter: self.filter_expression(),
            ports: ports.clone(),
            timeout_ms: 200,
        }
    }

    /// Parses the command line; usage errors exit with status 2, as clap's own do.
    pub fn parse_checked() -> Cli {
        let cli = Cli::parse();
        if let Err(e) = cli.check() {
            e.exit();
        }
        cli
    }

    /// Cross-flag rules clap's attributes do not express (its `requires` is not applied when
    /// the required group is satisfied by another member).
    pub fn check(&self) -> Result<(), clap::Error> {
        let live_only = [
            ("--snaplen", self.snaplen.is_some()),
            ("--buffer-size", self.buffer_size.is_some()),
            ("--no-promisc", self.no_promisc),
        ];
        if self.write.is_some() && self.workers > 1 {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "-w FILE needs one worker (--workers 1): the packets live with their worker",
            ));
        }
        if self.count.is_some() && self.interface.is_some() && self.workers > 1 {
            return Err(Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "-c COUNT applies to one live worker (--workers 1): each worker's socket sees its own share",
            ));
        }
        if self.interface.is_none() {
            if let Some((flag, _)) = live_only.iter().find(|(_, set)| *set) {
                return Err(Cli::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{flag} applies to live capture only (-i IFACE)"),
                ));
            }
        }
        Ok(())
    }
}

/// `KEY=VALUE` (`--kafka-option`).
fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}
