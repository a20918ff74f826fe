//! The default live BPF filter, compiled by libpcap and run offline over the samples: it must
//! pass every packet that yields a record (tagged, double-tagged, IPv6, fragments) and drop the
//! ordinary traffic around them.

use bjnp_watch::capture::filter::OfflineFilter;
use bjnp_watch::capture::replay::replay;
use bjnp_watch::capture::Frame;
use bjnp_watch::engine::{Engine, EngineConfig};
use bjnp_watch::event::{Body, Record};
use bjnp_watch::net::PortSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

fn records(path: &str, only: Option<&std::collections::BTreeSet<u64>>) -> Vec<Record> {
    let mut e = Engine::new(EngineConfig::default());
    let mut out: Vec<Record> = vec![];
    let stop = AtomicBool::new(false);
    replay(Path::new(path), None, &stop, &mut |f: &Frame<'_>, _| {
        if only.is_none_or(|o| o.contains(&f.cnt)) {
            e.process(f, &mut out);
        }
    })
    .unwrap();
    out.retain(|r| !matches!(r.body, Body::Stats(_)));
    out
}

#[test]
fn default_filter_keeps_every_printer_packet_and_drops_the_rest() {
    let mut filter = OfflineFilter::default_for(&PortSet::default());
    let stop = AtomicBool::new(false);
    for name in [
        "gen-vlan.pcap",
        "gen-qinq.pcap",
        "gen-ipv6.pcap",
        "gen-fragments.pcap",
        "gen-sll2.pcap",
        "gen-mixed.pcapng",
    ] {
        let path = format!("{}/samples/{name}", env!("CARGO_MANIFEST_DIR"));
        let mut passed = std::collections::BTreeSet::new();
        let mut total = 0;
        replay(Path::new(&path), Some(&mut filter), &stop, &mut |f, ok| {
            total += 1;
            if ok {
                passed.insert(f.cnt);
            }
        })
        .unwrap();
        // same records from only the packets the kernel would have delivered
        assert_eq!(
            records(&path, Some(&passed)),
            records(&path, None),
            "{name}"
        );
        // every IPv4 fragment passes (its datagram's ports are known only once it is whole):
        // the fragments sample is nothing else
        assert!(
            passed.len() < total
                || name.contains("sll2")
                || name.contains("qinq")
                || name.contains("fragments"),
            "{name}: filter passed everything"
        );
    }
}
