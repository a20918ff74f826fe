//! Every table an attacker can grow has a cap; flooding past it keeps it at the cap and moves
//! its eviction counter (design: bounded memory). The tables: flows, pending BJNP requests,
//! alert suppression, scan sources and destinations, IP fragment trains, the printer
//! inventory. (TCP stream buffers: flow/stream.rs's unit tests; the 1 M-SYN storm: storm.rs.)

use bjnp_watch::capture::Frame;
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::event::{Body, Record, Stats, Timestamp};
use bjnp_watch::flow::FlowConfig;
use bjnp_watch::output::{Discard, RecordSink};

const T0: u64 = 1_768_471_200_000_000_000;

/// Ethernet + IPv4 + UDP with `payload`; `frag` = (id, more fragments) for a first fragment.
fn udp(src: u32, dst: u32, sport: u16, dport: u16, payload: &[u8], frag: Option<u16>) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00];
    let total = (20 + 8 + payload.len()) as u16;
    let (id, flags) = match frag {
        Some(id) => (id, 0x2000u16),
        None => (0, 0x4000),
    };
    f.extend([0x45, 0]);
    f.extend(total.to_be_bytes());
    f.extend(id.to_be_bytes());
    f.extend(flags.to_be_bytes());
    f.extend([64, 17, 0, 0]);
    f.extend(src.to_be_bytes());
    f.extend(dst.to_be_bytes());
    f.extend(sport.to_be_bytes());
    f.extend(dport.to_be_bytes());
    f.extend(((8 + payload.len()) as u16).to_be_bytes());
    f.extend([0, 0]);
    f.extend(payload);
    f
}

fn bjnp(dev: u8, code: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = b"BJNP".to_vec();
    v.extend([dev, code, 0, 0]);
    v.extend(seq.to_be_bytes());
    v.extend([0, 0]);
    v.extend((payload.len() as u32).to_be_bytes());
    v.extend(payload);
    v
}

struct Run {
    engine: Engine,
    n: u64,
}

impl Run {
    fn new(cfg: EngineConfig) -> Self {
        Run {
            engine: Engine::new(cfg),
            n: 0,
        }
    }
    fn feed(&mut self, frame: &[u8], out: &mut dyn RecordSink) {
        self.n += 1;
        self.engine.process(
            &Frame {
                ts: Timestamp(T0 + self.n * 1_000),
                linktype: 1,
                data: frame,
                orig_len: frame.len() as u32,
                cnt: self.n,
            },
            out,
        );
    }
    fn stats(&self) -> Stats {
        match self.engine.stats_record(self.engine.last_ts(), None) {
            Record {
                body: Body::Stats(s),
                ..
            } => *s,
            _ => unreachable!(),
        }
    }
}

const PRINTER: u32 = 0xc000_021e; // 192.0.2.30

#[test]
fn flow_table_holds_its_cap() {
    let mut r = Run::new(EngineConfig {
        flow: FlowConfig {
            max_flows: 1_000,
            ..FlowConfig::default()
        },
        ..EngineConfig::default()
    });
    let mut out = Discard::default();
    for i in 0..5_000u32 {
        r.feed(
            &udp(0x0a00_0001 + i, PRINTER, 40_000, 8611, &[], None),
            &mut out,
        );
        assert!(r.stats().flow.active <= 1_000);
    }
    let s = r.stats();
    assert_eq!(s.flow.created, 5_000);
    assert!(s.flow.evicted >= 4_000, "{:?}", s.flow);
}

/// Every alert of one rule the engine considered: written, suppressed, or counted in a
/// `summary` record because the rule's budget was spent.
fn alerts_and_over_budget(records: &[Record], sid: u32) -> (u64, u64) {
    let mut written = 0;
    let mut over = 0;
    for r in records {
        match &r.body {
            Body::Alert(a) if a.alert.signature_id == sid => written += 1,
            Body::Summary(s) => {
                over += s
                    .over_budget
                    .iter()
                    .filter(|o| o.signature_id == sid)
                    .map(|o| o.alerts)
                    .sum::<u64>()
            }
            _ => {}
        }
    }
    (written, over)
}

#[test]
fn a_flood_of_requests_from_distinct_clients() {
    // 70 000 unanswered get-identity requests from distinct clients: past the pending-request
    // cap (65 536) and the scan-source cap (16 384).
    const N: u32 = 70_000;
    let mut r = Run::new(EngineConfig::default());
    let mut out: Vec<Record> = Vec::new();
    let req = bjnp(0x01, 0x30, 1, &[]);
    for i in 0..N {
        r.feed(
            &udp(0x0a00_0001 + i, PRINTER, 40_000, 8611, &req, None),
            &mut out,
        );
    }
    r.engine.finish(&mut out);
    let s = r.stats();
    assert!(
        s.bjnp.pending_evicted >= u64::from(N) - 65_536,
        "{:?}",
        s.bjnp
    );
    assert!(s.detect.scan_sources <= 16_384, "{:?}", s.detect);
    // recon (1101) is never folded into the flood or the campaign it is part of: the budget
    // writes the first ten of the window and counts the rest, with the top sources, in the
    // window's summary; nothing is lost
    let (written, over) = alerts_and_over_budget(&out, 1101);
    assert_eq!(written, 10, "{:?}", s.detect);
    assert_eq!(written + over, u64::from(N));
    let lines = out
        .iter()
        .filter(|x| x.event_type() == bjnp_watch::event::EventType::Alert)
        .count();
    assert!(lines <= 20, "{lines} alert lines");
    // the failed attempts are the campaign's: every flow is either a line or counted in it
    let flows = out
        .iter()
        .filter(|x| x.event_type() == bjnp_watch::event::EventType::Flow)
        .count() as u64;
    assert_eq!(flows + s.detect.flows_folded, u64::from(N));
    assert_eq!(s.detect.campaigns, 1);
}

#[test]
fn suppression_table_holds_its_cap() {
    // 70 000 distinct client/printer pairs, four clients per printer: no scan or flood explains
    // them, so each is an alert with its own suppression key, past the cap of 65 536.
    const N: u32 = 70_000;
    let mut r = Run::new(EngineConfig::default());
    let mut out: Vec<Record> = Vec::new();
    let req = bjnp(0x01, 0x30, 1, &[]);
    for i in 0..N {
        r.feed(
            &udp(
                0x0a00_0001 + i,
                0x0b00_0001 + i / 4,
                40_000,
                8611,
                &req,
                None,
            ),
            &mut out,
        );
    }
    r.engine.finish(&mut out);
    let d = r.stats().detect;
    assert!(d.suppress_evicted >= u64::from(N) - 65_536, "{d:?}");
    // every one was considered: written or counted over budget
    let (written, over) = alerts_and_over_budget(&out, 1101);
    assert_eq!(written + over, u64::from(N), "{d:?}");
}

#[test]
fn fragment_trains_hold_their_cap() {
    let mut r = Run::new(EngineConfig {
        defrag: bjnp_watch::defrag::DefragConfig {
            max_datagrams: 1_000,
            ..Default::default()
        },
        ..EngineConfig::default()
    });
    let mut out = Discard::default();
    let req = bjnp(0x01, 0x30, 1, &[0; 64]);
    // first fragments (more-fragments set) of 3 000 datagrams that never complete
    for i in 0..3_000u32 {
        let f = udp(0x0a00_0001, PRINTER, 40_000, 8611, &req, Some(i as u16));
        r.feed(&f, &mut out);
        assert!(r.stats().decoder.fragment_trains <= 1_000);
    }
    let d = r.stats().decoder;
    assert!(d.fragment_trains_evicted >= 2_000, "{d:?}");
    assert!(d.fragments >= 3_000, "{d:?}");
    // each evicted one was handed on, as far as it came, and counted incomplete
    assert_eq!(
        d.fragment_trains_incomplete, d.fragment_trains_evicted,
        "{d:?}"
    );
}

/// Later fragments only (no ports, so nothing tells whether they are monitored), far out in
/// the datagram so each one makes its datagram big: the byte cap holds, not just the count.
#[test]
fn a_flood_of_never_completing_fragments_stays_within_the_byte_cap() {
    use bjnp_watch::decode::{decode, Decoded};
    use bjnp_watch::defrag::{DefragConfig, Defragmenter};
    const CAP: usize = 4 << 20;
    let mut d = Defragmenter::new(DefragConfig {
        max_bytes: CAP,
        ..DefragConfig::default()
    });
    let mut frame = udp(0x0a00_0001, PRINTER, 40_000, 8611, &[7; 1_400], Some(0));
    let mut handed_on = 0u64;
    for i in 0..50_000u32 {
        // a different datagram each time, at offset 60 000
        frame[18..20].copy_from_slice(&(i as u16).to_be_bytes());
        frame[14 + 12..14 + 16].copy_from_slice(&(0x0a00_0000 + (i >> 16)).to_be_bytes());
        frame[20..22].copy_from_slice(&(0x2000u16 | (60_000 / 8)).to_be_bytes());
        let Decoded::Fragment(f) = decode(1, &frame) else {
            panic!("not a fragment")
        };
        d.fragment(&f, Timestamp(T0 + u64::from(i)), u64::from(i), 1_442);
        while d.take_done().is_some() {
            handed_on += 1;
        }
        let s = d.stats();
        // one datagram of ~180 KiB (bytes and who holds each) may sit above the cap at most
        assert!(s.held_bytes as usize <= CAP + 256 * 1024, "{s:?}");
    }
    let s = d.stats();
    assert!(s.evicted > 40_000, "{s:?}");
    // every datagram is held, handed on, or counted: none vanishes
    assert_eq!(s.held + handed_on, 50_000, "{s:?}");
}

#[test]
fn printer_inventory_holds_its_cap() {
    // 5 000 distinct hosts answering get-identity on 8611: more "printers" than the 4 096 cap
    let mut r = Run::new(EngineConfig::default());
    let mut out = Discard::default();
    let id = b"MFG:Canon;MDL:X;";
    let mut payload = ((id.len() + 2) as u16).to_be_bytes().to_vec();
    payload.extend(id);
    let answer = bjnp(0x81, 0x30, 1, &payload);
    for i in 0..5_000u32 {
        let printer = 0x0a10_0001 + i;
        r.feed(
            &udp(
                0x0a00_0001,
                printer,
                40_000,
                8611,
                &bjnp(1, 0x30, 1, &[]),
                None,
            ),
            &mut out,
        );
        r.feed(
            &udp(printer, 0x0a00_0001, 8611, 40_000, &answer, None),
            &mut out,
        );
    }
    let d = r.stats().detect;
    assert!(d.printers <= 4_096, "{d:?}");
    assert!(d.printers_evicted >= 5_000 - 4_096, "{d:?}");
}
