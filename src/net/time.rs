//! Packet time. Kept as nanoseconds since the Unix epoch so pcap (µs), pcap (ns) and pcapng (any
//! resolution) land in one type; formatting is hand-written because the value comes from the
//! capture file and must never panic, whatever year a corrupt file claims.

use std::fmt;

/// Nanoseconds since 1970-01-01T00:00:00Z. Saturates instead of overflowing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub u64);

const NS: u64 = 1_000_000_000;

impl Timestamp {
    pub fn from_parts(secs: u64, nanos: u64) -> Self {
        Timestamp(secs.saturating_mul(NS).saturating_add(nanos))
    }
    pub fn from_micros(secs: u64, micros: u64) -> Self {
        Self::from_parts(secs, micros.saturating_mul(1000))
    }
    pub fn now() -> Self {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Self::from_parts(d.as_secs(), u64::from(d.subsec_nanos()))
    }
    pub fn secs(self) -> u64 {
        self.0 / NS
    }
    pub fn subsec_nanos(self) -> u64 {
        self.0 % NS
    }
    /// Elapsed time since `earlier`, zero when the clock went backwards (files out of order).
    pub fn since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
    pub fn add_secs(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add(secs.saturating_mul(NS)))
    }
}

/// RFC 3339, UTC, microseconds, `Z` — what Suricata's EVE and Elastic expect.
impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.rfc3339().as_str())
    }
}

/// A formatted timestamp: `YYYY-MM-DDTHH:MM:SS.ffffffZ`, always 27 ASCII bytes (a u64 of
/// nanoseconds ends in the year 2554, so the year has four digits).
#[derive(Clone, Copy)]
pub struct Rfc3339([u8; 27]);

impl Rfc3339 {
    pub fn as_str(&self) -> &str {
        // only ASCII digits and separators are ever written
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Timestamp {
    /// Written digit by digit: every record carries one, and `core::fmt` was a tenth of the
    /// cost of rendering a record.
    pub fn rfc3339(&self) -> Rfc3339 {
        let secs = self.secs();
        let rem = secs % 86_400;
        let (y, m, d) = civil_from_days(secs / 86_400);
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, y);
        put(5, 2, m);
        put(8, 2, d);
        put(11, 2, rem / 3600);
        put(14, 2, (rem / 60) % 60);
        put(17, 2, rem % 60);
        put(20, 6, self.subsec_nanos() / 1000);
        Rfc3339(b)
    }
}

impl Timestamp {
    /// `Nov 25 13:51:06` (UTC): the BSD syslog time a local syslog socket expects.
    pub fn bsd_syslog(&self) -> String {
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let secs = self.secs();
        let rem = secs % 86_400;
        let (_, m, d) = civil_from_days(secs / 86_400);
        format!(
            "{} {d:2} {:02}:{:02}:{:02}",
            MONTHS[(m as usize - 1) % 12],
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.rfc3339().as_str())
    }
}

/// Days since the epoch to a proleptic Gregorian date (H. Hinnant's algorithm, unsigned form).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_micros() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000Z");
        // 2026-01-15T10:00:00.123456Z
        let t = Timestamp::from_parts(1_768_471_200, 123_456_789);
        assert_eq!(t.to_string(), "2026-01-15T10:00:00.123456Z");
        // leap day
        let t = Timestamp::from_parts(951_782_400, 0);
        assert_eq!(t.to_string(), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn digit_by_digit_equals_the_formatter() {
        // the hand-written digits against core::fmt, over the whole range a u64 covers
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let t = Timestamp(if i < 10 {
                [
                    0,
                    1,
                    999,
                    NS - 1,
                    NS,
                    u64::MAX,
                    u64::MAX - 1,
                    86_400 * NS,
                    951_782_400 * NS,
                    4_102_444_800 * NS,
                ][i as usize]
            } else {
                x
            });
            let secs = t.secs();
            let rem = secs % 86_400;
            let (y, m, d) = civil_from_days(secs / 86_400);
            let want = format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
                rem / 3600,
                (rem / 60) % 60,
                rem % 60,
                t.subsec_nanos() / 1000
            );
            assert_eq!(t.rfc3339().as_str(), want);
        }
    }

    #[test]
    fn bsd_syslog_time() {
        assert_eq!(Timestamp(0).bsd_syslog(), "Jan  1 00:00:00");
        let t = Timestamp::from_parts(1_768_471_200, 0);
        assert_eq!(t.bsd_syslog(), "Jan 15 10:00:00");
        assert!(Timestamp(u64::MAX).bsd_syslog().len() == 15);
    }

    #[test]
    fn never_panics_on_absurd_times() {
        let s = Timestamp(u64::MAX).to_string();
        assert!(s.ends_with('Z'));
        assert_eq!(
            Timestamp::from_parts(u64::MAX, u64::MAX),
            Timestamp(u64::MAX)
        );
    }
}
