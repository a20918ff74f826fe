//! PCL 5 escape sequences (docs/PROTOCOLS.md §6.5): `ESC <parameterized char> <group char>
//! [value letter]...`, with lower-case letters continuing a combined sequence and upper case
//! ending it. A `W` terminator carries that many raw bytes (raster, fonts), which are skipped,
//! not parsed. Streaming, fixed memory.

use super::risk::Risk;

/// Echo commands in one stream that look like PRET's file system over PCL.
pub const ECHO_RUN: u32 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Text,
    Esc,
    /// Parameterized character read; expecting the group character.
    Param(u8),
    /// Inside a sequence: parameter, group, value so far.
    Value(u8, u8),
    /// Raw bytes of a `W` transfer.
    Skip(u64),
}

pub struct Scanner {
    state: State,
    value: i64,
    negative: bool,
    digits: u8,
    /// Past the decimal point: fraction digits do not change the integer value.
    fraction: bool,
    echoes: u32,
    negative_echo: bool,
    reported: u8,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            state: State::Text,
            value: 0,
            negative: false,
            digits: 0,
            fraction: false,
            echoes: 0,
            negative_echo: false,
            reported: 0,
        }
    }
}

impl Scanner {
    pub fn feed(&mut self, data: &[u8], out: &mut dyn FnMut(Risk, String)) {
        let mut i = 0;
        while i < data.len() {
            let c = data[i];
            i += 1;
            self.state = match self.state {
                State::Skip(n) => {
                    // skip in bulk: the byte just read and as many more as remain
                    let rest = (data.len() - i) as u64;
                    let take = (n - 1).min(rest);
                    i += take as usize;
                    let left = n - 1 - take;
                    if left == 0 {
                        State::Text
                    } else {
                        State::Skip(left)
                    }
                }
                State::Text => {
                    if c == 0x1b {
                        State::Esc
                    } else {
                        State::Text
                    }
                }
                State::Esc => match c {
                    0x21..=0x2f => State::Param(c),
                    b'z' => {
                        self.report(Risk::PclRecon, "ESC z (self test)".into(), out);
                        State::Text
                    }
                    0x1b => State::Esc,
                    _ => State::Text, // two-character sequence (ESC E, ESC 9...)
                },
                State::Param(p) => {
                    if (0x60..=0x7e).contains(&c) {
                        self.start_value();
                        State::Value(p, c)
                    } else {
                        State::Text
                    }
                }
                State::Value(p, g) => match c {
                    b'0'..=b'9' => {
                        if self.digits < 12 && !self.fraction {
                            self.value = self.value * 10 + i64::from(c - b'0');
                            self.digits += 1;
                        }
                        State::Value(p, g)
                    }
                    b'-' => {
                        self.negative = true;
                        State::Value(p, g)
                    }
                    b'.' => {
                        self.fraction = true;
                        State::Value(p, g)
                    }
                    b'+' => State::Value(p, g),
                    b'a'..=b'z' | b'A'..=b'Z' => {
                        let v = if self.negative {
                            -self.value
                        } else {
                            self.value
                        };
                        let upper = c.to_ascii_uppercase();
                        self.command(p, g, v, upper, out);
                        if upper == b'W' && v > 0 {
                            // data follows; a combined sequence ends with its transfer
                            State::Skip(v as u64)
                        } else if c.is_ascii_lowercase() {
                            self.start_value();
                            State::Value(p, g)
                        } else {
                            State::Text
                        }
                    }
                    0x1b => State::Esc,
                    _ => State::Text,
                },
            };
        }
    }

    fn start_value(&mut self) {
        self.value = 0;
        self.negative = false;
        self.digits = 0;
        self.fraction = false;
    }

    fn command(&mut self, p: u8, g: u8, v: i64, letter: u8, out: &mut dyn FnMut(Risk, String)) {
        match (p, g, letter) {
            (b'&', b'f', b'X') if v == 10 => self.report(
                Risk::PclPermanentMacro,
                "ESC &f10X (make macro permanent)".into(),
                out,
            ),
            (b'*', b's', b'X') => {
                self.echoes += 1;
                self.negative_echo |= v <= -256;
                if self.echoes >= ECHO_RUN {
                    let why = if self.negative_echo {
                        format!(
                            "{} ESC *s#X echo commands, negative delimiters (PRET)",
                            self.echoes
                        )
                    } else {
                        format!("{} ESC *s#X echo commands", self.echoes)
                    };
                    self.report(Risk::PclEcho, why, out);
                }
            }
            (b'*', b's', b'T' | b'U' | b'I' | b'M') => self.report(
                Risk::PclRecon,
                format!("ESC *s{v}{} (status readback)", letter as char),
                out,
            ),
            _ => {}
        }
    }

    fn report(&mut self, risk: Risk, evidence: String, out: &mut dyn FnMut(Risk, String)) {
        let bit = match risk {
            Risk::PclPermanentMacro => 1,
            Risk::PclEcho => 2,
            _ => 4,
        };
        if self.reported & bit == 0 {
            self.reported |= bit;
            out(risk, evidence);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(b: &[u8]) -> Vec<Risk> {
        let mut s = Scanner::default();
        let mut v = vec![];
        s.feed(b, &mut |r, _| v.push(r));
        v
    }

    #[test]
    fn decimal_values() {
        assert_eq!(scan(b"\x1b&f10.0X"), [Risk::PclPermanentMacro]);
        assert!(scan(b"\x1b&f1.5X").is_empty());
    }

    #[test]
    fn pret_pcl_constructs() {
        assert_eq!(
            scan(b"\x1b&f10000y0X\x1b&f10000y10X"),
            [Risk::PclPermanentMacro]
        );
        let mut echo = Vec::new();
        for i in 0..20 {
            echo.extend(format!("\x1b*s{}X\x1b*s-300X", 65 + i).bytes());
        }
        assert_eq!(scan(&echo), [Risk::PclEcho]);
        assert_eq!(scan(b"\x1b*s1t1U"), [Risk::PclRecon]);
        assert_eq!(scan(b"\x1bz"), [Risk::PclRecon]);
    }

    #[test]
    fn driver_output_and_binary_transfers_are_not_risky() {
        // reset, orientation, a raster row whose bytes spell a macro command
        let mut job = b"\x1bE\x1b&l0o0E\x1b*t300R\x1b*r1A\x1b*b12W".to_vec();
        job.extend(b"\x1b&f10X\x1b*s1X");
        job.extend(b"\x1b*rB\x1b&f1y0X text \x1b&f1X\x1bE");
        assert!(scan(&job).is_empty(), "{:?}", scan(&job));
        // the same split across every boundary
        for cut in 0..job.len() {
            let mut s = Scanner::default();
            let mut v = vec![];
            s.feed(&job[..cut], &mut |r, _| v.push(r));
            s.feed(&job[cut..], &mut |r, _| v.push(r));
            assert!(v.is_empty(), "cut {cut}");
        }
        // a few echoes are a driver asking for status, not a file store
        assert!(scan(b"\x1b*s1X\x1b*s2X").is_empty());
    }
}
