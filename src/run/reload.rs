//! Policy reload without a restart: SIGHUP (which also reopens the outputs) raises a flag;
//! between two frames the policy file is read again and, when it is valid, takes over with
//! every flow, campaign, suppression window and learned printer kept. An invalid file changes
//! nothing: a `warning` record and a line on stderr say why, and the exit status is untouched.

use crate::capture::Frame;
use crate::config::{Policy, PolicyError};
use crate::detect::PolicyChange;
use crate::engine::{records, FrameEngine};
use crate::event::{InventoryReport, Origin, Record, Warning, WarningCode};
use crate::net::{PortSet, Timestamp};
use crate::output::RecordSink;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What a reload did, for whoever watches (the metrics endpoint).
pub type OnReload = Box<dyn Fn(Timestamp, bool) + Send>;

/// Reads the policy again when the flag is up.
pub struct Reloader {
    flag: Arc<AtomicBool>,
    load: Box<dyn Fn() -> Result<Policy, PolicyError> + Send>,
    on_reload: Option<OnReload>,
}

impl Reloader {
    pub fn new(
        flag: Arc<AtomicBool>,
        load: Box<dyn Fn() -> Result<Policy, PolicyError> + Send>,
    ) -> Self {
        Reloader {
            flag,
            load,
            on_reload: None,
        }
    }

    /// Tells `f` the time and the result of every reload.
    pub fn on_reload(mut self, f: OnReload) -> Self {
        self.on_reload = Some(f);
        self
    }

    /// Whether a reload was asked for (read before every frame: a plain load).
    #[inline]
    pub fn asked(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// When a reload was asked for: the policy is read, `apply` hands it to the engine (which
    /// writes the `reload` record) and the change comes back; an invalid policy is a warning.
    pub fn poll(
        &self,
        now: Timestamp,
        origin: &Origin,
        sink: &mut dyn RecordSink,
        apply: impl FnOnce(Policy, &mut dyn RecordSink) -> PolicyChange,
    ) -> Option<(PolicyChange, PortSet)> {
        // a plain load first: the common case costs no write to a shared cache line
        if !self.asked() || !self.flag.swap(false, Ordering::Relaxed) {
            return None;
        }
        match (self.load)() {
            Ok(policy) => {
                let ports = policy.ports.clone();
                let origin_name = policy.origin.clone();
                let change = apply(policy, sink);
                tracing::info!(policy = origin_name, ?change, "policy reloaded");
                if let Some(f) = &self.on_reload {
                    f(now, true);
                }
                Some((change, ports))
            }
            Err(e) => {
                let message = format!("policy reload failed, the running policy is kept: {e}");
                eprintln!("bjnp-watch: warning: {message}");
                let w = Warning {
                    code: WarningCode::PolicyReloadFailed,
                    message,
                    silent_sec: None,
                    iface_rx_packets: None,
                };
                sink.emit(records::warning(w, now, origin.clone()));
                if let Some(f) = &self.on_reload {
                    f(now, false);
                }
                None
            }
        }
    }
}

/// An engine that takes a reloaded policy between two frames (replay, live with one worker).
/// A change of monitored ports waits in `take_ports` for the capture loop's filter.
pub struct Reloading {
    inner: Box<dyn FrameEngine>,
    reloader: Reloader,
    origin: Origin,
    ports: Option<PortSet>,
}

impl Reloading {
    pub fn new(inner: Box<dyn FrameEngine>, reloader: Reloader) -> Self {
        Reloading {
            inner,
            reloader,
            origin: Origin::None,
            ports: None,
        }
    }

    /// Looked at before every frame: the flag is read here, inline, and the reload's machinery
    /// is called only when it is up (the call alone was a hundredth of a busy replay).
    #[inline]
    fn poll(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        if self.reloader.asked() {
            self.reload_now(now, out);
        }
    }

    #[inline(never)]
    fn reload_now(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        let inner = &mut self.inner;
        if let Some((change, ports)) = self
            .reloader
            .poll(now, &self.origin, out, |p, out| inner.reload(p, now, out))
        {
            if change.ports_changed {
                self.ports = Some(ports);
            }
        }
    }
}

impl FrameEngine for Reloading {
    fn set_source(&mut self, src: crate::capture::Source) {
        self.origin = match &src {
            crate::capture::Source::File(name) => Origin::File {
                name: name.clone(),
                cnt: 0,
            },
            crate::capture::Source::Iface(i) => Origin::Iface(i.clone()),
        };
        self.inner.set_source(src)
    }
    fn count_filtered(&mut self, frame: &Frame<'_>) {
        self.inner.count_filtered(frame)
    }
    fn process(&mut self, frame: &Frame<'_>, out: &mut dyn RecordSink) {
        self.poll(frame.ts, out);
        self.inner.process(frame, out)
    }
    fn tick(&mut self, now: Timestamp, out: &mut dyn RecordSink) {
        self.poll(now, out);
        self.inner.tick(now, out)
    }
    fn finish(&mut self, out: &mut dyn RecordSink) {
        self.inner.finish(out)
    }
    fn stats_record(&self, now: Timestamp, live: Option<crate::capture::PcapCounters>) -> Record {
        self.inner.stats_record(now, live)
    }
    fn packets(&self) -> u64 {
        self.inner.packets()
    }
    fn last_ts(&self) -> Timestamp {
        self.inner.last_ts()
    }
    fn inventory(&self) -> InventoryReport {
        self.inner.inventory()
    }
    fn ports(&self) -> &PortSet {
        self.inner.ports()
    }
    fn reload(&mut self, policy: Policy, now: Timestamp, out: &mut dyn RecordSink) -> PolicyChange {
        self.inner.reload(policy, now, out)
    }
    fn take_ports(&mut self) -> Option<PortSet> {
        self.ports.take()
    }
}
