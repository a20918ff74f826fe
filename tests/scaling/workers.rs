//! `--workers N` on replay: frames are spread over N workers by a hash of their two addresses,
//! and the judge takes their facts in capture order, so the records are the same whatever N:
//! the same multiset of lines (the order of lines of one step may differ), the `stats` record
//! included. Checked on every sample and on generated workloads: many printer flows, a LAN mix,
//! a distributed scan (cross-flow detection: one campaign and one set of scan alerts, not one
//! per worker, none missed) and a recon flood (BJNP answers paired across flows).

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn sorted_lines(args: &[&str]) -> Vec<String> {
    let r = run(args);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    let mut v: Vec<String> = r.stdout.lines().map(str::to_owned).collect();
    v.sort();
    v
}

fn same_for_any_workers(file: &str, extra: &[&str]) {
    let mut base = vec!["-q", "-r", file];
    base.extend_from_slice(extra);
    let one = sorted_lines(&base);
    assert!(one.len() > 1, "{file}: nothing but stats");
    for n in ["2", "3"] {
        let mut args = base.clone();
        args.extend(["--workers", n]);
        let many = sorted_lines(&args);
        if many != one {
            let missing: Vec<&String> = one.iter().filter(|l| !many.contains(l)).take(3).collect();
            let extra: Vec<&String> = many.iter().filter(|l| !one.contains(l)).take(3).collect();
            panic!(
                "{file} with {n} workers: {} lines, {} with one\nonly with one: {missing:#?}\nonly with {n}: {extra:#?}",
                many.len(),
                one.len()
            );
        }
    }
}

#[test]
fn every_sample_gives_the_same_records() {
    for name in samples() {
        same_for_any_workers(&sample(&name), &[]);
    }
    same_for_any_workers(
        "samples/gen-policy.pcap",
        &["--policy", "tests/policy/site.toml"],
    );
}

fn generated(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let st = Command::new("python3")
        .args(args)
        .arg("--out")
        .arg(&out)
        .current_dir(root())
        .status()
        .expect("python3 runs the generator");
    assert!(st.success(), "{args:?}");
    out
}

#[test]
fn generated_workloads_give_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let printer = generated(
        d,
        "printer.pcap",
        &["tools/gen_bench.py", "printer", "--flows", "6000"],
    );
    let lan = generated(
        d,
        "lan.pcap",
        &["tools/gen_bench.py", "lan", "--packets", "60000"],
    );
    let scan = generated(
        d,
        "distributed.pcap",
        &["tools/gen_storms.py", "distributed", "--count", "20000"],
    );
    let recon = generated(
        d,
        "recon.pcap",
        &["tools/gen_storms.py", "recon", "--count", "3000"],
    );
    let policy = ["--policy", "tests/policy/storms.toml"];
    for f in [&printer, &lan] {
        same_for_any_workers(&f.to_string_lossy(), &[]);
    }
    for f in [&scan, &recon] {
        same_for_any_workers(&f.to_string_lossy(), &policy);
        same_for_any_workers(&f.to_string_lossy(), &[]);
    }
    // the scan really is judged across workers: one campaign, its alert once
    let file = scan.to_string_lossy();
    let r = run(&["-q", "-r", &file, "--workers", "3", "--policy", policy[1]]);
    let campaigns: Vec<_> = r
        .of_type("alert")
        .into_iter()
        .filter(|a| a["alert"]["signature_id"] == 1006)
        .collect();
    assert_eq!(campaigns.len(), 1, "{campaigns:?}");
}

#[test]
fn flows_past_a_workers_share_of_the_cap_are_evicted_and_counted() {
    // each of 2 workers holds half of --max-flows
    let dir = tempfile::tempdir().unwrap();
    let f = generated(
        dir.path(),
        "p.pcap",
        &["tools/gen_bench.py", "printer", "--flows", "3000"],
    );
    let file = f.to_string_lossy();
    let r = run(&["-q", "-r", &file, "--workers", "2", "--max-flows", "200"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = &r.of_type("stats")[0]["stats"];
    assert!(stats["flow"]["evicted"].as_u64().unwrap() > 0, "{stats}");
    // an evicted flow that goes on comes back as a new one
    let created = stats["flow"]["created"].as_u64().unwrap();
    assert!(created > 3000, "{stats}");
    assert_eq!(
        r.of_type("flow").len() as u64 + stats["detect"]["flows_folded"].as_u64().unwrap(),
        created,
        "every flow a line or counted"
    );
}
