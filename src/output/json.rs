//! EVE-style JSON lines: one record per line, UTF-8, every wire string escaped by serde_json.

use super::RecordSink;
use crate::event::Record;
use std::io::{self, Write};

pub struct JsonLines<W: Write> {
    w: W,
    /// The first write error; later records are dropped and the error is reported at the end,
    /// so a full disk stops output without taking the capture down mid-packet.
    error: Option<io::Error>,
    written: u64,
    /// Flush after every record (live capture, so `tail -f` and pipes see alerts at once).
    line_buffered: bool,
}

impl<W: Write> JsonLines<W> {
    pub fn new(w: W) -> Self {
        JsonLines {
            w,
            error: None,
            written: 0,
            line_buffered: false,
        }
    }

    pub fn line_buffered(mut self, on: bool) -> Self {
        self.line_buffered = on;
        self
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.w.flush()
    }

    pub fn into_inner(self) -> W {
        self.w
    }

    fn write(&mut self, r: &Record) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, r)?;
        self.w.write_all(b"\n")?;
        if self.line_buffered {
            self.w.flush()?;
        }
        Ok(())
    }
}

impl<W: Write> RecordSink for JsonLines<W> {
    fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn emit(&mut self, r: Record) {
        if self.error.is_some() {
            return;
        }
        match self.write(&r) {
            Ok(()) => self.written += 1,
            Err(e) => self.error = Some(e),
        }
    }
}
