//! Corrupt and unusual capture inputs: each gives one clear error line and the documented exit
//! status (2: the input), and whatever was decoded before the damage is still written, with
//! the final `stats` record.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p.to_str().unwrap().to_owned()
}

/// The error contract, and the records before the damage: `packets` decoded, records written.
fn check(r: &Run, needle: &str, packets: u64) {
    r.assert_clean_error(2, needle);
    if packets == 0 {
        assert!(r.stdout.is_empty(), "records without packets: {}", r.stdout);
        return;
    }
    let stats = r.of_type("stats");
    assert_eq!(stats.len(), 1, "final stats after the error");
    assert_eq!(stats[0]["stats"]["capture"]["packets"], packets);
    assert!(r.records().len() > 1, "records before the damage are kept");
}

#[test]
fn truncated_global_header() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(root().join("samples/gen-vlan.pcap")).unwrap();
    for len in [1, 4, 10, 23] {
        let p = write(dir.path(), "short.pcap", &full[..len]);
        let r = run(&["-q", "-r", &p]);
        assert_eq!(r.code, 2, "{len}: {}", r.stderr);
        r.assert_clean_error(2, "short.pcap");
        assert!(r.stdout.is_empty());
    }
}

#[test]
fn truncated_record_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(root().join("samples/gen-policy.pcap")).unwrap();
    // inside the last record header, and inside the last record's data
    for cut in [full.len() - 70, full.len() - 3] {
        let p = write(dir.path(), "cut.pcap", &full[..cut]);
        let r = run(&["-q", "-r", &p]);
        let n = r.of_type("stats")[0]["stats"]["capture"]["packets"]
            .as_u64()
            .unwrap();
        check(
            &r,
            &format!("cut short in the middle of a record after {n} packets"),
            n,
        );
        assert!(n > 50);
    }
}

#[test]
fn absurd_caplen_mid_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(root().join("samples/gen-policy.pcap")).unwrap();
    // walk to the 10th record and claim 4 GiB for it
    let mut off = 24;
    for _ in 0..9 {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    b[off + 8..off + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let p = write(dir.path(), "huge.pcap", &b);
    let r = run(&["-q", "-r", &p]);
    check(
        &r,
        "has a record of 4294967280 bytes or more after 9 packets",
        9,
    );
    // the same through the general reader (stdin)
    let mut child = Command::new(bin())
        .args(["-q", "-r", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&b).unwrap();
    let r: Run = child.wait_with_output().unwrap().into();
    r.assert_clean_error(2, "after 9 packets");
}

#[test]
fn wrong_magic_and_zero_length() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(root().join("samples/gen-vlan.pcap")).unwrap();
    b[..4].copy_from_slice(b"\x0b\xad\xf0\x0d");
    let p = write(dir.path(), "magic.pcap", &b);
    check(
        &run(&["-q", "-r", &p]),
        "is not a pcap or pcapng capture file",
        0,
    );
    let p = write(dir.path(), "empty.pcap", b"");
    check(&run(&["-q", "-r", &p]), "empty file", 0);
}

#[test]
fn pcapng_with_bad_block_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let b = std::fs::read(root().join("samples/gen-mixed.pcapng")).unwrap();
    // the offset of the last block
    let (mut off, mut last) = (0usize, 0usize);
    while off + 8 <= b.len() {
        last = off;
        off += u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap()) as usize;
    }
    for (len, needle) in [
        (8u32, "shorter than a block header"),
        (0x1001, "cut short"),
        (0x7fff_fff0, "cut short"),
    ] {
        let mut c = b.clone();
        c[last + 4..last + 8].copy_from_slice(&len.to_le_bytes());
        let p = write(dir.path(), "bad.pcapng", &c);
        let r = run(&["-q", "-r", &p]);
        check(&r, needle, 6);
    }
}

#[test]
fn directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    check(
        &run(&["-q", "-r", dir.path().to_str().unwrap()]),
        "is a directory, not a capture file",
        0,
    );
}

/// A named pipe is read like stdin: a capture through it works, garbage through it is a clean
/// error, and a writer that closes at once is an empty input.
#[test]
fn fifo_input() {
    if !have("mkfifo") {
        return skip_or_fail("mkfifo is missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("cap.fifo");
    let f = fifo.to_str().unwrap().to_owned();
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let feed = |bytes: Vec<u8>| {
        let path = fifo.clone();
        std::thread::spawn(move || {
            let mut w = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            let _ = w.write_all(&bytes);
        })
    };
    // A reader that waits for a writer forever must fail the test, not hang it.
    let run = |args: &[&str]| -> Run {
        let r: Run = Command::new("timeout")
            .arg("30")
            .arg(bin())
            .args(args)
            .current_dir(root())
            .output()
            .unwrap()
            .into();
        assert_ne!(r.code, 124, "bjnp-watch hung on the FIFO");
        r
    };
    let good = std::fs::read(root().join("samples/gen-vlan.pcap")).unwrap();
    let t = feed(good);
    let r = run(&["-q", "-r", &f]);
    t.join().unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let direct = run(&["-q", "-r", "samples/gen-vlan.pcap"]);
    assert_eq!(r.of_type("bjnp").len(), direct.of_type("bjnp").len());

    let t = feed(b"this is not a capture file at all, just text\n".to_vec());
    let r = run(&["-q", "-r", &f]);
    t.join().unwrap();
    check(&r, "is not a pcap or pcapng capture file", 0);

    let t = feed(vec![]);
    let r = run(&["-q", "-r", &f]);
    t.join().unwrap();
    check(&r, "empty file", 0);
}
