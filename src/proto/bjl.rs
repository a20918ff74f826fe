//! Canon BJL control blocks inside IJ print data (docs/PROTOCOLS.md §6.6): `ESC [K 02 00 00 1F`
//! `BJLSTART\n`, text lines such as `ControlMode=Common` or `@Cleaning=...`, `BJLEND\n`.
//! Only lines inside a block are read; raster data around them is skipped. Streaming, with a
//! fixed line buffer.

use super::risk::Risk;

const LINE_MAX: usize = 256;
/// Commands listed per job.
pub const MAX_COMMANDS: usize = 16;
/// Head cleanings in one stream that waste ink rather than maintain the head.
pub const CLEANINGS: u32 = 3;

#[derive(Default)]
pub struct Scanner {
    line: Vec<u8>,
    overflow: bool,
    inside: bool,
    cleanings: u32,
    reported: u8,
    /// The commands seen (`@Cleaning`, `ControlMode`...), first `MAX_COMMANDS`.
    pub commands: Vec<String>,
    pub blocks: u32,
}

impl Scanner {
    pub fn feed(&mut self, data: &[u8], out: &mut dyn FnMut(Risk, String)) {
        for piece in data.split_inclusive(|&c| c == b'\n') {
            let complete = piece.ends_with(b"\n");
            let body = piece.strip_suffix(b"\n").unwrap_or(piece);
            let room = LINE_MAX - self.line.len();
            if body.len() > room {
                // Keep the tail of a long line: the block marker ends a line that starts with
                // any amount of raster data.
                self.overflow = true;
                let keep = body.len().min(16);
                self.line.truncate(LINE_MAX - 16);
                self.line.extend_from_slice(&body[body.len() - keep..]);
            } else {
                self.line.extend_from_slice(body);
            }
            if complete {
                let line = std::mem::take(&mut self.line);
                let overflow = std::mem::replace(&mut self.overflow, false);
                if !overflow {
                    self.line_done(&line, out);
                } else if line.ends_with(b"BJLSTART") || line.ends_with(b"BJLSTART\r") {
                    self.inside = true;
                    self.blocks += 1;
                }
                self.line = line;
                self.line.clear();
            }
        }
    }

    fn line_done(&mut self, line: &[u8], out: &mut dyn FnMut(Risk, String)) {
        let l = line.strip_suffix(b"\r").unwrap_or(line);
        // The block marker follows binary bytes (ESC [K ...) on its line.
        if l.ends_with(b"BJLSTART") {
            self.inside = true;
            self.blocks += 1;
            return;
        }
        if !self.inside {
            return;
        }
        if l == b"BJLEND" {
            self.inside = false;
            return;
        }
        let key = l[..l.iter().position(|&c| c == b'=').unwrap_or(l.len())].trim_ascii();
        let name = String::from_utf8_lossy(key).into_owned();
        if !name.is_empty() && self.commands.len() < MAX_COMMANDS && !self.commands.contains(&name)
        {
            self.commands.push(name);
        }
        let text = String::from_utf8_lossy(l).into_owned();
        let is = |k: &str| key.eq_ignore_ascii_case(k.as_bytes());
        if is("@PowerOff") {
            self.report(Risk::BjlPowerOff, 1, text, out);
        } else if is("@DotCountClear") {
            self.report(Risk::BjlCounterReset, 2, text, out);
        } else if is("InkDetection") {
            self.report(Risk::BjlInkDetection, 4, text, out);
        } else if is("@Cleaning") || is("@RollerCleaning") {
            self.cleanings += 1;
            if self.cleanings >= CLEANINGS {
                let why = format!("{text} ({} cleanings in one connection)", self.cleanings);
                self.report(Risk::BjlCleaning, 8, why, out);
            }
        }
    }

    fn report(&mut self, risk: Risk, bit: u8, evidence: String, out: &mut dyn FnMut(Risk, String)) {
        if self.reported & bit == 0 {
            self.reported |= bit;
            out(risk, evidence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(lines: &[&str]) -> Vec<u8> {
        let mut v = b"\x1b[K\x02\x00\x00\x1fBJLSTART\n".to_vec();
        for l in lines {
            v.extend(l.as_bytes());
            v.push(b'\n');
        }
        v.extend(b"BJLEND\n");
        v
    }

    #[test]
    fn maintenance_commands() {
        let mut s = Scanner::default();
        let mut got = vec![];
        let mut data = b"\x00\x01raster\x02".to_vec();
        data.extend(block(&[
            "ControlMode=Common",
            "@PowerOff",
            "@DotCountClear=ColorK",
            "InkDetection=Off",
        ]));
        for _ in 0..3 {
            data.extend(block(&["@Cleaning=Black"]));
        }
        for chunk in data.chunks(5) {
            s.feed(chunk, &mut |r, _| got.push(r));
        }
        assert_eq!(
            got,
            [
                Risk::BjlPowerOff,
                Risk::BjlCounterReset,
                Risk::BjlInkDetection,
                Risk::BjlCleaning
            ]
        );
        assert_eq!(
            s.commands,
            [
                "ControlMode",
                "@PowerOff",
                "@DotCountClear",
                "InkDetection",
                "@Cleaning"
            ]
        );
        assert_eq!(s.blocks, 4);
    }

    #[test]
    fn a_driver_job_and_text_outside_blocks_are_not_risky() {
        let mut s = Scanner::default();
        let mut got = vec![];
        let mut data = block(&[
            "ControlMode=Common",
            "SetTime=20260115100000",
            "@Cleaning=Black",
        ]);
        data.extend(b"@PowerOff\nraster bytes that spell InkDetection=Off\n");
        s.feed(&data, &mut |r, _| got.push(r));
        assert!(got.is_empty(), "{got:?}");
        // a block marker after more raster bytes than a line holds is still found
        let mut s2 = Scanner::default();
        let mut got2 = vec![];
        let mut long = vec![0x55u8; 1000];
        long.extend(b"\x1b[K\x02\x00\x00\x1fBJLSTART\n @PowerOff \nBJLEND\n");
        s2.feed(&long, &mut |r, _| got2.push(r));
        assert_eq!(got2, [Risk::BjlPowerOff]);
        // a huge line is dropped, not buffered
        s.feed(&vec![b'x'; 100_000], &mut |_, _| {});
        assert!(s.line.len() <= LINE_MAX);
    }
}
