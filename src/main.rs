//! `bjnp-watch`: wires a capture source, the engine and an output sink together.

use bjnp_watch::capture::filter::OfflineFilter;
use bjnp_watch::capture::live::{list_interfaces, Live, LiveOptions};
use bjnp_watch::capture::replay::{expand_inputs, replay};
use bjnp_watch::capture::CaptureError;
use bjnp_watch::cli::{Cli, Command, InventoryArgs, PolicyArgs};
use bjnp_watch::detect::policy::Policy;
use bjnp_watch::engine::{Engine, EngineConfig, Source};
use bjnp_watch::event::Timestamp;
use bjnp_watch::flow::FlowConfig;
use bjnp_watch::output::json::JsonLines;
use bjnp_watch::output::RecordSink;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
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
    let cfg = EngineConfig {
        policy: load_policy(&cli.policy)?,
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
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // The first signal asks for a clean stop; a second one, while the first is still being
        // honoured (say a replay blocked reading an idle pipe), exits at once with status 1.
        signal_hook::flag::register_conditional_shutdown(sig, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&stop)))
            .map_err(|e| Failure::Error(format!("cannot install signal handler: {e}"), 1))?;
    }
    let live = cli.interface.is_some();
    let writer: Box<dyn Write> = match &cli.output {
        Some(path) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    Failure::Error(format!("cannot open output '{}': {e}", path.display()), 2)
                })?,
        ),
        None => Box::new(io::stdout().lock()),
    };
    let mut sink = JsonLines::new(BufWriter::with_capacity(1 << 16, writer)).line_buffered(live);
    let mut engine = Engine::new(cfg);

    let result = match &cli.interface {
        Some(iface) => capture_live(cli, iface, &stop, &mut engine, &mut sink),
        None => replay_all(&inputs, filter.as_mut(), &stop, &mut engine, &mut sink).map(|()| None),
    };
    // Whatever happened, what was decoded is written, with the final counters, unless the
    // input could not even be opened (nothing was read, so there is nothing to account for).
    if result.is_err() && engine.packets() == 0 {
        return result.map(|_| ()).map_err(Failure::from);
    }
    engine.finish(&mut sink);
    let (now, pcap_stats) = match &result {
        Ok(Some(stats)) => (Timestamp::now(), Some(*stats)),
        _ if live => (Timestamp::now(), None),
        _ => (engine.last_ts(), None),
    };
    let stats = engine.stats_record(now, pcap_stats);
    sink.emit(stats);
    if let Err(e) = sink.flush() {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Err(Failure::Quiet);
        }
        return Err(Failure::Error(format!("cannot write records: {e}"), 1));
    }
    result.map(|_| ()).map_err(Failure::from)
}

fn load_policy(args: &PolicyArgs) -> Result<Policy, Failure> {
    Policy::load(args.policy.as_deref(), &args.shorthands())
        .map_err(|e| Failure::Error(e.to_string(), 2))
}

/// Reads every input in order into one engine; stops early on a signal or a dead sink.
fn replay_all(
    inputs: &[std::path::PathBuf],
    mut filter: Option<&mut OfflineFilter>,
    stop: &AtomicBool,
    engine: &mut Engine,
    sink: &mut JsonLines<BufWriter<Box<dyn Write>>>,
) -> Result<(), CaptureError> {
    for path in inputs {
        engine.set_source(Source::File(path.to_string_lossy().into()));
        let read = replay(path, filter.as_deref_mut(), stop, &mut |frame, passed| {
            if passed {
                engine.process(frame, sink);
            } else {
                engine.count_filtered(frame);
            }
            // Nobody reads our output any more (`| head`): stop reading input too.
            if sink.failed() {
                stop.store(true, Ordering::Relaxed);
            }
        })?;
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
    let mut sink = JsonLines::new(BufWriter::new(Box::new(io::sink()) as Box<dyn Write>));
    replay_all(&inputs, filter.as_mut(), &stop, &mut engine, &mut sink)?;
    engine.finish(&mut sink);
    let report =
        bjnp_watch::output::inventory::render(engine.inventory(), engine.policy(), args.json);
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

/// Live capture until SIGINT/SIGTERM. Returns libpcap's final counters.
fn capture_live(
    cli: &Cli,
    iface: &str,
    stop: &Arc<AtomicBool>,
    engine: &mut Engine,
    sink: &mut JsonLines<BufWriter<Box<dyn Write>>>,
) -> Result<Option<(u64, u64, u64)>, CaptureError> {
    let mut live = Live::open(&LiveOptions {
        iface: iface.to_owned(),
        promisc: !cli.no_promisc,
        snaplen: cli.snaplen.unwrap_or(65535),
        buffer_size: cli.buffer_size.unwrap_or(64).saturating_mul(1 << 20),
        filter: cli.filter.clone(),
        ports: engine.ports().clone(),
        timeout_ms: 200,
    })?;
    tracing::info!(iface, linktype = live.linktype(), "capturing");
    // A read blocked in the kernel does not see the flag: wake it.
    if let Some(breaker) = live.breaker() {
        let watcher_stop = Arc::clone(stop);
        std::thread::spawn(move || {
            while !watcher_stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            breaker.breakloop();
        });
    }
    engine.set_source(Source::Iface(iface.into()));
    while !stop.load(Ordering::Relaxed) {
        let n = live.dispatch(stop, &mut |frame| engine.process(frame, sink))?;
        if n == 0 {
            engine.tick(Timestamp::now(), sink);
        }
        if sink.failed() {
            break;
        }
    }
    live.drain(&mut |frame| engine.process(frame, sink));
    Ok(live.stats())
}
