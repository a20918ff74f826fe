//! Golden tests: every capture in samples/ replayed through the built binary must give exactly
//! the records checked in under tests/expected/ (Suricata-verify style). After an intended
//! change, regenerate with `BLESS=1 cargo test --test samples` and review the diff.

#[path = "../common/mod.rs"]
mod common;
use common::*;

fn expected_path(name: &str) -> std::path::PathBuf {
    root().join("tests/expected").join(format!("{name}.jsonl"))
}

#[test]
fn every_sample_matches_its_expected_records() {
    let bless = std::env::var_os("BLESS").is_some();
    let mut failures = vec![];
    let names = samples();
    assert!(names.len() >= 12, "samples/ lost files: {names:?}");
    for name in &names {
        let r = run(&["-r", &sample(name)]);
        assert_eq!(r.code, 0, "{name}: {}", r.stderr);
        // every line is one JSON object
        let _ = r.records();
        let path = expected_path(name);
        if bless {
            std::fs::write(&path, &r.stdout).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
            panic!(
                "{} missing: run BLESS=1 cargo test --test samples",
                path.display()
            )
        });
        if want != r.stdout {
            let diff: Vec<String> = want
                .lines()
                .zip(r.stdout.lines())
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .take(3)
                .map(|(i, (a, b))| format!("line {}:\n  want {a}\n  got  {b}", i + 1))
                .collect();
            failures.push(format!(
                "{name}: {} lines expected, {} produced\n{}",
                want.lines().count(),
                r.stdout.lines().count(),
                diff.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn no_expected_file_without_its_sample() {
    let names = samples();
    for e in std::fs::read_dir(root().join("tests/expected")).unwrap() {
        let f = e.unwrap().file_name().to_string_lossy().into_owned();
        let sample = f.trim_end_matches(".jsonl");
        assert!(names.iter().any(|n| n == sample), "stale expected file {f}");
    }
}

/// The same capture replayed twice gives the same records (ids, order, counters).
#[test]
fn replay_is_deterministic() {
    for name in ["gen-sll2.pcap", "gen-mixed.pcapng", "gen-garbage.pcap"] {
        let a = run(&["-r", &sample(name)]);
        let b = run(&["-r", &sample(name)]);
        assert_eq!(a.stdout, b.stdout, "{name}");
    }
}

/// The pre-check only skips work: with it off, every record is the same.
#[test]
fn fast_path_equals_slow_path() {
    for name in samples() {
        let fast = run(&["-r", &sample(&name)]);
        let slow = run(&["-r", &sample(&name), "--no-prefilter"]);
        assert_eq!(fast.stdout, slow.stdout, "{name}");
    }
}
