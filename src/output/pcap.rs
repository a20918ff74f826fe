//! Evidence captures (`-w FILE`): the packets behind the records, as a classic pcap file with
//! nanosecond timestamps that tcpdump, tshark and Wireshark open.
//!
//! Like tcpdump's `-w`, the file is created anew (an existing one is replaced); `-C SIZE` starts
//! the next file (FILE1, FILE2, ...) before one would grow past SIZE, `-G SECS` when SECS of
//! packet time have passed since the file's first packet. SIGHUP reopens FILE by name (after
//! logrotate moved it). A write that fails never stops the sensor: the packet is counted as
//! lost and the next one tried; a file a packet of another link type would go into is closed
//! and the next one started, since a pcap file has one link type.

use crate::net::Timestamp;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// pcap's magic for nanosecond timestamps.
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const SNAPLEN: u32 = 262_144;

/// What `-w` did (the `evidence` part of the `stats` record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PcapStats {
    /// Files started (rotation and SIGHUP included).
    pub files: u64,
    pub packets: u64,
    pub bytes: u64,
    /// Packets lost to a write error.
    pub write_errors: u64,
}

/// When to start the next file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// `-C`: bytes a file may hold.
    pub size: Option<u64>,
    /// `-G`: nanoseconds of packet time a file covers.
    pub every_ns: Option<u64>,
}

pub struct PcapWriter {
    base: PathBuf,
    rotation: Rotation,
    out: Option<BufWriter<File>>,
    /// The name of the file being written.
    current: PathBuf,
    linktype: Option<u32>,
    size: u64,
    started: Option<Timestamp>,
    /// Files started so far (the next rotated name's number).
    seq: u64,
    stats: PcapStats,
}

/// `-C` as tcpdump reads it: millions of bytes, or with a k, m or g suffix 1024-based units.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, unit) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1024),
        Some('m' | 'M') => (&s[..s.len() - 1], 1024 * 1024),
        Some('g' | 'G') => (&s[..s.len() - 1], 1024 * 1024 * 1024),
        _ => (s, 1_000_000),
    };
    match num.parse::<u64>() {
        Ok(n) if n > 0 => n
            .checked_mul(unit)
            .ok_or_else(|| format!("'{s}': too large")),
        _ => Err(format!(
            "'{s}': a size such as 100 (millions of bytes), 512k, 10m or 1g"
        )),
    }
}

impl PcapWriter {
    /// Creates FILE now, so a bad path fails before capture starts.
    pub fn create(path: &Path, rotation: Rotation) -> io::Result<Self> {
        let mut w = PcapWriter {
            base: path.to_owned(),
            rotation,
            out: None,
            current: path.to_owned(),
            linktype: None,
            size: 0,
            started: None,
            seq: 0,
            stats: PcapStats::default(),
        };
        w.open(path.to_owned())?;
        Ok(w)
    }

    /// The file packets are written to now (what alert records name).
    pub fn current(&self) -> &Path {
        &self.current
    }

    pub fn stats(&self) -> PcapStats {
        self.stats
    }

    fn open(&mut self, name: PathBuf) -> io::Result<()> {
        if let Some(mut old) = self.out.take() {
            let _ = old.flush();
        }
        let f = File::create(&name)?;
        self.out = Some(BufWriter::with_capacity(1 << 16, f));
        self.current = name;
        self.linktype = None;
        self.size = 0;
        self.started = None;
        self.seq += 1;
        self.stats.files += 1;
        Ok(())
    }

    /// The next file of a rotation: FILE1, FILE2, ... as tcpdump names them.
    fn rotate(&mut self) {
        let mut name = self.base.clone().into_os_string();
        name.push(self.seq.to_string());
        if let Err(e) = self.open(PathBuf::from(name)) {
            tracing::warn!(error = %e, "cannot start the next evidence file");
        }
    }

    /// SIGHUP: FILE again, by name.
    pub fn reopen(&mut self) {
        let base = self.base.clone();
        if let Err(e) = self.open(base) {
            tracing::warn!(error = %e, "cannot reopen the evidence file");
        }
    }

    /// One packet, as it was captured.
    pub fn write(&mut self, ts: Timestamp, linktype: u32, data: &[u8], orig_len: u32) {
        let rec_len = 16 + data.len() as u64;
        let full = self
            .rotation
            .size
            .is_some_and(|max| self.size > 24 && self.size + rec_len > max);
        let late = match (self.rotation.every_ns, self.started) {
            (Some(every), Some(start)) => ts.0 >= start.0.saturating_add(every),
            _ => false,
        };
        let other_link = self.linktype.is_some_and(|l| l != linktype);
        if full || late || other_link {
            self.rotate();
        }
        let Some(out) = self.out.as_mut() else {
            self.stats.write_errors += 1;
            return;
        };
        let mut head = Vec::with_capacity(24);
        if self.linktype.is_none() {
            head.extend(MAGIC_NS.to_le_bytes());
            head.extend(2u16.to_le_bytes());
            head.extend(4u16.to_le_bytes());
            head.extend([0u8; 8]);
            head.extend(SNAPLEN.to_le_bytes());
            head.extend(linktype.to_le_bytes());
        }
        let caplen = data.len().min(SNAPLEN as usize);
        let mut rec = Vec::with_capacity(16);
        rec.extend((ts.secs() as u32).to_le_bytes());
        rec.extend((ts.subsec_nanos() as u32).to_le_bytes());
        rec.extend((caplen as u32).to_le_bytes());
        rec.extend(orig_len.max(caplen as u32).to_le_bytes());
        let r = out
            .write_all(&head)
            .and_then(|()| out.write_all(&rec))
            .and_then(|()| out.write_all(&data[..caplen]));
        match r {
            Ok(()) => {
                if self.linktype.is_none() {
                    self.linktype = Some(linktype);
                    self.size += head.len() as u64;
                }
                self.started.get_or_insert(ts);
                self.size += rec_len;
                self.stats.packets += 1;
                self.stats.bytes += rec_len;
            }
            Err(_) => self.stats.write_errors += 1,
        }
    }

    pub fn flush(&mut self) {
        if let Some(out) = self.out.as_mut() {
            if out.flush().is_err() {
                self.stats.write_errors += 1;
            }
        }
    }
}

impl Drop for PcapWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_tcpdump_reads_them() {
        assert_eq!(parse_size("10"), Ok(10_000_000));
        assert_eq!(parse_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_size("2M"), Ok(2 * 1024 * 1024));
        assert!(parse_size("0").is_err() && parse_size("x").is_err() && parse_size("").is_err());
    }

    #[test]
    fn rotates_by_size_and_time_and_names_files_as_tcpdump() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("ev.pcap");
        let mut w = PcapWriter::create(
            &base,
            Rotation {
                size: Some(24 + 2 * (16 + 100)),
                every_ns: Some(10_000_000_000),
            },
        )
        .unwrap();
        let pkt = [0u8; 100];
        for i in 0..5 {
            w.write(Timestamp::from_parts(100 + i, 0), 1, &pkt, 100);
        }
        // a time jump starts a file of its own
        w.write(Timestamp::from_parts(200, 0), 1, &pkt, 100);
        w.flush();
        assert_eq!(w.current(), dir.path().join("ev.pcap3"));
        let sizes: Vec<u64> = ["ev.pcap", "ev.pcap1", "ev.pcap2", "ev.pcap3"]
            .iter()
            .map(|n| std::fs::metadata(dir.path().join(n)).unwrap().len())
            .collect();
        assert_eq!(sizes, [256, 256, 140, 140]);
        assert_eq!(w.stats().packets, 6);
        assert_eq!(w.stats().files, 4);
    }
}
