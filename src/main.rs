//! `bjnp-watch`: wires a capture source, the engine and the output stage together.

use bjnp_watch::capture::filter::OfflineFilter;
use bjnp_watch::capture::live::{list_interfaces, Live, LiveOptions};
use bjnp_watch::capture::replay::{expand_inputs, replay_reporting};
use bjnp_watch::capture::CaptureError;
use bjnp_watch::capture::Source;
use bjnp_watch::cli::{Cli, Command, InventoryArgs, PolicyArgs};
use bjnp_watch::detect::policy::Policy;
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::event::{Body, Origin, Record, Stats, Timestamp};
use bjnp_watch::flow::FlowConfig;
use bjnp_watch::health::{iface_rx_packets, SilenceWatch};
use bjnp_watch::output::format::{Formatter, Observer};
use bjnp_watch::output::sink::{LineSink, Syslog, Transport};
use bjnp_watch::output::writer::{Mode, Output, QUEUE_RECORDS, QUEUE_RECORDS_REPLAY};
use bjnp_watch::output::{Discard, RecordSink};
use bjnp_watch::report::{summary, Progress};
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse_checked();
    let result = match &cli.command {
        Some(Command::Inventory(args)) => inventory(args),
        None => run(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Quiet) => ExitCode::SUCCESS,
        Err(Failure::Error(msg, code)) => {
            eprintln!("bjnp-watch: error: {msg}");
            ExitCode::from(code)
        }
    }
}

enum Failure {
    /// The reader of our output went away (`| head`): stop quietly, like any filter.
    Quiet,
    Error(String, u8),
}

impl From<CaptureError> for Failure {
    fn from(e: CaptureError) -> Self {
        Failure::Error(e.to_string(), e.exit_code() as u8)
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    if cli.list_interfaces {
        for (name, desc, up) in list_interfaces()? {
            println!("{name}\t{}\t{desc}", if up { "up" } else { "down" });
        }
        return Ok(());
    }
    let policy = load_policy(&cli.policy)?;
    if cli.print_filter {
        println!(
            "{}",
            bjnp_watch::capture::filter::default_expression(
                &policy.ports,
                bjnp_watch::net::linktype::ETHERNET
            )
        );
        return Ok(());
    }
    let cfg = EngineConfig {
        policy,
        flow: FlowConfig {
            max_flows: cli.max_flows as usize,
            ..FlowConfig::default()
        },
        prefilter: !cli.no_prefilter,
        ..EngineConfig::default()
    };
    // Everything the user gave is checked before the first record is written.
    let inputs = expand_inputs(&cli.read)?;
    let mut filter = match (&cli.filter, cli.interface.is_some()) {
        (Some(expr), false) => Some(OfflineFilter::new(expr)?),
        _ => None,
    };
    if let Some(user) = &cli.user {
        match nix::unistd::User::from_name(user) {
            Ok(Some(_)) => {}
            _ => return Err(Failure::Error(format!("no such user '{user}' (-Z)"), 2)),
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop; a second one, while the first is still being
        // honoured (say a replay blocked reading an idle pipe), exits at once with status 1.
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .map_err(|e| Failure::Error(format!("cannot install signal handler: {e}"), 1))?;
    }
    // SIGHUP reopens the output file; for any other sink it is ignored rather than fatal.
    let reopen = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reopen))
        .map_err(|e| Failure::Error(format!("cannot install signal handler: {e}"), 1))?;

    let sink = open_sink(cli)?;
    let mut engine = Engine::new(cfg);
    let live = match &cli.interface {
        Some(iface) => Some(open_live(cli, iface, &engine)?),
        None => None,
    };
    // Capture handle and output are open: root is no longer needed.
    if let Some(user) = &cli.user {
        bjnp_watch::privileges::drop_to(user).map_err(|e| Failure::Error(e, 1))?;
    }
    let observer = observer(cli);
    let (mode, queue) = if live.is_some() {
        (Mode::DropWhenFull, QUEUE_RECORDS)
    } else {
        (Mode::Lossless, QUEUE_RECORDS_REPLAY)
    };
    let mut out = Output::start(
        Formatter::new(cli.format, observer),
        sink,
        mode,
        queue,
        Some(reopen),
    );
    let started = Instant::now();
    let is_live = live.is_some();
    let result = match live {
        Some(capture) => capture_live(cli, capture, &stop, &mut engine, &mut out),
        None => {
            let progress = Progress::new(total_size(&inputs), cli.quiet);
            let r = replay_all(
                &inputs,
                filter.as_mut(),
                &stop,
                &mut engine,
                &mut out,
                &progress,
            );
            progress.finish();
            r.map(|()| None)
        }
    };
    // Whatever happened, what was decoded is written, with the final counters, unless the
    // input could not even be opened (nothing was read, so there is nothing to account for).
    if result.is_err() && engine.packets() == 0 {
        drop(out);
        return result.map(|_| ()).map_err(Failure::from);
    }
    // Capture is over: the records of flows ending now and the final stats are not dropped.
    out.lossless_from_now();
    engine.finish(&mut out);
    let (now, pcap_stats) = match &result {
        Ok(Some(stats)) => (Timestamp::now(), Some(*stats)),
        _ if is_live => (Timestamp::now(), None),
        _ => (engine.last_ts(), None),
    };
    let stats = engine.stats_record(now, pcap_stats);
    let line = match &stats.body {
        Body::Stats(st) => summary_of(st, started.elapsed()),
        _ => String::new(),
    };
    out.emit(stats);
    if let Err(e) = out.finish() {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Err(Failure::Quiet);
        }
        return Err(Failure::Error(format!("cannot write records: {e}"), 1));
    }
    if result.is_ok() && !cli.quiet {
        eprintln!("{line}");
    }
    result.map(|_| ()).map_err(Failure::from)
}

fn summary_of(st: &Stats, elapsed: Duration) -> String {
    summary(
        st.capture.packets,
        st.capture.bytes,
        st.flow.created,
        st.detect.alerts,
        st.output.records,
        elapsed,
    )
}

/// The output sink named on the command line, opened now so a bad path fails before capture.
fn open_sink(cli: &Cli) -> Result<Box<dyn Transport>, Failure> {
    if let Some(target) = &cli.syslog {
        return Ok(Box::new(Syslog::new(
            target.clone(),
            cli.syslog_facility,
            &observer(cli).hostname,
        )));
    }
    match &cli.output {
        Some(path) => LineSink::file(path)
            .map(|s| Box::new(s) as Box<dyn Transport>)
            .map_err(|e| {
                Failure::Error(format!("cannot open output '{}': {e}", path.display()), 2)
            }),
        None => Ok(Box::new(LineSink::stdout())),
    }
}

fn observer(cli: &Cli) -> Observer {
    let mut o = Observer::local();
    if let Some(name) = &cli.sensor_name {
        o.hostname = bjnp_watch::output::format::printable_ascii(name, 255);
    }
    o
}

/// Bytes of all inputs, for the progress bar; unknown when one of them is stdin.
fn total_size(inputs: &[PathBuf]) -> Option<u64> {
    inputs
        .iter()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        })
        .sum()
}

fn load_policy(args: &PolicyArgs) -> Result<Policy, Failure> {
    Policy::load(args.policy.as_deref(), &args.shorthands())
        .map_err(|e| Failure::Error(e.to_string(), 2))
}

/// Reads every input in order into one engine; stops early on a signal or a dead sink.
fn replay_all(
    inputs: &[PathBuf],
    mut filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    engine: &mut Engine,
    sink: &mut dyn RecordSink,
    progress: &Progress,
) -> Result<(), CaptureError> {
    let mut done_before = 0u64;
    // Both callbacks below need the packet count; the engine is borrowed by the first.
    let packets = std::cell::Cell::new(engine.packets());
    for path in inputs {
        engine.set_source(Source::File(path.to_string_lossy().into()));
        // A pipe may pause for a long time (`tcpdump -w - | bjnp-watch -r -`): what a packet
        // produced is handed to the output at once instead of waiting for a full batch.
        let streamed = std::fs::metadata(path).map_or(true, |m| !m.is_file());
        let mut at = 0u64;
        let read = replay_reporting(
            path,
            filter.as_deref_mut(),
            stop,
            &mut |frame, passed| {
                packets.set(packets.get() + 1);
                if passed {
                    engine.process(frame, sink);
                } else {
                    engine.count_filtered(frame);
                }
                if streamed {
                    sink.commit();
                }
                // Nobody reads our output any more (`| head`): stop reading input too.
                if sink.failed() {
                    stop.store(true, Ordering::Relaxed);
                }
            },
            &mut |consumed| {
                at = consumed;
                progress.update(done_before + consumed, packets.get());
            },
        )?;
        done_before += at;
        progress.update(done_before, engine.packets());
        if read.interrupted || sink.failed() {
            break;
        }
    }
    Ok(())
}

/// `bjnp-watch inventory`: replay, then print the printers seen.
fn inventory(args: &InventoryArgs) -> Result<(), Failure> {
    let cfg = EngineConfig {
        policy: load_policy(&args.policy)?,
        ..EngineConfig::default()
    };
    let inputs = expand_inputs(&args.read)?;
    let mut filter = args.filter.as_deref().map(OfflineFilter::new).transpose()?;
    let stop = AtomicBool::new(false);
    let mut engine = Engine::new(cfg);
    // The records themselves are not wanted here, only the inventory they build.
    let mut sink = Discard::default();
    let progress = Progress::new(None, true);
    replay_all(
        &inputs,
        filter.as_mut(),
        &stop,
        &mut engine,
        &mut sink,
        &progress,
    )?;
    engine.finish(&mut sink);
    let report = bjnp_watch::output::inventory::render(&engine.inventory(), args.json);
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(report.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Failure::Quiet),
        Err(e) => Err(Failure::Error(
            format!("cannot write the inventory: {e}"),
            1,
        )),
        Ok(()) => Ok(()),
    }
}

fn open_live(cli: &Cli, iface: &str, engine: &Engine) -> Result<Live, CaptureError> {
    let live = Live::open(&LiveOptions {
        iface: iface.to_owned(),
        promisc: !cli.no_promisc,
        snaplen: cli.snaplen.unwrap_or(65535),
        buffer_size: cli.buffer_size.unwrap_or(64).saturating_mul(1 << 20),
        filter: cli.filter.clone(),
        ports: engine.ports().clone(),
        timeout_ms: 200,
    })?;
    tracing::info!(iface, linktype = live.linktype(), "capturing");
    Ok(live)
}

/// How long the live loop sleeps in `poll` when the link is quiet: the latency of a stop
/// request, a stats record or a flow timeout on an idle link.
const POLL_MS: u16 = 200;

/// Live capture until SIGINT/SIGTERM, with a `stats` record every interval and a warning when
/// the capture goes silent. Returns libpcap's final counters.
fn capture_live(
    cli: &Cli,
    mut live: Live,
    stop: &Arc<AtomicBool>,
    engine: &mut Engine,
    sink: &mut dyn RecordSink,
) -> Result<Option<(u64, u64, u64)>, CaptureError> {
    let iface = cli.interface.clone().unwrap_or_default();
    engine.set_source(Source::Iface(iface.as_str().into()));
    let interval = Duration::from_secs(cli.stats_interval);
    let mut next_stats = Instant::now() + interval;
    let mut silence = SilenceWatch::new(engine.packets(), iface_rx_packets(&iface));
    while !stop.load(Ordering::Relaxed) {
        let n = if live.wait(POLL_MS) {
            live.dispatch(stop, &mut |frame| engine.process(frame, sink))?
        } else {
            0
        };
        if n == 0 {
            engine.tick(Timestamp::now(), sink);
        }
        if !interval.is_zero() && Instant::now() >= next_stats {
            next_stats += interval;
            let now = Timestamp::now();
            sink.emit(engine.stats_record(now, live.stats()));
            if let Some(w) = silence.on_interval(
                engine.packets(),
                iface_rx_packets(&iface),
                cli.stats_interval,
            ) {
                tracing::warn!("{}", w.message);
                sink.emit(Record {
                    timestamp: now,
                    flow_id: None,
                    origin: Origin::Iface(iface.as_str().into()),
                    endpoints: None,
                    body: Body::Warning(Box::new(w)),
                });
            }
        }
        sink.commit();
        if sink.failed() {
            break;
        }
    }
    live.drain(&mut |frame| engine.process(frame, sink));
    Ok(live.stats())
}
