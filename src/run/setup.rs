//! What a run needs before its first record, and the run itself: the policy, inputs and filter
//! checked, the output, evidence capture, metrics endpoint and capture handles opened, root given
//! up, the engine shape chosen (one worker or several, replay or live), the reload wired, and
//! the end of the run accounted. `main.rs` parses the flags and calls these.

use crate::capture::filter::{default_expression, OfflineFilter};
use crate::capture::live::{list_interfaces, Live};
use crate::capture::replay::expand_inputs;
use crate::cli::{Cli, InventoryArgs, VerifyArgs};
use crate::engine::pool::Pool;
use crate::engine::{Engine, EngineConfig, FrameEngine};
use crate::metrics::Exporter;
use crate::net::{linktype, Timestamp};
use crate::output::writer::{Mode, Output, QUEUE_RECORDS, QUEUE_RECORDS_REPLAY};
use crate::output::{inventory, Discard};
use crate::report::Progress;
use crate::run::live_workers::LiveWorkers;
use crate::run::reload::{Reloader, Reloading};
use crate::run::{self, live, open, replay, RunError};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

pub fn monitor(cli: &Cli) -> Result<(), RunError> {
    if cli.list_interfaces {
        for (name, desc, up) in list_interfaces()? {
            println!("{name}\t{}\t{desc}", if up { "up" } else { "down" });
        }
        return Ok(());
    }
    let policy = cli.policy.load()?;
    if cli.print_filter {
        println!("{}", default_expression(&policy.ports, linktype::ETHERNET));
        return Ok(());
    }
    // Everything the user gave is checked before the first record is written.
    let inputs = expand_inputs(&cli.read)?;
    let mut filter = match (cli.filter_expression(), &cli.interface) {
        (Some(expr), None) => Some(OfflineFilter::new(&expr)?),
        _ => None,
    };
    if let Some(user) = &cli.user {
        crate::privileges::check_user(user).map_err(RunError::NoSuchUser)?;
    }
    let (stop, reopen) = run::signals()?;
    let sink = open::sink(cli, &policy)?;
    let format = open::formatter(cli, &policy);
    let mut evidence = open::evidence(cli, run::hup_flag()?)?;
    let cfg = cli.engine_config(policy);
    let workers = usize::from(cli.workers);
    let live = match &cli.interface {
        Some(iface) => Some(Live::open_group(
            &cli.live_options(iface, &cfg.policy.ports),
            workers,
        )?),
        None => None,
    };
    // bound before root is given up (a port below 1024), checked before anything is written
    let metrics = cli
        .metrics
        .map(|addr| {
            let name = open::observer(cli, &cfg.policy).hostname;
            Exporter::start(addr, name).map_err(|source| RunError::Metrics { addr, source })
        })
        .transpose()?
        .map(|e| e.shared());
    // Capture handles, output and metrics are open: root is no longer needed.
    if let Some(user) = &cli.user {
        crate::privileges::drop_to(user).map_err(RunError::Privileges)?;
    }
    let (mode, queue) = match live {
        Some(_) => (Mode::DropWhenFull, QUEUE_RECORDS),
        None => (
            Mode::Lossless,
            sink.replay_queue().unwrap_or(QUEUE_RECORDS_REPLAY),
        ),
    };
    let mut out = Output::start(format, sink, mode, queue, Some(reopen));
    out.watch_stop(Arc::clone(&stop));
    // SIGHUP also reloads the policy; `--metrics` sees every stats record and every reload
    let args = cli.policy.clone();
    let mut reloader = Reloader::new(run::hup_flag()?, Box::new(move || args.load()));
    if let Some(m) = &metrics {
        let tap = Arc::clone(m);
        out.tap_stats(Box::new(move |r, sink, queued| {
            tap.publish(r, sink, queued)
        }));
        let on = Arc::clone(m);
        reloader = reloader.on_reload(Box::new(move |ts, ok| on.reloaded(ts, ok)));
    }
    let started = Instant::now();
    let is_live = live.is_some();
    let clock = live::WallClock;
    let interval = cli.stats_interval;
    let (mut engine, result): (Box<dyn FrameEngine>, _) = match live {
        Some(mut sockets) if sockets.len() == 1 => {
            let mut capture = sockets.remove(0);
            tracing::info!(
                iface = capture.iface(),
                linktype = capture.linktype(),
                "capturing"
            );
            let mut engine = Engine::new(cfg);
            if let Some(ev) = evidence.take() {
                engine.set_evidence(ev);
            }
            let engine = Reloading::new(Box::new(engine), reloader);
            let mut engine = run::CountLimit::new(Box::new(engine), cli.count, Arc::clone(&stop));
            let r = live::capture(&mut capture, &clock, interval, &stop, &mut engine, &mut out);
            (Box::new(engine), r)
        }
        Some(sockets) => {
            let iface = sockets[0].iface().to_owned();
            tracing::info!(iface, workers = sockets.len(), "capturing");
            let mut lw = LiveWorkers::new(cfg, &iface, sockets.len());
            lw.set_reloader(reloader);
            let sources = sockets
                .into_iter()
                .map(|s| Box::new(s) as Box<dyn live::FrameSource + Send>)
                .collect();
            let r = lw.capture(sources, &clock, interval, &stop, &mut out);
            (Box::new(lw), r)
        }
        None => {
            let engine: Box<dyn FrameEngine> = if workers > 1 {
                Box::new(Pool::new(cfg, workers))
            } else {
                let mut engine = Engine::new(cfg);
                if let Some(ev) = evidence.take() {
                    engine.set_evidence(ev);
                }
                Box::new(engine)
            };
            let engine = Box::new(Reloading::new(engine, reloader));
            let mut engine: Box<dyn FrameEngine> =
                Box::new(run::CountLimit::new(engine, cli.count, Arc::clone(&stop)));
            tracing::info!(inputs = inputs.len(), workers, "replaying");
            tracing::debug!(filter = ?cli.filter_expression(), count = ?cli.count, "replay settings");
            let progress = Progress::new(replay::total_size(&inputs), cli.quiet);
            let filter = filter.as_mut();
            let r =
                replay::replay_all(&inputs, filter, &stop, engine.as_mut(), &mut out, &progress);
            progress.finish();
            (engine, r.map(|()| None))
        }
    };
    // Whatever happened, what was decoded is written, with the final counters, unless the
    // input could not even be opened (nothing was read, so there is nothing to account for).
    let result = match result {
        Err(e) if engine.packets() == 0 => return Err(e.into()),
        r => r,
    };
    let (now, counters) = match &result {
        Ok(Some(c)) => (Timestamp::now(), Some(*c)),
        _ if is_live => (Timestamp::now(), None),
        // a replay is timestamped by its last packet; one stopped before any came, by the clock
        _ if engine.packets() == 0 => (Timestamp::now(), None),
        _ => (engine.last_ts(), None),
    };
    let line = run::finish(engine.as_mut(), out, now, counters, started)?;
    result?;
    if !cli.quiet {
        eprintln!("{line}");
    }
    Ok(())
}

/// `bjnp-watch inventory`: replay, then print the printers seen.
pub fn inventory(args: &InventoryArgs) -> Result<(), RunError> {
    let cfg = EngineConfig {
        policy: args.policy.load()?,
        ..EngineConfig::default()
    };
    let inputs = expand_inputs(&args.read)?;
    let mut filter = args.filter.as_deref().map(OfflineFilter::new).transpose()?;
    let mut engine = Engine::new(cfg);
    // The records themselves are not wanted here, only the inventory they build.
    let mut sink = Discard::default();
    let stop = AtomicBool::new(false);
    let quiet = Progress::new(None, true);
    replay::replay_all(
        &inputs,
        filter.as_mut(),
        &stop,
        &mut engine,
        &mut sink,
        &quiet,
    )?;
    engine.finish(&mut sink);
    let report = inventory::render(&engine.inventory(), args.json);
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(report.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| RunError::from_write(e, RunError::WriteInventory))
}

/// `bjnp-watch verify`: the report, and its verdict as the exit status.
pub fn verify(args: &VerifyArgs) -> ExitCode {
    use crate::run::verify::{self, Evidence, VerifyError};
    let run = || -> Result<u8, VerifyError> {
        let policy = args.policy.load().map_err(RunError::from)?;
        let (stop, _) = run::signals()?;
        let evidence = match (&args.interface, &args.before, &args.after) {
            (Some(iface), _, _) => Evidence::Live {
                options: crate::capture::live::LiveOptions {
                    iface: iface.clone(),
                    promisc: true,
                    snaplen: 65535,
                    buffer_size: 64 << 20,
                    filter: args.filter.clone(),
                    ports: policy.ports.clone(),
                    timeout_ms: 200,
                },
                duration: args.duration.unwrap_or_default(),
            },
            (None, Some(b), Some(a)) => Evidence::BeforeAfter(b, a),
            _ if !args.records.is_empty() => Evidence::Records(&args.records),
            _ => Evidence::Captures(&args.read),
        };
        let filter = args.filter.as_deref().filter(|_| args.interface.is_none());
        let report = verify::verify(evidence, filter, &policy, args.change_at, &stop)?;
        verify::write(&report, args.format, args.output.as_deref())?;
        Ok(report.overall.exit_code())
    };
    match run() {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("bjnp-watch: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
