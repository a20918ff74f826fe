//! The CUPS browsing datagram (UDP 631), as cups-browsed reads it: one text line
//! `TYPE STATE URI "LOCATION" "INFO" "MAKE-AND-MODEL" [key=value ...]`, TYPE and STATE in hex.
//! A host that receives one and runs an unpatched cups-browsed adds the announced printer and
//! fetches its attributes from the URI: the first step of the CVE-2024-47176 chain, in which
//! the URI points at the attacker's own IPP server.

use crate::net::named_enum;

/// Longest announcement read (cups-browsed reads 2 KiB).
pub const MAX_LEN: usize = 2048;

named_enum! {
    /// Why a datagram on UDP 631 is not a browse announcement.
    pub enum Error {
        Empty = "empty",
        /// TYPE or STATE is not a hex number.
        BadNumber = "bad_number",
        /// No URI, or one without `scheme://`.
        BadUri = "bad_uri",
    }
}

/// One announcement, borrowed from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcement<'a> {
    /// The printer-type bits (CUPS_PRINTER_*).
    pub printer_type: u32,
    /// IPP printer-state: 3 idle, 4 processing, 5 stopped.
    pub state: u32,
    pub uri: &'a [u8],
    /// The host part of the URI (without brackets for IPv6).
    pub uri_host: &'a [u8],
    pub location: Option<&'a [u8]>,
    pub info: Option<&'a [u8]>,
    pub make_model: Option<&'a [u8]>,
    /// What follows the quoted strings (`lease-duration=300 uuid=...`), trimmed.
    pub options: &'a [u8],
}

/// Reads an announcement (the first `MAX_LEN` bytes). Fields are separated by any white space,
/// line breaks included, as cups-browsed's `sscanf("%x%x%s")` reads them.
pub fn parse(datagram: &[u8]) -> Result<Announcement<'_>, Error> {
    let d = &datagram[..datagram.len().min(MAX_LEN)];
    let mut rest = d.trim_ascii_start();
    if rest.is_empty() {
        return Err(Error::Empty);
    }
    let mut word = || {
        let end = rest
            .iter()
            .position(|c| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let w = &rest[..end];
        rest = rest[end..].trim_ascii_start();
        w
    };
    let printer_type = hex(word()).ok_or(Error::BadNumber)?;
    let state = hex(word()).ok_or(Error::BadNumber)?;
    let uri = word();
    let uri_host = host_of(uri).ok_or(Error::BadUri)?;
    let mut quoted = [None; 3];
    for slot in &mut quoted {
        let Some(body) = rest.strip_prefix(b"\"") else {
            break;
        };
        let end = memchr::memchr(b'"', body).unwrap_or(body.len());
        *slot = Some(&body[..end]);
        rest = body.get(end + 1..).unwrap_or_default().trim_ascii_start();
    }
    let [location, info, make_model] = quoted;
    Ok(Announcement {
        printer_type,
        state,
        uri,
        uri_host,
        location,
        info,
        make_model,
        options: rest.trim_ascii_end(),
    })
}

fn hex(w: &[u8]) -> Option<u32> {
    let w = w
        .strip_prefix(b"0x")
        .or_else(|| w.strip_prefix(b"0X"))
        .unwrap_or(w);
    // leading zeros are digits %x reads and ignores
    let digits = w
        .iter()
        .position(|&c| c != b'0')
        .map_or(&w[w.len().saturating_sub(1)..], |i| &w[i..]);
    let w = digits;
    if w.is_empty() || w.len() > 8 {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(w).ok()?, 16).ok()
}

/// The host of `scheme://[user@]host[:port]/path`.
pub fn host_of(uri: &[u8]) -> Option<&[u8]> {
    let at = memchr::memmem::find(uri, b"://")?;
    if at == 0 {
        return None;
    }
    let auth = &uri[at + 3..];
    let auth = &auth[..auth
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(auth.len())];
    let auth = match memchr::memrchr(b'@', auth) {
        Some(i) => &auth[i + 1..],
        None => auth,
    };
    let host = if let Some(v6) = auth.strip_prefix(b"[") {
        &v6[..memchr::memchr(b']', v6)?]
    } else {
        &auth[..memchr::memchr(b':', auth).unwrap_or(auth.len())]
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_and_its_uri_host() {
        let a = parse(
            b"3 3 ipp://10.80.0.66:631/printers/evil \"Lab\" \"Office printer\" \"HP LaserJet\" lease-duration=300\n",
        )
        .unwrap();
        assert_eq!((a.printer_type, a.state), (3, 3));
        assert_eq!(a.uri, b"ipp://10.80.0.66:631/printers/evil");
        assert_eq!(a.uri_host, b"10.80.0.66");
        assert_eq!(a.location, Some(&b"Lab"[..]));
        assert_eq!(a.info, Some(&b"Office printer"[..]));
        assert_eq!(a.make_model, Some(&b"HP LaserJet"[..]));
        assert_eq!(a.options, b"lease-duration=300");
        // hex numbers, IPv6, user info, no quoted strings
        let a = parse(b"0x801e 5 ipps://u@[2001:db8::9]:443/ipp/print").unwrap();
        assert_eq!((a.printer_type, a.state), (0x801e, 5));
        assert_eq!(a.uri_host, b"2001:db8::9");
        assert_eq!((a.location, a.info, a.options), (None, None, &b""[..]));
        // an unterminated quote takes the rest
        assert_eq!(
            parse(b"0 3 ipp://h/p \"abc").unwrap().location,
            Some(&b"abc"[..])
        );
    }

    #[test]
    fn what_is_not_an_announcement() {
        assert_eq!(parse(b""), Err(Error::Empty));
        assert_eq!(parse(b" \n"), Err(Error::Empty));
        assert_eq!(parse(b"zz 3 ipp://h/p"), Err(Error::BadNumber));
        assert_eq!(parse(b"3 123456789 ipp://h/p"), Err(Error::BadNumber));
        assert_eq!(parse(b"3 3 /printers/x"), Err(Error::BadUri));
        assert_eq!(parse(b"3 3 ipp:///x"), Err(Error::BadUri));
        assert_eq!(parse(b"3 3"), Err(Error::BadUri));
        assert_eq!(parse(&[0xff; 5000]), Err(Error::BadNumber));
        assert_eq!(host_of(b"ipp://[::1"), None);
        // white space of any kind between the fields, as sscanf reads them; leading zeros
        let a = parse(b"3 3\nipp://10.9.9.9:12345/printers/x").unwrap();
        assert_eq!(a.uri_host, b"10.9.9.9");
        assert_eq!(parse(b"000000003 00 ipp://h/p").unwrap().printer_type, 3);
    }
}
