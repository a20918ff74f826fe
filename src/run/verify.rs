//! `verify`'s run: gathers the evidence (captures replayed, an interface watched for a while,
//! or the sensor's EVE records read back), has the verdicts made, writes the report. Its exit
//! status is the verdict's.

use super::{live, replay, RunError};
use crate::capture::filter::OfflineFilter;
use crate::capture::live::{Live, LiveOptions};
use crate::capture::replay::expand_inputs;
use crate::config::Policy;
use crate::engine::{Engine, EngineConfig};
use crate::net::Timestamp;
use crate::report::Progress;
use crate::verify::evidence::EveError;
use crate::verify::render::{self, Format};
use crate::verify::{judge, split, Collector, Inputs, Report};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The exit status of a verification that could not run (neither pass nor fail).
pub const EXIT_COULD_NOT_RUN: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("{}: line {line}: {source}", path.display())]
    Records {
        path: PathBuf,
        line: u64,
        source: EveError,
    },
    #[error("cannot read '{}': {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write the report: {0}")]
    Write(io::Error),
}

impl VerifyError {
    pub fn exit_code(&self) -> u8 {
        match self {
            VerifyError::Run(e) if e.exit_code() == super::exit::USAGE => super::exit::USAGE,
            VerifyError::Run(RunError::OutputClosed) => super::exit::OK,
            VerifyError::Records { .. } | VerifyError::Read { .. } => super::exit::USAGE,
            VerifyError::Run(_) | VerifyError::Write(_) => EXIT_COULD_NOT_RUN,
        }
    }
}

/// Where the evidence comes from.
pub enum Evidence<'a> {
    Captures(&'a [PathBuf]),
    Records(&'a [PathBuf]),
    /// Two inputs, each a capture or an EVE file (told apart by their first byte).
    BeforeAfter(&'a Path, &'a Path),
    Live {
        options: LiveOptions,
        duration: Duration,
    },
}

/// The engine's settings for a verification: every attempt keeps its `flow` record (a campaign
/// counts them, but the verdict needs each printer's).
fn config(policy: &Policy) -> EngineConfig {
    let mut policy = policy.clone();
    policy.log_folded_flows = true;
    EngineConfig {
        policy,
        ..EngineConfig::default()
    }
}

/// Replays captures into a collector.
pub fn from_captures(
    inputs: &[PathBuf],
    filter: Option<&str>,
    policy: &Policy,
    stop: &AtomicBool,
) -> Result<Collector, RunError> {
    let inputs = expand_inputs(inputs)?;
    let mut filter = filter.map(OfflineFilter::new).transpose()?;
    let mut engine = Engine::new(config(policy));
    let mut c = Collector::default();
    let progress = Progress::new(replay::total_size(&inputs), false);
    replay::replay_all(
        &inputs,
        filter.as_mut(),
        stop,
        &mut engine,
        &mut c,
        &progress,
    )?;
    progress.finish();
    engine.finish(&mut c);
    c.packets = engine.packets();
    Ok(c)
}

/// Reads EVE JSON records (several files in order, '-' for stdin). A last line cut mid-record
/// (the sensor was writing it) is skipped with a warning; any other bad line is an error.
pub fn from_records(paths: &[PathBuf]) -> Result<Collector, VerifyError> {
    let mut c = Collector::default();
    for path in paths {
        let read_err = |source| VerifyError::Read {
            path: path.clone(),
            source,
        };
        let reader: Box<dyn BufRead> = if path == Path::new("-") {
            Box::new(io::BufReader::new(io::stdin()))
        } else {
            Box::new(io::BufReader::new(
                std::fs::File::open(path).map_err(read_err)?,
            ))
        };
        records_into(&mut c, path, reader)?;
    }
    Ok(c)
}

fn records_into(
    c: &mut Collector,
    path: &Path,
    mut r: Box<dyn BufRead>,
) -> Result<(), VerifyError> {
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = r
            .read_until(b'\n', &mut buf)
            .map_err(|source| VerifyError::Read {
                path: path.to_owned(),
                source,
            })?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let complete = buf.last() == Some(&b'\n');
        let text = String::from_utf8_lossy(&buf);
        if let Err(source) = c.eve_line(&text) {
            if !complete {
                eprintln!(
                    "bjnp-watch: warning: {}: line {line} ends mid-record (still being written?): skipped",
                    path.display()
                );
                return Ok(());
            }
            return Err(VerifyError::Records {
                path: path.to_owned(),
                line,
                source,
            });
        }
    }
}

/// A capture or an EVE file: pcap and pcapng start with binary magic, EVE with `{`.
fn is_records(path: &Path) -> Result<bool, VerifyError> {
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|source| VerifyError::Read {
            path: path.to_owned(),
            source,
        })?;
    Ok(head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{'))
}

fn from_file(
    path: &Path,
    filter: Option<&str>,
    policy: &Policy,
    stop: &AtomicBool,
) -> Result<Collector, VerifyError> {
    if is_records(path)? {
        from_records(&[path.to_owned()])
    } else {
        Ok(from_captures(&[path.to_owned()], filter, policy, stop)?)
    }
}

/// Watches an interface for `duration` (or until INT/TERM) into a collector.
pub fn from_live(
    options: &LiveOptions,
    duration: Duration,
    policy: &Policy,
    stop: &Arc<AtomicBool>,
) -> Result<Collector, RunError> {
    let mut capture = Live::open(options)?;
    let mut engine = Engine::new(config(policy));
    let mut c = Collector::default();
    // The watch ends when the time is up: a timer thread raises the same flag a signal would.
    let timer_stop = Arc::clone(stop);
    let deadline = std::time::Instant::now() + duration;
    let timer = std::thread::spawn(move || {
        while std::time::Instant::now() < deadline && !timer_stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50).min(deadline - std::time::Instant::now()));
        }
        timer_stop.store(true, Ordering::Relaxed);
    });
    eprintln!(
        "bjnp-watch: watching {} for {}",
        options.iface,
        humantime::format_duration(duration)
    );
    let r = live::capture(&mut capture, &live::WallClock, 0, stop, &mut engine, &mut c);
    stop.store(true, Ordering::Relaxed);
    let _ = timer.join();
    r?;
    engine.finish(&mut c);
    c.packets = engine.packets();
    Ok(c)
}

/// The whole verification: evidence, verdicts, the report written. Returns the report (its
/// `overall` is the exit status).
pub fn verify(
    evidence: Evidence<'_>,
    filter: Option<&str>,
    policy: &Policy,
    change_at: Option<Timestamp>,
    stop: &Arc<AtomicBool>,
) -> Result<Report, VerifyError> {
    let (before, after) = match evidence {
        Evidence::Captures(inputs) => (None, from_captures(inputs, filter, policy, stop)?),
        Evidence::Records(paths) => (None, from_records(paths)?),
        Evidence::BeforeAfter(b, a) => (
            Some(from_file(b, filter, policy, stop)?),
            from_file(a, filter, policy, stop)?,
        ),
        Evidence::Live { options, duration } => {
            (None, from_live(&options, duration, policy, stop)?)
        }
    };
    let (before, after) = match (before, change_at) {
        (None, Some(at)) => {
            let (b, a) = split(after, at);
            (Some(b), a)
        }
        (b, _) => (b, after),
    };
    Ok(judge(&Inputs {
        policy,
        before: before.as_ref(),
        after: &after,
        change_at,
    }))
}

/// Writes the report to `output` (a file, replaced whole) or stdout.
pub fn write(report: &Report, format: Format, output: Option<&Path>) -> Result<(), VerifyError> {
    let text = render::render(report, format);
    match output {
        Some(path) => {
            // Written beside the target and renamed: a reader never sees half a report.
            let tmp = path.with_extension("tmp-bjnp-watch");
            std::fs::write(&tmp, text.as_bytes())
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(VerifyError::Write)
        }
        None => {
            let mut out = io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(VerifyError::Write),
            }
        }
    }
}
