//! Helpers shared by the integration tests: run the built binary, read its records.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_bjnp-watch")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn records(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
    pub fn of_type(&self, t: &str) -> Vec<serde_json::Value> {
        self.records()
            .into_iter()
            .filter(|r| r["event_type"] == t)
            .collect()
    }
    /// The one-line error contract: a message, no panic, no backtrace.
    pub fn assert_clean_error(&self, code: i32, needle: &str) {
        assert_eq!(self.code, code, "exit code; stderr: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got: {:?}", self.stderr);
        assert!(lines[0].starts_with("bjnp-watch: error: "), "{}", lines[0]);
        assert!(
            self.stderr.contains(needle),
            "{needle:?} not in {:?}",
            self.stderr
        );
        assert!(!self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"));
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs the binary from the crate root (so sample paths in records are stable).
pub fn run(args: &[&str]) -> Run {
    Command::new(bin())
        .args(args)
        .current_dir(root())
        .output()
        .expect("run bjnp-watch")
        .into()
}

/// Every capture in samples/, by name, sorted.
pub fn samples() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root().join("samples"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pcap") || n.ends_with(".pcapng"))
        .collect();
    v.sort();
    v
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A test that cannot run here says so loudly; under CI it fails instead. Written straight to
/// the process's stderr: libtest captures `eprintln!` of passing tests, and a skip must show.
pub fn skip_or_fail(why: &str) {
    use std::io::Write;
    let banner = format!("\n!!!!!!!! SKIPPED: {why} !!!!!!!!\n");
    if std::env::var_os("CI").is_some() {
        panic!("{banner}(CI must run this test)");
    }
    let _ = std::io::stderr().write_all(banner.as_bytes());
}

/// A copy of the binary that any user can run (the checkout may sit under a 0700 home
/// directory), in a directory that lives as long as the returned guard.
pub fn world_readable_copy() -> (tempfile::TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("bjnpw-bin")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.path().join("bjnp-watch");
    // Copied by `cp`, not by this process: a test thread that forks while this process holds
    // the copy open for writing hands the descriptor to its child until that child execs, and
    // running the copy meanwhile fails with "Text file busy" (seen in CI).
    let copied = Command::new("cp")
        .arg(bin())
        .arg(&copy)
        .status()
        .is_ok_and(|s| s.success());
    assert!(copied, "cp {} {}", bin(), copy.display());
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, copy)
}

/// A command running the binary as `nobody` with no capabilities (root only). The binary is
/// copied to a world-readable place first: the checkout may sit under a 0700 home directory.
pub fn as_nobody(args: &[&str]) -> Option<Run> {
    if !is_root() || !have("setpriv") {
        return None;
    }
    let (dir, copy) = world_readable_copy();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&copy)
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    Some(out.into())
}

/// The lines of a child's stderr that contain one of `needles`, as they come; every line is
/// echoed to the test's own stderr after `[tag]`, so a failure shows what the child said.
pub fn watch_stderr(
    child: &mut std::process::Child,
    tag: &'static str,
    needles: &'static [&'static str],
) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().expect("the child's stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            eprintln!("[{tag}] {line}");
            if needles.iter().any(|n| line.contains(n)) {
                let _ = tx.send(line);
            }
        }
    });
    rx
}

pub fn sample(name: &str) -> String {
    format!("samples/{name}")
}

/// Every frame of every sample, in order: (link type, bytes).
pub fn sample_frames() -> Vec<(u32, Vec<u8>)> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut out = vec![];
    for name in samples() {
        let path = root().join("samples").join(name);
        bjnp_watch::capture::replay::replay(&path, None, &stop, &mut |f, _| {
            out.push((f.linktype, f.data.to_vec()))
        })
        .unwrap();
    }
    out
}

/// A classic pcap file header: microseconds, Ethernet, 64 KiB snaplen (for captures a test
/// builds frame by frame).
pub fn pcap_header() -> Vec<u8> {
    let mut v = vec![];
    v.extend(0xa1b2c3d4u32.to_le_bytes());
    v.extend(2u16.to_le_bytes());
    v.extend(4u16.to_le_bytes());
    v.extend([0u8; 8]);
    v.extend(65535u32.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    v
}

/// Network namespaces a test made, deleted when it ends, however it ends.
pub struct Netns(pub Vec<String>);

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// A shell command's success.
pub fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

/// A 20-byte IPv4 header (DF, TTL 64) with its checksum, for `payload_len` bytes of `proto`
/// (6 TCP, 17 UDP) from `src` to `dst`.
pub fn ipv4_header(src: [u8; 4], dst: [u8; 4], proto: u8, payload_len: u16) -> Vec<u8> {
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
    ip[2..4].copy_from_slice(&(20 + payload_len).to_be_bytes());
    ip.extend(src);
    ip.extend(dst);
    let sum = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    ip
}
