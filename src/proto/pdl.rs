//! Which page-description language a raw print job speaks, from its first bytes
//! (docs/PROTOCOLS.md §6.2). Pure: the caller decides when a new job starts.

use crate::net::named_enum;

/// Universal Exit Language: ends a job and returns the printer to PJL.
pub const UEL: &[u8] = b"\x1b%-12345X";

named_enum! {
    /// A page-description language (or PJL, the job-control language around them).
    pub enum Language {
        Pjl = "pjl",
        PostScript = "postscript",
        Pdf = "pdf",
        Pcl = "pcl",
        PclXl = "pclxl",
        /// Canon IJ data with a BJL control block.
        CanonBjl = "bjl",
        EscP = "escp",
        /// CUPS/PWG raster or Apple URF.
        Raster = "raster",
        Jpeg = "jpeg",
        Png = "png",
        Zpl = "zpl",
        Text = "text",
        Unknown = "unknown",
    }
}

impl Language {
    /// From `@PJL ENTER LANGUAGE = X` (case-insensitive; vendors add their own names).
    pub fn from_enter(name: &[u8]) -> Language {
        let n = name.trim_ascii();
        let is = |s: &str| n.eq_ignore_ascii_case(s.as_bytes());
        if is("POSTSCRIPT") || is("PS") {
            Language::PostScript
        } else if is("PCL") {
            Language::Pcl
        } else if is("PCLXL") || is("PCL6") || is("PCL XL") {
            Language::PclXl
        } else if is("PDF") {
            Language::Pdf
        } else if is("ZPL") {
            Language::Zpl
        } else {
            Language::Unknown
        }
    }
}

/// Finds the UEL that ends a part of page data fed in chunks of any size: a UEL split across
/// chunk boundaries (a few bytes per TCP segment) is found too. Fixed memory: the last bytes of
/// what came before.
#[derive(Clone, Debug, Default)]
pub struct UelFinder {
    tail: [u8; 8],
    tail_len: usize,
}

impl UelFinder {
    /// Forgets earlier chunks (a new part starts).
    pub fn reset(&mut self) {
        self.tail_len = 0;
    }

    /// The offset in `b` just past a UEL that ends in `b` (one that began in earlier chunks
    /// counts), or `None`; then `b`'s last bytes are remembered for the next chunk.
    pub fn find_end(&mut self, b: &[u8]) -> Option<usize> {
        // A UEL may straddle the previous chunk's end, if one began there: it starts with ESC,
        // and a tail without one (page data, mostly) needs no look at the seam.
        let straddles = || {
            let mut probe = [0u8; 8 + 16];
            let take = b.len().min(16);
            probe[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
            probe[self.tail_len..self.tail_len + take].copy_from_slice(&b[..take]);
            let seam = &probe[..self.tail_len + take];
            find_uel(seam)
                .filter(|&i| i < self.tail_len)
                .map(|i| i + UEL.len() - self.tail_len)
        };
        let found = (self.tail[..self.tail_len].contains(&UEL[0]))
            .then(straddles)
            .flatten()
            .or_else(|| find_uel(b).map(|i| i + UEL.len()));
        if found.is_some() {
            self.tail_len = 0;
        } else if let Some(last) = b.last_chunk::<8>() {
            // a chunk of 8 bytes or more holds the whole tail (a fixed copy, no call)
            self.tail = *last;
            self.tail_len = 8;
        } else {
            // The last 8 bytes of what came so far (old tail + this chunk): a UEL can be split
            // across any number of small segments.
            let mut joined = [0u8; 16];
            let from_b = b.len().min(8);
            let from_tail = (8 - from_b).min(self.tail_len);
            joined[..from_tail]
                .copy_from_slice(&self.tail[self.tail_len - from_tail..self.tail_len]);
            joined[from_tail..from_tail + from_b].copy_from_slice(&b[b.len() - from_b..]);
            let n = from_tail + from_b;
            self.tail[..n].copy_from_slice(&joined[..n]);
            self.tail_len = n;
        }
        found
    }
}

/// Where the first UEL in `h` starts. The searcher is built once: building one for every chunk
/// (what `memmem::find` does) cost more than the search on a stream of small segments.
fn find_uel(h: &[u8]) -> Option<usize> {
    static UEL_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(UEL));
    UEL_FINDER.find(h)
}

/// Skips what may precede a job's real start: NULs, whitespace, ^D (PostScript end-of-job)
/// and any number of UELs. Returns the offset of the first meaningful byte.
pub fn skip_preamble(b: &[u8]) -> usize {
    let mut i = 0;
    loop {
        while i < b.len() && matches!(b[i], 0 | b' ' | b'\t' | b'\r' | b'\n' | 0x04) {
            i += 1;
        }
        if b[i..].starts_with(UEL) {
            i += UEL.len();
        } else {
            return i;
        }
    }
}

/// Classifies the start of a job. `None` when too few bytes have arrived to tell.
pub fn classify(b: &[u8]) -> Option<Language> {
    let b = &b[skip_preamble(b)..];
    if b.is_empty() {
        return None;
    }
    let starts = |p: &[u8]| b.starts_with(p);
    // Too short to rule out a longer prefix: wait for more.
    if b.len() < 8 && (UEL.starts_with(b) || b"@PJL".starts_with(b) || b"%PDF-".starts_with(b)) {
        return None;
    }
    let lang = if b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"@PJL") {
        // `@PJL` must be upper case per the spec, but printers accept either; classify as PJL.
        Language::Pjl
    } else if starts(b"%!") || starts(&[0xc5, 0xd0, 0xd3, 0xc6]) {
        Language::PostScript
    } else if starts(b"%PDF-") {
        Language::Pdf
    } else if starts(b"\x1b[K\x02\x00\x00\x1f") || starts(b"\x1b[K") {
        Language::CanonBjl
    } else if starts(b"\x1b@") {
        Language::EscP
    } else if b[0] == 0x1b
        && b.len() >= 2
        && matches!(b[1], b'E' | b'&' | b'*' | b'(' | b')' | b'%')
    {
        Language::Pcl
    } else if matches!(b[0], b')' | b'(' | b'\'') && b.get(1..12) == Some(b" HP-PCL XL;") {
        Language::PclXl
    } else if starts(b"RaS2")
        || starts(b"RaS3")
        || starts(b"2SaR")
        || starts(b"3SaR")
        || starts(b"UNIRAST")
    {
        Language::Raster
    } else if starts(&[0xff, 0xd8, 0xff]) {
        Language::Jpeg
    } else if starts(&[0x89, b'P', b'N', b'G']) {
        Language::Png
    } else if starts(b"^XA") || starts(b"~") {
        Language::Zpl
    } else if b
        .iter()
        .take(64)
        .all(|&c| c.is_ascii_graphic() || c.is_ascii_whitespace())
    {
        Language::Text
    } else {
        Language::Unknown
    };
    Some(lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_bytes() {
        let c = |b: &[u8]| classify(b);
        assert_eq!(c(b"\x1b%-12345X@PJL JOB\r\n"), Some(Language::Pjl));
        assert_eq!(c(b"\x1b%-12345X\x1b%-12345X@PJL\r\n"), Some(Language::Pjl));
        assert_eq!(c(b"@PJL INFO STATUS\r\n"), Some(Language::Pjl));
        assert_eq!(c(b"\x04%!PS-Adobe-3.0\n"), Some(Language::PostScript));
        assert_eq!(
            c(&[0xc5, 0xd0, 0xd3, 0xc6, 0, 0, 0, 0]),
            Some(Language::PostScript)
        );
        assert_eq!(c(b"%PDF-1.7\n"), Some(Language::Pdf));
        assert_eq!(c(b"\x1bE\x1b&l0O"), Some(Language::Pcl));
        assert_eq!(c(b") HP-PCL XL;3;0"), Some(Language::PclXl));
        assert_eq!(
            c(b"\x1b[K\x02\x00\x00\x1fBJLSTART\n"),
            Some(Language::CanonBjl)
        );
        assert_eq!(c(b"\x1b@\x1b(G"), Some(Language::EscP));
        assert_eq!(c(b"RaS2xxxx"), Some(Language::Raster));
        assert_eq!(c(b"UNIRAST\0"), Some(Language::Raster));
        assert_eq!(
            c(&[0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0]),
            Some(Language::Jpeg)
        );
        assert_eq!(c(b"^XA^FO50,50"), Some(Language::Zpl));
        assert_eq!(c(b"Hello printer, plain text\n"), Some(Language::Text));
        assert_eq!(
            c(&[0x00, 0x9f, 0x80, 0x81, 0x02, 0x03, 0x04, 0x05, 0x06]),
            Some(Language::Unknown)
        );
        // not enough yet
        assert_eq!(c(b""), None);
        assert_eq!(c(b"\x1b%-12"), None);
        assert_eq!(c(b"@PJ"), None);
        assert_eq!(c(b"\r\n\0"), None);
    }

    #[test]
    fn enter_language_names() {
        assert_eq!(Language::from_enter(b" postscript "), Language::PostScript);
        assert_eq!(Language::from_enter(b"PCL"), Language::Pcl);
        assert_eq!(Language::from_enter(b"PCLXL"), Language::PclXl);
        assert_eq!(Language::from_enter(b"PDF"), Language::Pdf);
        assert_eq!(Language::from_enter(b"HPGL2"), Language::Unknown);
    }

    /// The seam looked at for every chunk, as before the ESC shortcut: the oracle.
    fn find_end_always_probing(tail: &mut Vec<u8>, b: &[u8]) -> Option<usize> {
        let mut seam = tail.clone();
        seam.extend_from_slice(&b[..b.len().min(16)]);
        let found = find_uel(&seam)
            .filter(|&i| i < tail.len())
            .map(|i| i + UEL.len() - tail.len())
            .or_else(|| find_uel(b).map(|i| i + UEL.len()));
        if found.is_some() {
            tail.clear();
        } else {
            tail.extend_from_slice(b);
            let cut = tail.len().saturating_sub(8);
            tail.drain(..cut);
        }
        found
    }

    proptest::proptest! {
        // chunks of a stream with UELs and near-UELs in it, cut anywhere
        #[test]
        fn the_esc_shortcut_finds_what_probing_every_seam_finds(
            parts in proptest::collection::vec(0u8..6, 0..40),
            cuts in proptest::collection::vec(1usize..12, 1..40),
        ) {
            let pieces: [&[u8]; 6] =
                [UEL, b"\x1b%-123", b"page", b"\x1b", b"45X", b"@PJL ENTER\r\n"];
            let stream: Vec<u8> =
                parts.iter().flat_map(|&p| pieces[usize::from(p)].to_vec()).collect();
            let (mut fast, mut tail) = (UelFinder::default(), Vec::new());
            let (mut at, mut k) = (0, 0);
            while at < stream.len() {
                let end = (at + cuts[k % cuts.len()]).min(stream.len());
                let chunk = &stream[at..end];
                proptest::prop_assert_eq!(
                    fast.find_end(chunk),
                    find_end_always_probing(&mut tail, chunk)
                );
                at = end;
                k += 1;
            }
        }
    }

    #[test]
    fn a_uel_split_across_chunks_is_found() {
        let mut f = UelFinder::default();
        assert_eq!(f.find_end(b"page data \x1b%-12"), None);
        assert_eq!(f.find_end(b"3"), None);
        // the rest of the UEL ends 3 bytes into this chunk
        assert_eq!(f.find_end(b"45X@PJL"), Some(3));
        // whole in one chunk
        assert_eq!(f.find_end(b"ab\x1b%-12345Xcd"), Some(11));
        f.reset();
        assert_eq!(f.find_end(b"nothing here"), None);
    }
}
