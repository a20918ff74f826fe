//! PJL command lines (docs/PROTOCOLS.md §6.1, §6.3): `@PJL` (upper case) + whitespace + command +
//! options, everything after the prefix case-insensitive. Pure functions over one line; the
//! stream analyzer assembles lines and counts what needs counting.

/// A line at least this long is an oversized argument (PRET's `flood` sends 10 000 bytes;
/// drivers' longest lines, JOBATTR strings, stay far below).
pub const OVERSIZED: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The command token (`FSUPLOAD`, `SET`...), empty for a bare `@PJL`.
    pub command: &'a [u8],
    /// Everything after the command.
    pub rest: &'a [u8],
}

impl<'a> Line<'a> {
    /// `line` without its terminator. `None` unless it starts with `@PJL` followed by
    /// whitespace or nothing (the prefix is case-sensitive: `@pjl` is not PJL).
    pub fn parse(line: &'a [u8]) -> Option<Line<'a>> {
        let after = line.strip_prefix(b"@PJL")?;
        if !after.is_empty() && !matches!(after[0], b' ' | b'\t' | b'\r') {
            return None;
        }
        let after = after.trim_ascii_start();
        let end = after
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(after.len());
        Some(Line {
            command: &after[..end],
            rest: after[end..].trim_ascii(),
        })
    }

    pub fn is(&self, cmd: &str) -> bool {
        self.command.eq_ignore_ascii_case(cmd.as_bytes())
    }

    /// The value of option `key` (`KEY=value` or `KEY = "value"`), case-insensitive key.
    pub fn option(&self, key: &str) -> Option<&'a [u8]> {
        option(self.rest, key)
    }

    /// The first word of the options (`SET RESOLUTION=600` gives `RESOLUTION`).
    pub fn first_word(&self) -> &'a [u8] {
        let r = self.rest;
        let end = r
            .iter()
            .position(|&b| b == b'=' || b.is_ascii_whitespace())
            .unwrap_or(r.len());
        &r[..end]
    }
}

/// Finds `KEY=value` in `rest`, outside quoted strings; a quoted value is returned without
/// its quotes.
pub fn option<'a>(rest: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let k = key.as_bytes();
    let mut quoted = false;
    for i in 0..rest.len() {
        if rest[i] == b'"' {
            quoted = !quoted;
            continue;
        }
        let at_word = i == 0 || rest[i - 1].is_ascii_whitespace();
        if quoted
            || !at_word
            || !rest[i..]
                .get(..k.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
        {
            continue;
        }
        let mut j = i + k.len();
        while j < rest.len() && matches!(rest[j], b' ' | b'\t') {
            j += 1;
        }
        if rest.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < rest.len() && matches!(rest[j], b' ' | b'\t') {
            j += 1;
        }
        let v = &rest[j..];
        return Some(if let Some(q) = v.strip_prefix(b"\"") {
            &q[..q.iter().position(|&b| b == b'"').unwrap_or(q.len())]
        } else {
            &v[..v
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .unwrap_or(v.len())]
        });
    }
    None
}

pub use super::risk::Risk;

/// Up to three classes a line belongs to (FSQUERY with `..` is enumeration and traversal).
pub fn assess(line: &Line<'_>) -> Vec<Risk> {
    let mut out = Vec::new();
    let word = line.first_word();
    let w = |s: &str| word.eq_ignore_ascii_case(s.as_bytes());
    let opt_is = |k: &str, v: &str| {
        line.option(k)
            .is_some_and(|x| x.eq_ignore_ascii_case(v.as_bytes()))
    };
    let has_opt = |k: &str| line.option(k).is_some();
    let c = |s: &str| line.is(s);
    if c("FSUPLOAD") {
        out.push(Risk::FsRead);
    } else if c("FSDOWNLOAD") || c("FSAPPEND") {
        out.push(Risk::FsWrite);
    } else if c("FSDELETE") {
        out.push(Risk::FsDelete);
    } else if c("FSINIT") {
        out.push(Risk::FsFormat);
    } else if c("FSDIRLIST") || c("FSQUERY") || c("FSMKDIR") {
        out.push(Risk::FsEnum);
    } else if c("JOB") && has_opt("PASSWORD") {
        out.push(Risk::PinGuess);
    } else if c("DINQUIRE") && (w("PASSWORD") || w("CPLOCK") || w("DISKLOCK")) {
        out.push(Risk::LockProbe);
    } else if c("SET") || c("DEFAULT") {
        if has_opt("PASSWORD") || opt_is("CPLOCK", "ON") || opt_is("DISKLOCK", "ON") {
            out.push(Risk::LockChange);
        } else if has_opt("SERVICEMODE") {
            out.push(Risk::ServiceMode);
        } else if has_opt("PAGES") || opt_is("OEM", "ON") || has_opt("PAGECOUNT") {
            out.push(Risk::Counter);
        } else if opt_is("JOBMEDIA", "OFF") {
            out.push(Risk::PrintingDisabled);
        } else if line
            .option("HOLD")
            .is_some_and(|v| !v.eq_ignore_ascii_case(b"OFF"))
            || word.len() >= 10 && word[..10].eq_ignore_ascii_case(b"RETAIN_JOB")
        {
            out.push(Risk::JobRetention);
        } else if has_opt("TESTPAGE") {
            out.push(Risk::TestPage);
        }
        if c("DEFAULT") {
            out.push(Risk::NvramWrite);
        }
    } else if c("RDYMSG")
        && line
            .option("DISPLAY")
            .is_some_and(|m| !m.trim_ascii().is_empty())
    {
        // An empty message restores the normal display (drivers send it); text is defacement.
        out.push(Risk::DisplayMessage);
    } else if c("OPMSG") || c("STMSG") {
        out.push(Risk::OfflineDos);
    } else if c("DMCMD") {
        out.push(Risk::DeviceManagement);
    } else if c("DMINFO") {
        out.push(Risk::DeviceInfo);
    } else if c("CLEARNVRAM")
        || c("NVRAMINIT")
        || c("INITIALIZE")
        || (c("EXECUTE") && w("SHUTDOWN"))
    {
        out.push(Risk::FactoryReset);
    } else if c("RNVRAM") || c("WNVRAM") || c("SUPERUSER") || c("SUPERUSEROFF") {
        out.push(Risk::RawNvram);
    } else if c("EXECUTE") && contains_ci(line.rest, b"PRINT") {
        out.push(Risk::TestPage);
    } else if c("INFO")
        && [
            "CONFIG",
            "VARIABLES",
            "FILESYS",
            "MEMORY",
            "PAGECOUNT",
            "USTATUS",
            "LOG",
            "PRODINFO",
            "SUPPLIES",
            "TRACKING",
        ]
        .iter()
        .any(|k| w(k))
    {
        out.push(Risk::Recon);
    } else if c("USTATUSOFF")
        || (c("ECHO")
            && word.len() > 9
            && word[..9].eq_ignore_ascii_case(b"DELIMITER")
            && word[9..].iter().all(u8::is_ascii_digit))
    {
        out.push(Risk::ToolFingerprint);
    }
    // Only file-system commands take a path; JOB/EOJ NAME= is a title ("Notes..." or a UNC
    // path a document was printed from).
    let fs = line.command.len() > 2 && line.command[..2].eq_ignore_ascii_case(b"FS");
    if let Some(name) = line.option("NAME").filter(|_| fs) {
        if is_traversal(name) {
            out.push(Risk::PathTraversal);
        }
    }
    out
}

/// Path escapes PRET's fuzzer tries in `NAME=`.
pub fn is_traversal(name: &[u8]) -> bool {
    [
        &b".."[..],
        b"/etc/",
        b"%windir%",
        b"\\\\",
        b"file:///",
        b"%disk0%",
    ]
    .iter()
    .any(|n| contains_ci(name, n))
}

fn contains_ci(h: &[u8], n: &[u8]) -> bool {
    n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// The SIZE of an FSDOWNLOAD/FSAPPEND: that many raw bytes follow the line and are data, not
/// commands.
pub fn binary_payload(line: &Line<'_>) -> Option<u64> {
    if line.is("FSDOWNLOAD") || line.is("FSAPPEND") {
        let size = line.option("SIZE")?;
        std::str::from_utf8(size).ok()?.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(s: &str) -> Line<'_> {
        Line::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn syntax_and_case_rules() {
        let x = l("@PJL\tfsupload name=\"0:/y\" offset=0 size=1");
        assert!(x.is("FSUPLOAD"));
        assert_eq!(x.option("NAME"), Some(&b"0:/y"[..]));
        assert_eq!(x.option("size"), Some(&b"1"[..]));
        assert!(
            Line::parse(b"@pjl FSDELETE NAME=\"z\"").is_none(),
            "the prefix is case-sensitive"
        );
        assert!(Line::parse(b"@PJLX").is_none());
        assert_eq!(l("@PJL").command, b"");
        let e = l("@PJL ENTER LANGUAGE = POSTSCRIPT");
        assert!(e.is("ENTER"));
        assert_eq!(e.option("LANGUAGE"), Some(&b"POSTSCRIPT"[..]));
        assert_eq!(l("@PJL SET RESOLUTION=600").first_word(), b"RESOLUTION");
        assert_eq!(
            l("@PJL JOB NAME = \"Quarterly report\"").option("NAME"),
            Some(&b"Quarterly report"[..])
        );
        // a key inside a quoted value is not an option
        assert_eq!(option(b"NAME=\"a SIZE=5\" SIZE=7", "SIZE"), Some(&b"7"[..]));
        assert_eq!(option(b"X=1", "SIZE"), None);
    }

    #[test]
    fn every_class_of_section_6_3() {
        let r = |s: &str| assess(&l(s));
        assert_eq!(
            r("@PJL FSUPLOAD NAME=\"0:/a\" OFFSET=0 SIZE=9"),
            [Risk::FsRead]
        );
        assert_eq!(
            r("@PJL FSDOWNLOAD FORMAT:BINARY SIZE=4 NAME=\"0:/a\""),
            [Risk::FsWrite]
        );
        assert_eq!(
            r("@PJL FSAPPEND FORMAT:BINARY SIZE=4 NAME=\"0:/a\""),
            [Risk::FsWrite]
        );
        assert_eq!(r("@PJL FSDELETE NAME=\"0:/a\""), [Risk::FsDelete]);
        assert_eq!(r("@PJL FSINIT VOLUME=\"0:\""), [Risk::FsFormat]);
        assert_eq!(
            r("@PJL FSQUERY NAME=\"0:/../../etc/passwd\""),
            [Risk::FsEnum, Risk::PathTraversal]
        );
        assert_eq!(
            r("@PJL DEFAULT PASSWORD=12345"),
            [Risk::LockChange, Risk::NvramWrite]
        );
        assert_eq!(
            r("@PJL DEFAULT CPLOCK=ON"),
            [Risk::LockChange, Risk::NvramWrite]
        );
        assert_eq!(r("@PJL JOB PASSWORD=42"), [Risk::PinGuess]);
        assert_eq!(r("@PJL DINQUIRE PASSWORD"), [Risk::LockProbe]);
        assert_eq!(r("@PJL SET SERVICEMODE=HPBOISEID"), [Risk::ServiceMode]);
        assert_eq!(r("@PJL DEFAULT COPIES=2"), [Risk::NvramWrite]);
        assert_eq!(
            r("@PJL DEFAULT PAGES=1000"),
            [Risk::Counter, Risk::NvramWrite]
        );
        assert_eq!(r("@PJL SET JOBMEDIA=OFF"), [Risk::PrintingDisabled]);
        assert_eq!(r("@PJL SET HOLD=ON"), [Risk::JobRetention]);
        assert_eq!(r("@PJL RDYMSG DISPLAY=\"HACKED\""), [Risk::DisplayMessage]);
        assert_eq!(r("@PJL OPMSG DISPLAY=\"PAPER JAM\""), [Risk::OfflineDos]);
        assert_eq!(
            r("@PJL DMCMD ASCIIHEX=\"040006020501010301040104\""),
            [Risk::DeviceManagement]
        );
        assert_eq!(r("@PJL DMINFO ASCIIHEX=\"00\""), [Risk::DeviceInfo]);
        assert_eq!(r("@PJL CLEARNVRAM"), [Risk::FactoryReset]);
        assert_eq!(r("@PJL EXECUTE SHUTDOWN"), [Risk::FactoryReset]);
        assert_eq!(r("@PJL RNVRAM ADDRESS=0"), [Risk::RawNvram]);
        assert_eq!(r("@PJL SET TESTPAGE=CONFIG"), [Risk::TestPage]);
        assert_eq!(r("@PJL INFO CONFIG"), [Risk::Recon]);
        assert_eq!(r("@PJL USTATUSOFF"), [Risk::ToolFingerprint]);
        assert_eq!(r("@PJL ECHO DELIMITER12345"), [Risk::ToolFingerprint]);
    }

    #[test]
    fn what_drivers_send_is_not_risky() {
        for s in [
            "@PJL JOB NAME=\"Quarterly report\"",
            "@PJL SET USERNAME=\"alice\"",
            "@PJL SET RESOLUTION=600",
            "@PJL SET DUPLEX=ON",
            "@PJL SET HOLD=OFF",
            "@PJL ENTER LANGUAGE=POSTSCRIPT",
            "@PJL EOJ NAME=\"Quarterly report\"",
            "@PJL INFO ID",
            "@PJL INFO STATUS",
            "@PJL USTATUS DEVICE=ON",
            "@PJL COMMENT hello",
            "@PJL ECHO 1234",
            // PJL RESET only restores the user default environment; drivers send it
            "@PJL RESET",
            // Ghostscript's PJL header clears the ready message
            "@PJL RDYMSG DISPLAY = \"\"",
            // job titles are not paths
            "@PJL JOB NAME=\"Meeting notes...\"",
            "@PJL EOJ NAME=\"\\\\srv\\share\\a.doc\"",
        ] {
            assert!(assess(&l(s)).is_empty(), "{s}");
        }
    }

    #[test]
    fn binary_payload_size() {
        assert_eq!(
            binary_payload(&l("@PJL FSDOWNLOAD FORMAT:BINARY SIZE=40 NAME=\"0:/x\"")),
            Some(40)
        );
        assert_eq!(
            binary_payload(&l("@PJL FSAPPEND FORMAT:BINARY SIZE=4 NAME=\"0:/x\"")),
            Some(4)
        );
        assert_eq!(
            binary_payload(&l("@PJL FSUPLOAD NAME=\"0:/x\" SIZE=4")),
            None
        );
        assert_eq!(binary_payload(&l("@PJL FSDOWNLOAD SIZE=banana")), None);
    }
}
