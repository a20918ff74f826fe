//! The sensor's own health. A capture that silently sees nothing (SPAN session removed, cable
//! pulled, a filter that matches nothing) looks exactly like a quiet network unless someone
//! says so: after [`SILENT_INTERVALS`] stats intervals without a packet, a `warning` record.

use crate::event::{Warning, WarningCode};

/// Stats intervals without a packet before the first warning, and between repeats.
pub const SILENT_INTERVALS: u64 = 3;

#[derive(Debug, Default)]
pub struct SilenceWatch {
    last_packets: u64,
    silent: u64,
    /// The interface's own receive counter when the silence began.
    rx_base: Option<u64>,
}

impl SilenceWatch {
    pub fn new(packets: u64, iface_rx: Option<u64>) -> Self {
        SilenceWatch {
            last_packets: packets,
            silent: 0,
            rx_base: iface_rx,
        }
    }

    /// Called once per stats interval with the capture's packet count and the interface's
    /// receive counter. Returns a warning every `SILENT_INTERVALS` silent intervals.
    pub fn on_interval(
        &mut self,
        packets: u64,
        iface_rx: Option<u64>,
        interval_secs: u64,
    ) -> Option<Warning> {
        if packets != self.last_packets {
            self.last_packets = packets;
            self.silent = 0;
            self.rx_base = iface_rx;
            return None;
        }
        self.silent += 1;
        if self.silent % SILENT_INTERVALS != 0 {
            return None;
        }
        let seen = match (self.rx_base, iface_rx) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let silent_sec = self.silent * interval_secs;
        let message = match seen {
            Some(0) => format!(
                "no packets for {silent_sec} s and the interface received none: the link or the mirror feed is down"
            ),
            Some(n) => format!(
                "no packets for {silent_sec} s although the interface received {n}: no monitored traffic, or the filter matches nothing"
            ),
            None => format!("no packets for {silent_sec} s: check the link, the mirror feed and the filter"),
        };
        Some(Warning {
            code: WarningCode::CaptureSilent,
            message,
            silent_sec: Some(silent_sec),
            iface_rx_packets: seen,
        })
    }
}

/// Packets the interface received (Linux sysfs); `any` sums every interface.
pub fn iface_rx_packets(iface: &str) -> Option<u64> {
    let read = |name: &str| -> Option<u64> {
        std::fs::read_to_string(format!("/sys/class/net/{name}/statistics/rx_packets"))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    if iface == "any" {
        let dir = std::fs::read_dir("/sys/class/net").ok()?;
        let total = dir
            .filter_map(Result::ok)
            .filter_map(|e| read(&e.file_name().to_string_lossy()))
            .sum();
        return Some(total);
    }
    // Names come from the command line: nothing that walks out of sysfs.
    if iface.is_empty() || iface.contains('/') || iface.starts_with('.') {
        return None;
    }
    read(iface)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_every_third_silent_interval() {
        let mut w = SilenceWatch::new(10, Some(100));
        assert!(w.on_interval(11, Some(150), 60).is_none()); // traffic
        assert!(w.on_interval(11, Some(150), 60).is_none());
        assert!(w.on_interval(11, Some(150), 60).is_none());
        let first = w
            .on_interval(11, Some(150), 60)
            .expect("third silent interval");
        assert_eq!(first.silent_sec, Some(180));
        assert_eq!(first.iface_rx_packets, Some(0));
        assert!(first.message.contains("link or the mirror feed"));
        assert!(w.on_interval(11, Some(160), 60).is_none());
        assert!(w.on_interval(11, Some(170), 60).is_none());
        let again = w.on_interval(11, Some(175), 60).expect("repeats");
        assert_eq!(again.silent_sec, Some(360));
        assert_eq!(again.iface_rx_packets, Some(25));
        assert!(again.message.contains("filter matches nothing"));
        // a packet resets the count
        assert!(w.on_interval(12, None, 60).is_none());
        for _ in 0..2 {
            assert!(w.on_interval(12, None, 60).is_none());
        }
        let unknown = w.on_interval(12, None, 60).unwrap();
        assert_eq!(unknown.iface_rx_packets, None);
    }

    #[test]
    fn iface_names_stay_in_sysfs() {
        assert_eq!(iface_rx_packets("../../etc"), None);
        assert_eq!(iface_rx_packets("no-such-iface0"), None);
        assert!(iface_rx_packets("lo").is_some());
    }
}
