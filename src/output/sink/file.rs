//! One record per line on stdout or appended to a file. The file is reopened by path on SIGHUP
//! so logrotate can move it away: records written before the signal stay in the old file,
//! records after it go to the new one, none is lost in between.

use super::{Meta, Sent, Transport};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const BUFFER: usize = 1 << 16;

pub struct LineSink {
    path: Option<PathBuf>,
    w: BufWriter<Box<dyn Write + Send>>,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl LineSink {
    pub fn stdout() -> Self {
        LineSink {
            path: None,
            w: BufWriter::with_capacity(BUFFER, Box::new(io::stdout())),
        }
    }

    /// Opens (creates) `path` for appending now, so a bad path fails before capture starts.
    pub fn file(path: &Path) -> io::Result<Self> {
        let f = open_append(path)?;
        Ok(LineSink {
            path: Some(path.to_owned()),
            w: BufWriter::with_capacity(BUFFER, Box::new(f)),
        })
    }
}

impl Transport for LineSink {
    fn send(&mut self, line: &[u8], _meta: Meta) -> io::Result<Sent> {
        self.w.write_all(line)?;
        self.w.write_all(b"\n")?;
        Ok(Sent::Written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    fn reopen(&mut self) -> io::Result<bool> {
        let Some(path) = &self.path else {
            return Ok(false);
        };
        // Everything buffered belongs to the old file.
        self.w.flush()?;
        let f = open_append(path)?;
        self.w = BufWriter::with_capacity(BUFFER, Box::new(f));
        Ok(true)
    }

    fn description(&self) -> String {
        match &self.path {
            Some(p) => format!("file {}", p.display()),
            None => "stdout".into(),
        }
    }
}
