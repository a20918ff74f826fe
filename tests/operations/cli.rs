//! The command line: sources, filters, outputs, and a clean one-line error with the documented
//! exit status for every kind of bad input.

#[path = "../common/mod.rs"]
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

/// tcpdump's habit: the filter expression after the options is the same as `-f EXPR`.
#[test]
fn trailing_filter_expression_is_the_filter() {
    let trailing = run(&["-r", "samples/gen-policy.pcap", "-q", "udp", "port", "8611"]);
    let flag = run(&["-r", "samples/gen-policy.pcap", "-q", "-f", "udp port 8611"]);
    assert_eq!(trailing.code, 0, "{}", trailing.stderr);
    assert_eq!(trailing.stdout, flag.stdout);
    assert!(trailing.of_type("flow").iter().all(|f| f["proto"] == "UDP"));
    assert!(!trailing.of_type("flow").is_empty());
    let both = run(&["-r", "samples/gen-policy.pcap", "-f", "udp", "tcp"]);
    assert_eq!(both.code, 2, "-f and a trailing expression conflict");
    run(&["-r", "samples/gen-policy.pcap", "udp", "prot", "8611"])
        .assert_clean_error(2, "bad filter expression 'udp prot 8611'");
}

/// `-c COUNT`: the run stops after COUNT packets, as tcpdump's does, and still ends cleanly.
#[test]
fn count_stops_after_that_many_packets() {
    let r = run(&["-r", "samples/gen-policy.pcap", "-c", "5", "-q"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let stats = r.of_type("stats");
    assert_eq!(stats.len(), 1, "the final stats record is written");
    assert_eq!(stats[0]["stats"]["capture"]["packets"], 5);
    let all = run(&["-r", "samples/gen-policy.pcap", "-q"]);
    assert!(
        all.of_type("stats")[0]["stats"]["capture"]["packets"]
            .as_u64()
            .unwrap()
            > 5
    );
    // counted after the filter, as tcpdump counts
    let r = run(&["-r", "samples/gen-policy.pcap", "-c", "2", "-q", "udp"]);
    let st = &r.of_type("stats")[0]["stats"]["capture"];
    assert_eq!(
        st["packets"].as_u64().unwrap() - st["filtered"].as_u64().unwrap(),
        2,
        "{st}"
    );
    assert_eq!(run(&["-r", "samples/gen-policy.pcap", "-c", "0"]).code, 2);
}

/// `--check-config`: checks what a run would check, prints the effective policy (a policy
/// file that reads back as the same policy), exits 0; any problem is the usual error, 2.
#[test]
fn check_config_validates_and_prints_the_effective_policy() {
    let ok = run(&[
        "--check-config",
        "--policy",
        "tests/policy/site.toml",
        "-r",
        "samples/gen-policy.pcap",
    ]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stdout.starts_with("configuration OK\n"), "{}", ok.stdout);
    assert!(ok.stdout.contains("blocked_ports = [9100]"));
    assert!(
        ok.stdout.contains("[scan]\nhosts = 8\n"),
        "defaults are spelled out"
    );
    assert!(
        ok.stdout.is_empty() || !ok.stdout.contains("\"event_type\""),
        "no records"
    );
    // the printed policy is a policy file that means the same
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("effective.toml");
    let body: String = ok
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#') && *l != "configuration OK")
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&again, &body).unwrap();
    let second = run(&["--check-config", "--policy", again.to_str().unwrap()]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let body2: String = second
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#') && *l != "configuration OK")
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(body2, body);
    // what a run would refuse, --check-config refuses, without starting anything
    let out = dir.path().join("no/such/dir/eve.json");
    run(&[
        "--check-config",
        "-r",
        "samples/gen-policy.pcap",
        "-o",
        out.to_str().unwrap(),
    ])
    .assert_clean_error(2, "cannot open output");
    run(&["--check-config", "-r", "samples/nope.pcap"]).assert_clean_error(2, "nope.pcap");
    run(&["--check-config", "-f", "port nonsense"]).assert_clean_error(2, "bad filter");
    run(&["--check-config", "-Z", "no-such-user-bjnpw"])
        .assert_clean_error(2, "no-such-user-bjnpw");
    run(&["--check-config", "-i", "no-such-if0"]).assert_clean_error(2, "no-such-if0");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "blocked_ports = [\"x\"]\n").unwrap();
    run(&["--check-config", "--policy", bad.to_str().unwrap()]).assert_clean_error(2, "line 1");
    assert!(!out.exists());
}

/// Completions for bash, zsh and fish and the man page come from the same flag definitions.
#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let r = run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for flag in ["check-config", "blocked-port", "verify"] {
            assert!(r.stdout.contains(flag), "{shell} completion lacks {flag}");
        }
        if have(shell) {
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &r.stdout).unwrap();
            let check = std::process::Command::new(shell)
                .arg(if shell == "fish" {
                    "--no-execute"
                } else {
                    "-n"
                })
                .arg(file.path())
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{shell} rejects its completion script: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
    let man = run(&["man"]);
    assert_eq!(man.code, 0);
    assert!(
        man.stdout.contains(".TH bjnp-watch 1"),
        "{}",
        &man.stdout[..200.min(man.stdout.len())]
    );
    for flag in ["check\\-config", "blocked\\-port", "\\-c\\fR"] {
        assert!(man.stdout.contains(flag), "man page lacks {flag}");
    }
    assert_eq!(run(&["completions", "tcsh"]).code, 2);
}

/// `-v`: diagnostics without RUST_LOG; none by default.
#[test]
fn verbose_flag_turns_on_diagnostics() {
    let quiet = run(&["-r", "samples/gen-policy.pcap", "-q"]);
    assert!(!quiet.stderr.contains("replaying"), "{}", quiet.stderr);
    let v = run(&["-r", "samples/gen-policy.pcap", "-q", "-v"]);
    assert!(v.stderr.contains("replaying"), "{}", v.stderr);
    assert!(!v.stderr.contains("replay settings"));
    let vv = run(&["-r", "samples/gen-policy.pcap", "-q", "-vv"]);
    assert!(vv.stderr.contains("replay settings"), "{}", vv.stderr);
}

/// `make install` (here its second half, for the binary under test) puts the binary, the man
/// page and the completions where man, bash, zsh and fish look for them.
#[test]
fn make_install_puts_man_page_and_completions_in_place() {
    if !have("make") {
        return skip_or_fail("make is not installed");
    }
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new("make")
        .args([
            "-s",
            "install-files",
            &format!("BIN={}", bin()),
            "PREFIX=/usr",
        ])
        .arg(format!("DESTDIR={}", dest.path().display()))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let usr = dest.path().join("usr");
    for f in [
        "bin/bjnp-watch",
        "share/man/man1/bjnp-watch.1",
        "share/bash-completion/completions/bjnp-watch",
        "share/zsh/site-functions/_bjnp-watch",
        "share/fish/vendor_completions.d/bjnp-watch.fish",
    ] {
        let len = std::fs::metadata(usr.join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{f} missing or empty");
    }
    if have("man") {
        let page = Command::new("man")
            .arg("-l")
            .arg(usr.join("share/man/man1/bjnp-watch.1"))
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "100")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&page.stdout);
        assert!(
            text.contains("--check-config"),
            "man renders the page: {text}"
        );
    }
}

/// `tcpdump -w - | bjnp-watch -r -` on a quiet link: the first SIGINT (or SIGTERM) ends the
/// replay at once, with the final stats and exit 0, although the pipe stays open and silent.
#[test]
fn idle_pipe_is_interrupted_promptly() {
    let sample = std::fs::read(root().join("samples/gen-policy.pcap")).unwrap();
    // the pcap header and the first record: a packet, then silence
    let first_len = u32::from_le_bytes(sample[24 + 8..24 + 12].try_into().unwrap()) as usize;
    let head = &sample[..24 + 16 + first_len];
    for (signal, before_header) in [("-INT", false), ("-TERM", false), ("-INT", true)] {
        let mut child = Command::new(bin())
            .args(["-r", "-", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if !before_header {
            stdin.write_all(head).unwrap();
            stdin.flush().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let sent = std::time::Instant::now();
        assert!(Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        // bounded: the child is killed if it does not end by itself
        let mut done = None;
        for _ in 0..50 {
            if let Some(st) = child.try_wait().unwrap() {
                done = Some(st);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let waited = sent.elapsed();
        if done.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        drop(stdin);
        let status = done.unwrap_or_else(|| panic!("{signal}: still running 5 s after the signal"));
        assert_eq!(
            status.code(),
            Some(0),
            "{signal}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            waited < std::time::Duration::from_secs(2),
            "{signal}: took {waited:?}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stats: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("\"event_type\":\"stats\""))
            .collect();
        if before_header {
            assert_eq!(stats.len(), 1, "stopped before the header: {stdout}");
            assert!(stats[0].contains("\"packets\":0,"), "{}", stats[0]);
            assert!(
                !stats[0].contains("1970-"),
                "timestamped by the clock: {}",
                stats[0]
            );
        } else {
            assert_eq!(stats.len(), 1, "{signal}: the final stats record: {stdout}");
            assert!(stats[0].contains("\"packets\":1,"), "{}", stats[0]);
        }
    }
}
