//! The command line: sources, filters, outputs, and a clean one-line error with the documented
//! exit status for every kind of bad input.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};

#[test]
fn help_has_examples_and_exit_codes() {
    let r = run(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Examples:") && r.stdout.contains("bjnp-watch -r"));
    assert!(r.stdout.contains("Exit status"));
    assert!(r.stdout.contains("8611 printing, 8612 scanning"));
}

#[test]
fn missing_file() {
    let r = run(&["-r", "samples/does-not-exist.pcap"]);
    r.assert_clean_error(2, "No such file");
    assert!(r.stdout.is_empty(), "no stats record when nothing was read");
}

#[test]
fn directory() {
    run(&["-r", "samples"]).assert_clean_error(2, "is a directory");
}

#[test]
fn not_a_capture_and_empty_file() {
    run(&["-r", "Cargo.toml"]).assert_clean_error(2, "not a pcap or pcapng");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    run(&["-r", empty.to_str().unwrap()]).assert_clean_error(2, "empty file");
}

#[test]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("bjnpw-ro")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let f = dir.path().join("secret.pcap");
    std::fs::copy(root().join("samples/gen-vlan.pcap"), &f).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o000)).unwrap();
    let path = f.to_str().unwrap();
    // root reads anything: drop to nobody for this one run
    let r = as_nobody(&["-r", path]).unwrap_or_else(|| run(&["-r", path]));
    r.assert_clean_error(2, "Permission denied");
    assert!(
        r.stdout.is_empty(),
        "nothing was read, so no stats record: {}",
        r.stdout
    );
}

#[test]
fn capture_cut_in_the_middle_of_a_record() {
    let full = std::fs::read(root().join("samples/gen-sll2.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.pcap");
    // 24-byte header; cut 10 bytes into the last record
    std::fs::write(&cut, &full[..full.len() - 30]).unwrap();
    let r = run(&["-r", cut.to_str().unwrap()]);
    r.assert_clean_error(2, "cut short in the middle of a record after 18 packets");
    // the records decoded before the cut are written, and the final stats
    let full_run = run(&["-r", "samples/gen-sll2.pcap"]);
    assert!(!r.of_type("bjnp").is_empty());
    assert_eq!(r.of_type("stats").len(), 1);
    assert_eq!(r.of_type("stats")[0]["stats"]["capture"]["packets"], 18);
    assert!(r.of_type("bjnp").len() <= full_run.of_type("bjnp").len());
}

#[test]
fn absurd_record_length() {
    let mut f = std::fs::read(root().join("samples/gen-vlan.pcap")).unwrap();
    // first record header at 24: caplen at 32..36 := 0xfffffff0
    f[32..36].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("huge.pcap");
    std::fs::write(&p, &f).unwrap();
    let r = run(&["-r", p.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("bjnp-watch: error: ") && r.stderr.lines().count() == 1);
    assert!(r.stderr.contains("after 0 packets"), "{}", r.stderr);
}

#[test]
fn bad_filter_and_conflicting_flags() {
    run(&["-r", "samples/gen-vlan.pcap", "-f", "udp port banana"])
        .assert_clean_error(2, "bad filter expression");
    let r = run(&["-r", "samples/gen-vlan.pcap", "-i", "lo"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("cannot be used with"));
    let r = run(&["-r", "samples/gen-vlan.pcap", "--snaplen", "100"]);
    assert_eq!(r.code, 2);
    let r = run(&[]);
    assert_eq!(r.code, 2);
    let r = run(&["--bogus"]);
    assert_eq!(r.code, 2);
}

#[test]
fn unknown_interface() {
    run(&["-i", "nosuchif0"]).assert_clean_error(2, "no such interface 'nosuchif0'");
}

#[test]
fn no_permission_to_capture() {
    let r = match as_nobody(&["-i", "lo"]) {
        Some(r) => r,
        // Not root: our own run has no capability, which is the case itself.
        None => run(&["-i", "lo"]),
    };
    r.assert_clean_error(1, "setcap cap_net_raw,cap_net_admin=eip");
    assert!(r.stdout.is_empty());
}

#[test]
fn stdin_and_several_files_share_flow_state() {
    let data = std::fs::read(root().join("samples/gen-vlan.pcap")).unwrap();
    let mut child = Command::new(bin())
        .args(["-r", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // dribble it in small writes: the reader must not need the whole header in one read
    let mut stdin = child.stdin.take().unwrap();
    for chunk in data.chunks(7) {
        stdin.write_all(chunk).unwrap();
    }
    drop(stdin);
    let r = Run::from(child.wait_with_output().unwrap());
    assert_eq!(r.code, 0);
    let bj = r.of_type("bjnp");
    assert_eq!(bj.len(), 2);
    assert_eq!(bj[0]["pcap_filename"], "-");

    // the same file twice: one flow across both, pcap_cnt restarting per file
    let r = run(&["-r", "samples/gen-vlan.pcap", "-r", "samples/gen-vlan.pcap"]);
    let bj = r.of_type("bjnp");
    assert_eq!(bj.len(), 4);
    assert_eq!(bj[0]["flow_id"], bj[2]["flow_id"]);
    assert_eq!(bj[0]["pcap_cnt"], bj[2]["pcap_cnt"]);
    let st = &r.of_type("stats")[0]["stats"];
    assert_eq!(st["capture"]["files"], 2);
    assert_eq!(st["flow"]["created"], 1);
}

#[test]
fn glob_is_expanded_in_order() {
    let r = run(&["-r", "samples/gen-v*.pcap"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.of_type("stats")[0]["stats"]["capture"]["files"], 1);
    let r = run(&["-r", "samples/gen-[lq]*.pcap"]);
    let files: Vec<String> = r
        .of_type("bjnp")
        .iter()
        .map(|x| x["pcap_filename"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted);
    assert!(
        files.iter().any(|f| f.contains("loopback")) && files.iter().any(|f| f.contains("qinq"))
    );
    run(&["-r", "samples/nothing-*.pcap"]).assert_clean_error(2, "no file matches");
}

#[test]
fn offline_filter_applies_on_replay() {
    // (IPv4: libpcap's `port` does not look past IPv6 extension headers)
    let all = run(&["-r", "samples/gen-mfnp.pcap"]);
    let some = run(&["-r", "samples/gen-mfnp.pcap", "-f", "udp port 8612"]);
    assert_eq!(some.code, 0);
    let n_all = all.of_type("bjnp").len();
    let n_some = some.of_type("bjnp").len();
    assert!(n_some > 0 && n_some < n_all, "{n_some} of {n_all}");
    assert!(some
        .of_type("bjnp")
        .iter()
        .all(|r| r["src_port"] == 8612 || r["dest_port"] == 8612));
    let st = &some.of_type("stats")[0]["stats"]["capture"];
    assert!(st["filtered"].as_u64().unwrap() > 0);
    // pcapng with three link types: one program per link type
    let r = run(&["-r", "samples/gen-mixed.pcapng", "-f", "udp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.of_type("bjnp").is_empty());
}

#[test]
fn output_file_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eve.json");
    let o = out.to_str().unwrap();
    assert_eq!(run(&["-r", "samples/gen-vlan.pcap", "-o", o]).code, 0);
    let first = std::fs::read_to_string(&out).unwrap();
    assert_eq!(run(&["-r", "samples/gen-vlan.pcap", "-o", o]).code, 0);
    let both = std::fs::read_to_string(&out).unwrap();
    assert_eq!(both, format!("{first}{first}"));
    run(&[
        "-r",
        "samples/gen-vlan.pcap",
        "-o",
        "/nonexistent/dir/x.json",
    ])
    .assert_clean_error(2, "cannot open output");
}

#[test]
fn closed_stdout_is_not_an_error() {
    let mut child = Command::new(bin())
        .args(["-r", "samples/gen-sll2.pcap", "-r", "samples/gen-sll2.pcap"])
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

#[test]
fn list_interfaces() {
    let r = run(&["--list-interfaces"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("lo\t")),
        "{}",
        r.stdout
    );
}
