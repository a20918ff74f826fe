//! Criterion benches of the hot path on the bundled samples: decoding frames, parsing BJNP,
//! and the whole engine. Units are packets (Throughput::Elements). The comparison with
//! tcpdump on large generated captures is `make bench` (see README).

use bjnp_watch::capture::replay::replay;
use bjnp_watch::decode::{decode, Decoded};
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::event::Timestamp;
use bjnp_watch::output::Discard;
use bjnp_watch::proto::bjnp;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::AtomicBool;

struct Owned {
    ts: Timestamp,
    linktype: u32,
    data: Vec<u8>,
    orig_len: u32,
}

/// Every frame of every sample, in memory, so the benches measure decoding, not the disk.
fn frames() -> Vec<Owned> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("samples/ present")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    names.sort();
    let stop = AtomicBool::new(false);
    let mut out = vec![];
    for p in names {
        replay(&p, None, &stop, &mut |f, _| {
            out.push(Owned {
                ts: f.ts,
                linktype: f.linktype,
                data: f.data.to_vec(),
                orig_len: f.orig_len,
            })
        })
        .expect("sample replays");
    }
    out
}

fn benches(c: &mut Criterion) {
    let frames = frames();
    let n = frames.len() as u64;

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(n));
    g.bench_function("link_ip_l4_all_samples", |b| {
        b.iter(|| {
            let mut tcpudp = 0u32;
            for f in &frames {
                if let Decoded::Packet(p) = decode(f.linktype, black_box(&f.data)) {
                    tcpudp += u32::from(p.dst_port & 1);
                }
            }
            tcpudp
        })
    });
    g.finish();

    let get_id: Vec<u8> = {
        let id = b"MFG:Canon;CMD:BJL,BJRaster3,BSCCe;MDL:MG5500 series;DES:Canon MG5500 series;VER:1.050;";
        let mut v = b"BJNP\x81\x30\x00\x00\x00\x01\x00\x00".to_vec();
        v.extend(((id.len() + 2) as u32).to_be_bytes());
        v.extend(((id.len() + 2) as u16).to_be_bytes());
        v.extend(id);
        v
    };
    let mut g = c.benchmark_group("bjnp");
    g.throughput(Throughput::Elements(1));
    g.bench_function("parse_get_identity_response", |b| {
        b.iter(|| {
            let (m, _) = bjnp::datagram(black_box(&get_id)).unwrap();
            bjnp::DeviceId::parse(m.header.magic(), m.payload)
                .unwrap()
                .model()
                .map(<[u8]>::len)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(n));
    g.bench_function("all_samples_end_to_end", |b| {
        b.iter(|| {
            let mut e = Engine::new(EngineConfig::default());
            let mut sink = Discard::default();
            for (i, f) in frames.iter().enumerate() {
                let frame = bjnp_watch::capture::Frame {
                    ts: f.ts,
                    linktype: f.linktype,
                    data: &f.data,
                    orig_len: f.orig_len,
                    cnt: i as u64 + 1,
                };
                e.process(&frame, &mut sink);
            }
            e.finish(&mut sink);
            sink.0
        })
    });
    g.finish();
}

/// An Ethernet/IPv4/UDP frame from 10.1.x.y:`port` to a printer on 8611.
fn udp_frame(i: u32) -> Vec<u8> {
    let payload = b"BJNP\x01\x30\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00";
    let mut f = vec![2, 0, 0, 0, 0, 0x30, 2, 0, 0, 0, 0, 5, 8, 0];
    let total = (20 + 8 + payload.len()) as u16;
    f.extend([0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend([10, 1, (i >> 8) as u8, i as u8]);
    f.extend([192, 0, 2, 30]);
    f.extend((1024 + (i >> 16) as u16).to_be_bytes());
    f.extend(8611u16.to_be_bytes());
    f.extend(((8 + payload.len()) as u16).to_be_bytes());
    f.extend([0, 0]);
    f.extend(payload);
    f
}

/// Flow-table lookups of existing flows: a table that fits in cache (1 k flows) and one that
/// does not (100 k).
fn flow_benches(c: &mut Criterion) {
    use bjnp_watch::flow::{FlowConfig, FlowTable};
    let mut g = c.benchmark_group("flow");
    for n in [1_000u32, 100_000] {
        let frames: Vec<Vec<u8>> = (0..n).map(udp_frame).collect();
        let packets: Vec<_> = frames
            .iter()
            .map(|f| match decode(1, f) {
                Decoded::Packet(p) => p,
                _ => panic!("bench frame does not decode"),
            })
            .collect();
        // The engine keeps an analyzer and detection marks with each flow: about 32 bytes.
        let mut table: FlowTable<[u64; 4]> = FlowTable::new(FlowConfig {
            max_flows: 200_000,
            ..FlowConfig::default()
        });
        let ts = Timestamp::from_parts(1_768_471_200, 0);
        for p in &packets {
            table.upsert(p, ts, || (true, [0; 4]), &mut |_, _| {});
        }
        g.throughput(Throughput::Elements(u64::from(n)));
        g.bench_function(format!("upsert_existing_{n}_flows"), |b| {
            b.iter(|| {
                let mut sum = 0u64;
                for p in &packets {
                    sum += table
                        .upsert(p, ts, || (true, [0; 4]), &mut |_, _| {})
                        .conn
                        .pkts[0];
                }
                sum
            })
        });
    }
    g.finish();
}

criterion_group!(name = group; config = Criterion::default().sample_size(20); targets = benches, flow_benches);
criterion_main!(group);
