//! What a person at a terminal sees on stderr during a replay: a progress bar (only when stderr
//! is a terminal) and a one-line summary at the end.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Diagnostics on stderr (`RUST_LOG`, default: warnings), coloured only on a terminal.
/// Diagnostics on stderr at `level` (warn, info, debug: -v/-vv), unless RUST_LOG says otherwise.
pub fn init_diagnostics(level: &str) {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .init();
}

pub struct Progress {
    bar: Option<ProgressBar>,
    started: Instant,
}

impl Progress {
    /// `total`: bytes of all inputs when known (files), `None` for stdin.
    pub fn new(total: Option<u64>, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(t) => ProgressBar::new(t),
                None => ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "{wide_bar} {bytes}/{total_bytes} {bytes_per_sec} {msg} ETA {eta}"
            } else {
                "{spinner} {bytes} {bytes_per_sec} {msg}"
            };
            bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
            bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(4));
            bar
        });
        Progress {
            bar,
            started: Instant::now(),
        }
    }

    /// `done`: bytes of input consumed so far (across files); `packets` read so far.
    pub fn update(&self, done: u64, packets: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done);
            let secs = self.started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(human(packets as f64 / secs, "pkt/s"));
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// `1.50 Mpkt/s`, `870.0 kB`, `12 B`.
pub fn human(x: f64, unit: &str) -> String {
    if x >= 1e9 {
        format!("{:.2} G{unit}", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2} M{unit}", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k{unit}", x / 1e3)
    } else {
        format!("{x:.0} {unit}")
    }
}

/// What a run saw and made, for its summary line.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    pub alerts: u64,
    /// Records made (the final `stats` record not among them).
    pub records: u64,
}

/// The last line of a run on stderr. `undelivered`: records the sink never got (said only
/// when there were some, so that a person who reads no stats record still learns of them).
pub fn summary(t: Totals, undelivered: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-6);
    let lost = if undelivered > 0 {
        format!(", {undelivered} not delivered")
    } else {
        String::new()
    };
    format!(
        "bjnp-watch: {} packets ({}) in {secs:.2} s, {}, {}; {} flows, {} alerts, {} records{lost}",
        t.packets,
        human(t.bytes as f64, "B"),
        human(t.packets as f64 / secs, "pkt/s"),
        human(t.bytes as f64 / secs, "B/s"),
        t.flows,
        t.alerts,
        t.records,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line() {
        let t = Totals {
            packets: 1_500_000,
            bytes: 900_000_000,
            flows: 12,
            alerts: 3,
            records: 40,
        };
        let line = "bjnp-watch: 1500000 packets (900.00 MB) in 2.00 s, 750.0 kpkt/s, 450.00 MB/s; 12 flows, 3 alerts, 40 records";
        assert_eq!(summary(t, 0, Duration::from_secs(2)), line);
        assert_eq!(
            summary(t, 7, Duration::from_secs(2)),
            format!("{line}, 7 not delivered")
        );
        assert_eq!(human(12.0, "B"), "12 B");
        assert_eq!(human(2.5e9, "B"), "2.50 GB");
    }
}
