//! Rules that judge a print stream by how often or how much, per connection: PIN guesses
//! (brute force), NVRAM writes (wear) and the printer's outgoing volume (file exfiltration).
//! Each fires once per connection.

use crate::analyze::Finding;
use crate::proto::risk::Risk;

/// PIN guesses in one connection that make a brute force.
pub const PIN_GUESSES: u32 = 10;
/// NVRAM writes (`DEFAULT`) in one connection that wear it.
pub const NVRAM_WRITES: u32 = 100;
/// Printer-to-client bytes in one connection that suggest file exfiltration (FSUPLOAD).
pub const EXFIL_BYTES: u64 = 1 << 20;

/// Per-connection counts (allocated on a print stream's first finding or data).
#[derive(Default)]
pub struct Rates {
    pin_guesses: u32,
    nvram_writes: u32,
    uploads: u32,
    pin_reported: bool,
    nvram_reported: bool,
    exfil_reported: bool,
}

impl Rates {
    /// What a finding amounts to: itself, a rate finding when a threshold is crossed now, or
    /// nothing (one more guess or write below the threshold).
    pub fn judge(&mut self, f: &Finding) -> Option<Finding> {
        match f.risk {
            Risk::PinGuess => {
                self.pin_guesses += 1;
                (self.pin_guesses >= PIN_GUESSES
                    && !std::mem::replace(&mut self.pin_reported, true))
                .then(|| Finding {
                    reason: Some(format!(
                        "{} PIN guesses (JOB PASSWORD=) in one connection",
                        self.pin_guesses
                    )),
                    ..f.clone()
                })
            }
            Risk::NvramWrite => {
                self.nvram_writes += 1;
                (self.nvram_writes >= NVRAM_WRITES
                    && !std::mem::replace(&mut self.nvram_reported, true))
                .then(|| Finding {
                    reason: Some(format!(
                        "{} DEFAULT writes to NVRAM in one connection",
                        self.nvram_writes
                    )),
                    ..f.clone()
                })
            }
            Risk::FsRead => {
                self.uploads += 1;
                Some(f.clone())
            }
            _ => Some(f.clone()),
        }
    }

    /// The printer has sent `total` bytes in this connection.
    pub fn printer_data(&mut self, total: u64) -> Option<Finding> {
        if self.exfil_reported || total < EXFIL_BYTES {
            return None;
        }
        self.exfil_reported = true;
        Some(Finding {
            risk: Risk::Exfiltration,
            line: format!("{total} bytes from the printer in this connection"),
            reason: Some(format!(
                "large printer-to-client volume after {} FSUPLOAD request(s): file exfiltration",
                self.uploads
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(risk: Risk) -> Finding {
        Finding {
            risk,
            line: "@PJL JOB PASSWORD=1".into(),
            reason: None,
        }
    }

    #[test]
    fn thresholds_fire_once() {
        let mut r = Rates::default();
        let fired: Vec<usize> = (0..25)
            .filter(|_| r.judge(&finding(Risk::PinGuess)).is_some())
            .collect();
        assert_eq!(fired, [9], "the tenth guess, once");
        let mut r = Rates::default();
        let n = (0..250)
            .filter_map(|_| r.judge(&finding(Risk::NvramWrite)))
            .inspect(|f| assert!(f.reason.as_deref().unwrap().starts_with("100 DEFAULT")))
            .count();
        assert_eq!(n, 1);
        // any other finding passes as it is
        assert_eq!(
            r.judge(&finding(Risk::FsDelete)),
            Some(finding(Risk::FsDelete))
        );
    }

    #[test]
    fn a_megabyte_from_the_printer_is_exfiltration() {
        let mut r = Rates::default();
        assert!(r.judge(&finding(Risk::FsRead)).is_some());
        assert!(r.printer_data(EXFIL_BYTES - 1).is_none());
        let f = r.printer_data(EXFIL_BYTES).expect("crossed");
        assert_eq!(f.risk, Risk::Exfiltration);
        assert!(f.reason.unwrap().contains("after 1 FSUPLOAD"));
        assert!(r.printer_data(EXFIL_BYTES * 2).is_none(), "once");
    }
}
