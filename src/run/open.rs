//! What a run opens and checks before its first record, from the flags and the policy: the
//! sink (file, stdout, syslog or Kafka), the formatter and who signs the records, the evidence
//! capture (`-w`), and `--check-config`'s dry run of all of it.

use crate::cli::Cli;
use crate::config::Policy;
use crate::output::format::{printable_ascii, Observer};
use crate::output::sink::{
    ConnectError, Kafka, KafkaConfig, KafkaTarget, LineSink, Syslog, Transport,
};
use crate::run::RunError;
use std::path::PathBuf;

/// The evidence capture of `-w`, created now so a bad path fails before capture starts;
/// SIGHUP raises `reopen`.
pub fn evidence(
    cli: &Cli,
    reopen: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Result<Option<crate::engine::evidence::Evidence>, RunError> {
    use crate::output::pcap::{PcapWriter, Rotation};
    let Some(path) = &cli.write else {
        return Ok(None);
    };
    let rotation = Rotation {
        size: cli.write_size,
        every_ns: cli.write_every.map(|s| s.saturating_mul(1_000_000_000)),
    };
    let w = PcapWriter::create(path, rotation).map_err(|source| RunError::OpenOutput {
        path: path.clone(),
        source,
    })?;
    Ok(Some(crate::engine::evidence::Evidence::new(
        w,
        cli.write_alerted,
        Some(reopen),
    )))
}

/// Who writes the records: `--sensor-name`, else the policy file's `[sensor] name`, else
/// the host name.
pub fn observer(cli: &Cli, policy: &Policy) -> Observer {
    let mut o = Observer::local();
    if let Some(name) = cli.sensor_name.as_ref().or(policy.sensor_name.as_ref()) {
        o.hostname = printable_ascii(name, 255);
    }
    o
}

/// The record formatter: EVE names the sensor (`host`) when a name was given or the records
/// go to Kafka, where a fleet's records meet.
pub fn formatter(cli: &Cli, policy: &Policy) -> crate::output::format::Formatter {
    let f = crate::output::format::Formatter::new(cli.format, observer(cli, policy));
    let named = cli.sensor_name.is_some() || policy.sensor_name.is_some();
    if named || uses_kafka(cli, policy) {
        f.with_eve_host()
    } else {
        f
    }
}

/// Records go to Kafka: `--kafka`, or the policy file's `[kafka]` when no other sink is on
/// the command line.
fn uses_kafka(cli: &Cli, policy: &Policy) -> bool {
    cli.kafka.is_some() || (policy.kafka.is_some() && cli.output.is_none() && cli.syslog.is_none())
}

/// The Kafka settings in force: the command line's over the policy file's.
pub fn kafka_config(cli: &Cli, policy: &Policy) -> Result<Option<KafkaConfig>, RunError> {
    use RunError;
    if !uses_kafka(cli, policy) {
        return Ok(None);
    }
    let file = policy.kafka.clone().unwrap_or_default();
    let target = match &cli.kafka {
        Some(t) => t.clone(),
        None => KafkaTarget::parse(&file.url)
            .map_err(|e| RunError::KafkaSettings(format!("[kafka] url: {e}")))?,
    };
    let mut options = file.options;
    for (k, v) in &cli.kafka_options {
        match options.iter_mut().find(|(have, _)| have == k) {
            Some(o) => o.1 = v.clone(),
            None => options.push((k.clone(), v.clone())),
        }
    }
    let connect_wait = cli
        .kafka_wait
        .map(std::time::Duration::from_secs)
        .or(file.wait)
        .unwrap_or(std::time::Duration::from_secs(10));
    let cfg = KafkaConfig {
        target,
        options,
        connect_wait,
    };
    cfg.check().map_err(RunError::KafkaSettings)?;
    Ok(Some(cfg))
}

/// The sink named on the command line (or the policy file's Kafka), opened now so a bad
/// path or an unreachable cluster fails before capture.
pub fn sink(cli: &Cli, policy: &Policy) -> Result<Box<dyn Transport>, RunError> {
    if let Some(cfg) = kafka_config(cli, policy)? {
        return Kafka::connect(&cfg)
            .map(|k| Box::new(k) as Box<dyn Transport>)
            .map_err(|e| match e {
                ConnectError::Settings(e) => RunError::KafkaSettings(e),
                ConnectError::Unreachable(e) => RunError::KafkaUnreachable(e),
            });
    }
    if let Some(target) = &cli.syslog {
        let host = observer(cli, policy).hostname;
        return Ok(Box::new(Syslog::new(
            target.clone(),
            cli.syslog_facility,
            &host,
        )));
    }
    match &cli.output {
        Some(path) => LineSink::file(path)
            .map(|s| Box::new(s) as Box<dyn Transport>)
            .map_err(|source| RunError::OpenOutput {
                path: path.clone(),
                source,
            }),
        None => Ok(Box::new(LineSink::stdout())),
    }
}

/// `--check-config`: everything a run would check before its first record, without
/// capturing or writing anything; the effective settings and policy on success.
pub fn check_config(cli: &Cli) -> Result<String, RunError> {
    use crate::capture::filter::{default_expression, OfflineFilter};
    use crate::capture::{live::list_interfaces, replay::expand_inputs, CaptureError};
    use std::fmt::Write;
    use RunError;
    let policy = cli.policy.load()?;
    let inputs = expand_inputs(&cli.read)?;
    for path in inputs.iter().filter(|p| p.as_os_str() != "-") {
        std::fs::File::open(path).map_err(|source| CaptureError::Open {
            path: path.clone(),
            source,
        })?;
    }
    let filter = cli.filter_expression();
    if let Some(expr) = &filter {
        OfflineFilter::new(expr)?;
    }
    if let Some(iface) = &cli.interface {
        if !list_interfaces()?.iter().any(|(n, _, _)| n == iface) {
            return Err(CaptureError::NoSuchInterface {
                iface: iface.clone(),
            }
            .into());
        }
    }
    if let Some(user) = &cli.user {
        crate::privileges::check_user(user).map_err(RunError::NoSuchUser)?;
    }
    if let Some(path) = &cli.output {
        check_writable(path).map_err(|source| RunError::OpenOutput {
            path: path.clone(),
            source,
        })?;
    }
    let mut s = String::from("configuration OK\n");
    let source = match (&cli.interface, inputs.is_empty()) {
        (Some(i), _) => format!("live on {i}, {} worker(s)", cli.workers),
        (None, false) => format!("replay of {} input(s)", inputs.len()),
        (None, true) => "none given (-r FILE or -i IFACE)".into(),
    };
    let _ = writeln!(s, "# source: {source}");
    let bpf = filter.unwrap_or_else(|| {
        let n = default_expression(&policy.ports, crate::net::linktype::ETHERNET).len();
        format!("the default for the monitored ports ({n} characters: --print-filter shows it)")
    });
    let _ = writeln!(s, "# filter: {bpf}");
    let kafka = kafka_config(cli, &policy)?;
    let out = match (&kafka, &cli.syslog, &cli.output) {
        (Some(k), _, _) => format!("{} (not contacted)", k.describe()),
        (None, Some(t), _) => format!("syslog {t:?}"),
        (None, None, Some(p)) => format!("file {}", p.display()),
        (None, None, None) => "stdout".into(),
    };
    let format = format!("{:?}", cli.format).to_ascii_lowercase();
    let _ = writeln!(s, "# output: {out}, format {format}");
    if let Some(addr) = cli.metrics {
        // the address is checked the way a run would use it: bound, then let go
        std::net::TcpListener::bind(addr).map_err(|source| RunError::Metrics { addr, source })?;
        let _ = writeln!(s, "# metrics: http://{addr}/metrics");
    }
    let _ = writeln!(s, "# max flows: {}", cli.max_flows);
    s.push_str(&policy.effective_toml());
    Ok(s)
}

/// The output file could be opened for appending (an existing file) or created (its
/// directory), without creating or changing anything.
fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    use nix::unistd::{access, AccessFlags};
    let target = if path.exists() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    access(&target, AccessFlags::W_OK).map_err(std::io::Error::from)
}
