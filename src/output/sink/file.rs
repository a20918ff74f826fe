//! One record per line on stdout or appended to a file.
//!
//! The file is reopened by path on SIGHUP so logrotate can move it away: records written before
//! the signal stay in the old file, records after it go to the new one. A reopen that fails
//! (the directory moved, or not writable by the `-Z` user) keeps the open file.
//!
//! A record is on disk whole or not at all. Records are buffered and written together; when a
//! write fails (disk full, I/O error) the part of a record that did reach the file is cut off
//! again, the records that did not fit are counted as lost, and the sink drops records (counted)
//! while it waits to try again, backing off from 1 s to 30 s: the sensor never dies of a full
//! disk. A file that ends mid-line (an earlier run cut short) gets a newline before the first
//! new record, so two records never glue into one line.

use super::{Flushed, Meta, Sent, SinkTrouble, Transport};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BUFFER: usize = 1 << 16;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

enum Out {
    Stdout(io::Stdout),
    File(File),
}

pub struct LineSink {
    path: Option<PathBuf>,
    out: Out,
    /// Records not yet written, back to back, each ending in a newline.
    buf: Vec<u8>,
    /// Where each buffered record ends in `buf`.
    ends: Vec<usize>,
    /// Records written or lost since the last [`Transport::flush`] report.
    report: Flushed,
    /// After a write error: records are dropped until then.
    retry_at: Option<Instant>,
    backoff: Duration,
    /// What went wrong, for the writer's warning (taken once).
    trouble: Option<SinkTrouble>,
    /// A line was left cut (an earlier run, or a file that could not shrink): a newline first.
    need_newline: bool,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Whether the file at `path` ends in the middle of a line (its last byte is not a newline).
/// Read through a handle of its own: the sink's is append-only.
fn ends_mid_line(path: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(f) = File::open(path) else {
        return false;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    let mut last = [0u8; 1];
    len > 0 && f.read_at(&mut last, len - 1).is_ok() && last[0] != b'\n'
}

impl LineSink {
    fn with(path: Option<PathBuf>, out: Out) -> Self {
        LineSink {
            path,
            out,
            buf: Vec::with_capacity(BUFFER + 8192),
            ends: Vec::new(),
            report: Flushed::default(),
            retry_at: None,
            backoff: BACKOFF_MIN,
            trouble: None,
            need_newline: false,
        }
    }

    pub fn stdout() -> Self {
        LineSink::with(None, Out::Stdout(io::stdout()))
    }

    /// Opens (creates) `path` for appending now, so a bad path fails before capture starts.
    pub fn file(path: &Path) -> io::Result<Self> {
        let f = open_append(path)?;
        let mut sink = LineSink::with(Some(path.to_owned()), Out::File(f));
        sink.mend_tail();
        Ok(sink)
    }

    /// An earlier writer left half a line: end it, so the next record starts a line of its own.
    fn mend_tail(&mut self) {
        if let (Out::File(_), Some(p)) = (&self.out, &self.path) {
            self.need_newline = ends_mid_line(p);
        }
    }

    /// Writes the buffer. On an error, what reached the file of a cut record is removed again;
    /// returns the error and how many records were lost.
    fn write_out(&mut self) -> Result<bool, (io::Error, u64)> {
        if self.buf.is_empty() {
            return Ok(false);
        }
        let mut done = 0;
        let mut result = Ok(());
        if self.need_newline {
            result = match &mut self.out {
                Out::File(f) => f.write_all(b"\n"),
                Out::Stdout(_) => Ok(()),
            };
            self.need_newline = result.is_err();
        }
        while result.is_ok() && done < self.buf.len() {
            let w = match &mut self.out {
                Out::Stdout(s) => s.write(&self.buf[done..]),
                Out::File(f) => f.write(&self.buf[done..]),
            };
            match w {
                Ok(0) => result = Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => result = Err(e),
            }
        }
        let whole = self.ends.iter().take_while(|&&e| e <= done).count();
        let whole_end = if whole == 0 { 0 } else { self.ends[whole - 1] };
        self.report.written += whole as u64;
        let lost = (self.ends.len() - whole) as u64;
        self.buf.clear();
        self.ends.clear();
        match result {
            Ok(()) => Ok(true),
            Err(e) => {
                let partial = (done - whole_end) as u64;
                if partial > 0 {
                    let cut = match &self.out {
                        Out::File(f) => f
                            .metadata()
                            .and_then(|m| f.set_len(m.len().saturating_sub(partial))),
                        Out::Stdout(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
                    };
                    // a file that cannot shrink keeps the cut line: the next record starts a
                    // new one after it
                    self.need_newline |= cut.is_err();
                }
                self.report.lost += lost;
                Err((e, lost))
            }
        }
    }

    /// Writes the buffer: a file's write error is survived (records counted as lost, then
    /// dropped while the sink backs off), stdout's is the end of output (its reader went away).
    fn write_buffer(&mut self) -> io::Result<()> {
        match self.write_out() {
            Ok(wrote) => {
                if wrote {
                    // records reached the file again: the trouble is over
                    if let Some(t) = &mut self.trouble {
                        t.recovered = true;
                    }
                    self.backoff = BACKOFF_MIN;
                }
                Ok(())
            }
            Err((e, lost)) if matches!(self.out, Out::File(_)) => {
                self.retry_at = Some(Instant::now() + self.backoff);
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                let t = self.trouble.get_or_insert_with(|| SinkTrouble {
                    error: String::new(),
                    lost: 0,
                    recovered: false,
                    reported: false,
                });
                t.error = e.to_string();
                t.lost += lost;
                t.recovered = false;
                Ok(())
            }
            Err((e, _)) => Err(e),
        }
    }
}

impl Transport for LineSink {
    fn send(&mut self, line: &[u8], _meta: Meta) -> io::Result<Sent> {
        if let Some(at) = self.retry_at {
            if Instant::now() < at {
                if let Some(t) = &mut self.trouble {
                    t.lost += 1;
                }
                return Ok(Sent::Dropped);
            }
            self.retry_at = None;
        }
        self.buf.extend_from_slice(line);
        self.buf.push(b'\n');
        self.ends.push(self.buf.len());
        if self.buf.len() >= BUFFER {
            self.write_buffer()?;
        }
        Ok(Sent::Buffered)
    }

    fn flush(&mut self) -> io::Result<Flushed> {
        self.write_buffer()?;
        if let Out::Stdout(s) = &mut self.out {
            s.flush()?;
        }
        Ok(std::mem::take(&mut self.report))
    }

    fn reopen(&mut self) -> io::Result<bool> {
        let Some(path) = self.path.clone() else {
            return Ok(false);
        };
        // Everything buffered belongs to the old file.
        self.write_buffer()?;
        let f = open_append(&path)?;
        self.out = Out::File(f);
        self.mend_tail();
        Ok(true)
    }

    fn trouble(&mut self) -> Option<SinkTrouble> {
        let t = self.trouble.as_mut()?;
        if t.recovered {
            let mut done = self.trouble.take()?;
            done.reported = true;
            return Some(done);
        }
        if !t.reported {
            t.reported = true;
            return Some(t.clone());
        }
        None
    }

    fn description(&self) -> String {
        match &self.path {
            Some(p) => format!("file {}", p.display()),
            None => "stdout".into(),
        }
    }
}
