//! Differential tests against Wireshark: its BJNP dissector (docs/PROTOCOLS.md §7): for every UDP
//! message tshark decodes as BJNP or MFNP, bjnp-watch reports the same id, type, code,
//! sequence number, session id and payload length; and every UDP message bjnp-watch reports
//! with those magics is one tshark shows.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::collections::BTreeMap;
use std::process::Command;

type Row = (String, u64, u64, u64, u64, u64);

/// frame number -> (id, type, code, seq_no, session_id, payload_len), for rows where tshark
/// decoded every header field. Reassembly is off so a fragmented datagram is dissected at its
/// first fragment, where bjnp-watch reports it.
fn tshark_rows(file: &str) -> BTreeMap<u64, Row> {
    let out = Command::new("tshark")
        .current_dir(root())
        .args([
            "-r",
            file,
            "-n",
            // Both put IP fragments together and report the message on its last fragment.
            "-o",
            "ip.defragment:TRUE",
            "-o",
            "ipv6.defragment:TRUE",
            "-d",
            "udp.port==8610,bjnp",
            "-Y",
            // A message quoted inside an ICMP error is the packet the error refuses, not one
            // more message (tshark decodes the quote; bjnp-watch pairs it with its flow).
            "bjnp and not icmp and not icmpv6",
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "frame.number",
            "-e",
            "bjnp.id",
            "-e",
            "bjnp.type",
            "-e",
            "bjnp.code",
            "-e",
            "bjnp.seq_no",
            "-e",
            "bjnp.session_id",
            "-e",
            "bjnp.payload_len",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 || !(f[1] == "BJNP" || f[1] == "MFNP") {
            continue;
        }
        let nums: Option<Vec<u64>> = f[2..7].iter().map(|v| v.parse().ok()).collect();
        let (Ok(frame), Some(n)) = (f[0].parse::<u64>(), nums) else {
            continue; // a header cut short: tshark leaves fields empty
        };
        rows.insert(frame, (f[1].to_owned(), n[0], n[1], n[2], n[3], n[4]));
    }
    rows
}

/// pcap_cnt -> the first UDP BJNP/MFNP message bjnp-watch reported for that frame, and how
/// many messages it counted into a campaign instead of writing.
fn our_rows(file: &str) -> (BTreeMap<u64, Row>, u64) {
    let r = run(&["-r", file]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut rows = BTreeMap::new();
    for rec in r.of_type("bjnp") {
        let b = &rec["bjnp"];
        let magic = b["magic"].as_str().unwrap().to_owned();
        if rec["proto"] != "UDP" || !(magic == "BJNP" || magic == "MFNP") {
            continue;
        }
        let n = |k: &str| b[k].as_u64().unwrap();
        let cnt = rec["pcap_cnt"].as_u64().unwrap();
        rows.entry(cnt).or_insert((
            magic,
            n("dev_type"),
            n("command"),
            n("seq"),
            n("session_id"),
            n("payload_len"),
        ));
    }
    let folded = r.of_type("stats").last().expect("a stats record")["stats"]["detect"]
        ["messages_folded"]
        .as_u64()
        .unwrap();
    (rows, folded)
}

#[test]
fn bjnp_fields_match_wireshark() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let mut compared = 0;
    for name in samples() {
        let file = sample(&name);
        let theirs = tshark_rows(&file);
        let (ours, folded) = our_rows(&file);
        // every message tshark sees is either reported with the same fields or counted into
        // a campaign (recon requests under a storm): none is lost
        let mut missing = 0;
        for (frame, t) in &theirs {
            match ours.get(frame) {
                Some(o) => {
                    assert_eq!(o, t, "{name} frame {frame}: tshark shows {t:?}");
                    compared += 1;
                }
                None => missing += 1,
            }
        }
        assert_eq!(
            missing, folded,
            "{name}: {missing} messages tshark shows are neither reported nor counted as folded"
        );
        for (frame, o) in &ours {
            assert!(
                theirs.contains_key(frame),
                "{name} frame {frame}: we report {o:?}, tshark nothing"
            );
        }
    }
    // the samples hold dozens of UDP BJNP messages; comparing none would prove nothing
    assert!(compared >= 40, "only {compared} messages compared");
}

/// tshark's fields of the frames `filter` selects, one row a frame, tab-separated.
fn tshark_fields(file: &str, extra: &[&str], filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut args: Vec<&str> = vec!["-r", file, "-n"];
    args.extend(extra);
    args.extend(["-Y", filter, "-T", "fields", "-E", "separator=/t"]);
    for f in fields {
        args.extend(["-e", f]);
    }
    let out = Command::new("tshark")
        .current_dir(root())
        .args(&args)
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed on {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

fn doors_samples(prefix: &str) -> Vec<String> {
    samples()
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .collect()
}

/// Every IPP message tshark dissects in the real-client captures (ipptool, CUPS's ipp
/// backend, the admin and injection exchanges) is an operation bjnp-watch reports with the
/// same request id, operation id and status code, on the same connection; and no more.
#[test]
fn ipp_operations_match_wireshark() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let mut compared = 0;
    for name in doors_samples("doors-ipp") {
        let file = sample(&name);
        // (client port, request id) -> (operation id, status code)
        let mut theirs: BTreeMap<(u64, u64), (Option<u64>, Option<u64>)> = BTreeMap::new();
        let fields = [
            "tcp.srcport",
            "tcp.dstport",
            "ipp.operation_id",
            "ipp.status_code",
            "ipp.request_id",
        ];
        for f in tshark_fields(&file, &[], "ipp", &fields) {
            let num = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
            let (sport, dport) = (f[0].parse::<u64>().unwrap(), f[1].parse::<u64>().unwrap());
            let id: u64 = f[4].parse().unwrap();
            if dport == 631 {
                theirs.entry((sport, id)).or_default().0 = num(&f[2]);
            } else {
                theirs.entry((dport, id)).or_default().1 = num(&f[3]);
            }
        }
        let r = run(&["-r", &file, "-q"]);
        let mut ours = BTreeMap::new();
        for rec in r.of_type("ipp") {
            let i = &rec["ipp"];
            let key = (
                rec["src_port"].as_u64().unwrap(),
                i["request_id"].as_u64().unwrap(),
            );
            ours.insert(key, (i["operation_id"].as_u64(), i["status_code"].as_u64()));
        }
        assert_eq!(ours, theirs, "{name}");
        compared += ours.len();
    }
    assert!(compared >= 20, "only {compared} IPP operations compared");
}

/// LPD: tshark labels every client line it finds at a segment's start with its code and the
/// rest of the line. The first one of a connection is the daemon command; later ones are
/// receive-job subcommands, each a file bjnp-watch lists with the same kind, size and name.
#[test]
fn lpd_commands_and_files_match_wireshark() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let code_of = |c: &str| match c {
        "print_waiting" => 1,
        "receive_job" => 2,
        "queue_short" => 3,
        "queue_long" => 4,
        "remove_jobs" => 5,
        other => panic!("{other}"),
    };
    let mut compared = 0;
    for name in doors_samples("doors-lpd") {
        let file = sample(&name);
        let rows = tshark_fields(
            &file,
            &[],
            "lpd.client_code",
            &["tcp.srcport", "lpd.client_code", "lpd.printer_option"],
        );
        let mut theirs: BTreeMap<u64, Vec<(u64, String)>> = BTreeMap::new();
        for f in rows {
            theirs
                .entry(f[0].parse().unwrap())
                .or_default()
                .push((f[1].parse().unwrap(), f[2].clone()));
        }
        let r = run(&["-r", &file, "-q"]);
        // client port -> the daemon command line, and every file subcommand line
        let mut command: BTreeMap<u64, (u64, String)> = BTreeMap::new();
        let mut files: BTreeMap<u64, Vec<(u64, String)>> = BTreeMap::new();
        for rec in r.of_type("lpd") {
            let l = &rec["lpd"];
            let port = rec["src_port"].as_u64().unwrap();
            let mut line = l["queue"].as_str().unwrap().to_owned();
            if let Some(o) = l["operands"].as_str() {
                line = format!("{line} {o}");
            }
            command.insert(port, (code_of(l["command"].as_str().unwrap()), line));
            for f in l["files"].as_array().into_iter().flatten() {
                let kind = if f["kind"] == "control" { 2 } else { 3 };
                let size = f["size"].as_u64().unwrap_or(0);
                let name = f["name"].as_str().unwrap();
                files
                    .entry(port)
                    .or_default()
                    .push((kind, format!("{size} {name}")));
            }
        }
        for (port, lines) in &theirs {
            let ours = command
                .get(port)
                .unwrap_or_else(|| panic!("{name}: no lpd record for port {port}"));
            assert_eq!(&lines[0], ours, "{name} port {port}: the daemon command");
            compared += 1;
            for sub in &lines[1..] {
                assert!(
                    files.get(port).is_some_and(|f| f.contains(sub)),
                    "{name} port {port}: tshark shows {sub:?}, we list {:?}",
                    files.get(port)
                );
                compared += 1;
            }
        }
        assert_eq!(
            command.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}: the same connections"
        );
    }
    assert!(compared >= 20, "only {compared} LPD lines compared");
}

/// CUPS browsing: every field of every announcement as tshark dissects it; and the server
/// name of every TLS ClientHello on 631 (tshark told 631 may be TLS).
#[test]
fn cups_browse_and_ipps_server_names_match_wireshark() {
    if !have("tshark") {
        return skip_or_fail("tshark is not installed (make test installs it)");
    }
    let file = sample("doors-cups-browsed.pcap");
    let fields = [
        "frame.number",
        "cups.ptype",
        "cups.state",
        "cups.uri",
        "cups.location",
        "cups.information",
        "cups.make_model",
    ];
    let theirs: Vec<Vec<String>> = tshark_fields(&file, &[], "cups", &fields);
    let r = run(&["-r", &file, "-q"]);
    let ours: Vec<Vec<String>> = r
        .of_type("cups_browsed")
        .iter()
        .map(|rec| {
            let c = &rec["cups_browsed"];
            let s = |k: &str| c[k].as_str().unwrap_or("").to_owned();
            vec![
                rec["pcap_cnt"].to_string(),
                format!("0x{:08x}", c["printer_type"].as_u64().unwrap()),
                format!("0x{:02x}", c["printer_state"].as_u64().unwrap()),
                s("uri"),
                s("location"),
                s("info"),
                s("make_and_model"),
            ]
        })
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 3);

    let file = sample("doors-ipps-tls.pcap");
    let theirs = tshark_fields(
        &file,
        &["-d", "tcp.port==631,tls"],
        "tls.handshake.type == 1",
        &["tcp.srcport", "tls.handshake.extensions_server_name"],
    );
    let r = run(&["-r", &file, "-q"]);
    let ours: Vec<Vec<String>> = r
        .of_type("tls")
        .iter()
        .map(|t| {
            vec![
                t["src_port"].to_string(),
                t["tls"]["sni"].as_str().unwrap().to_owned(),
            ]
        })
        .collect();
    assert_eq!(ours, theirs);
    assert_eq!(ours.len(), 1);
}
