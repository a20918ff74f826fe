//! A scan storm against a small flow-table cap: 100 000 SYNs from distinct sources to printer
//! ports. The table stays at its cap, evictions are counted, and the storm yields a handful of
//! alerts, not one per source. (The one-million case is measured by the command in the README.)

use bjnp_watch::capture::Frame;
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::event::{Body, Record, Timestamp};
use bjnp_watch::flow::FlowConfig;
use bjnp_watch::output::RecordSink;

#[derive(Default)]
struct Tally {
    alerts: Vec<Record>,
    flows: u64,
    stats: Option<Record>,
}

impl RecordSink for Tally {
    fn emit(&mut self, r: Record) {
        match r.body {
            Body::Alert(_) => self.alerts.push(r),
            Body::Flow(_) => self.flows += 1,
            Body::Stats(_) => self.stats = Some(r),
            _ => {}
        }
    }
}

/// Ethernet + IPv4 + TCP SYN from `src` to `dst:port`.
fn syn(src: u32, dst: u32, sport: u16, dport: u16) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    f.extend([0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend(src.to_be_bytes());
    f.extend(dst.to_be_bytes());
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend([0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    f
}

#[test]
fn syn_storm_from_distinct_sources_stays_bounded() {
    const N: u32 = 100_000;
    const CAP: usize = 2_000;
    let mut e = Engine::new(EngineConfig {
        flow: FlowConfig {
            max_flows: CAP,
            ..FlowConfig::default()
        },
        ..EngineConfig::default()
    });
    let mut out = Tally::default();
    let printers = [0xc000_021e_u32, 0xc000_021f, 0xc000_0220, 0xc000_0221];
    let mut max_active = 0;
    for i in 0..N {
        let dport = if i % 5 == 4 { 8611 } else { 9100 };
        let frame = syn(
            0x0a00_0001 + i,
            printers[(i % 4) as usize],
            1024 + (i % 60_000) as u16,
            dport,
        );
        let f = Frame {
            ts: Timestamp(1_768_471_200_000_000_000 + u64::from(i) * 1_000),
            linktype: 1,
            data: &frame,
            orig_len: frame.len() as u32,
            cnt: u64::from(i) + 1,
        };
        e.process(&f, &mut out);
        if i % 1000 == 0 {
            let s = e.stats_record(e.last_ts(), None);
            if let Body::Stats(st) = s.body {
                max_active = max_active.max(st.flow.active);
            }
        }
    }
    e.finish(&mut out);
    let Body::Stats(st) = e.stats_record(e.last_ts(), None).body else {
        unreachable!()
    };
    assert!(
        max_active <= CAP as u64,
        "flow table over its cap: {max_active}"
    );
    assert_eq!(st.flow.created, u64::from(N));
    assert!(
        st.flow.evicted >= u64::from(N) - CAP as u64,
        "{:?}",
        st.flow
    );
    assert_eq!(
        out.flows + st.detect.flows_folded,
        u64::from(N),
        "every flow gets its flow record, or is counted in a campaign"
    );
    // a campaign on each port, a flood alert for each of 4 printers x 2 ports at most, nothing
    // per source
    assert!(
        !out.alerts.is_empty() && out.alerts.len() <= 10,
        "{} alerts",
        out.alerts.len()
    );
    for a in &out.alerts {
        let Body::Alert(al) = &a.body else {
            unreachable!()
        };
        assert!([1005, 1006].contains(&al.alert.signature_id), "{al:?}");
        assert!(al.evidence.sources.len() <= 16);
    }
    assert!(st.detect.folded >= u64::from(N) - 1_000, "{:?}", st.detect);
    // once a campaign stands for a port's sources, they are not tracked one by one: the
    // per-source table holds the sources seen before the campaign began, and never thrashes
    assert!(st.detect.scan_sources <= 256, "{:?}", st.detect);
    assert_eq!(st.detect.scan_evicted, 0, "{:?}", st.detect);
    assert_eq!(st.detect.campaigns, 2, "TCP 9100 and TCP 8611");
}
