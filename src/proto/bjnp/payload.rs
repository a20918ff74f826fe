//! Each command's payload: discover answers, device IDs, job details, scan polls, status and
//! acknowledgements. Views over the bytes; nothing allocates but the UTF-16 conversion.

use super::header::{Magic, MAX_DEVICE_ID};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a payload does not have the shape its command requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is {got} bytes, expected {expected}")]
    Length { got: usize, expected: &'static str },
    #[error("field {0} is inconsistent")]
    Field(&'static str),
}

/// Discover response: hardware/protocol type, MAC, one IPv4 or N IPv6 addresses (§3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Discover<'a> {
    pub mac: [u8; 6],
    addrs: &'a [u8],
    addr_len: u8,
}

impl<'a> Discover<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self, PayloadError> {
        if p.len() < 12 {
            return Err(PayloadError::Length {
                got: p.len(),
                expected: "16 (IPv4) or 12+16*N (IPv6)",
            });
        }
        if p[4] != 6 {
            return Err(PayloadError::Field("mac_len"));
        }
        let addr_len = p[5];
        let addrs = &p[12..];
        let ok = match addr_len {
            4 => addrs.len() >= 4,
            n if n > 0 && n % 16 == 0 => addrs.len() >= usize::from(n),
            _ => false,
        };
        if !ok {
            return Err(PayloadError::Field("addr_len"));
        }
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&p[6..12]);
        Ok(Discover {
            mac,
            addrs: &addrs[..usize::from(addr_len)],
            addr_len,
        })
    }

    /// Bytes of the address field (4, or 16 per IPv6 address).
    pub fn addr_len(&self) -> u8 {
        self.addr_len
    }

    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + 'a {
        let v4 = self.addr_len == 4;
        self.addrs
            .chunks_exact(if v4 { 4 } else { 16 })
            .map(move |c| {
                if v4 {
                    IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                } else {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                }
            })
    }
}

/// IEEE 1284 device ID from a get-identity response (§3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceId<'a> {
    /// The `KEY:value;` text, capped at `MAX_DEVICE_ID`.
    pub raw: &'a [u8],
}

impl<'a> DeviceId<'a> {
    /// BJNP frames the ID with a u16 length that counts itself; MFNP sends the bare ID.
    pub fn parse(magic: Magic, p: &'a [u8]) -> Result<Self, PayloadError> {
        let raw = if magic == Magic::MFNP {
            p
        } else {
            let len = p
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
                .ok_or(PayloadError::Length {
                    got: p.len(),
                    expected: ">= 2",
                })?;
            if len < 2 || len > p.len() {
                return Err(PayloadError::Field("device_id_len"));
            }
            &p[2..len]
        };
        let raw = &raw[..raw.len().min(MAX_DEVICE_ID)];
        Ok(DeviceId { raw })
    }

    /// `KEY:value` pairs; keys are trimmed, values kept as sent.
    pub fn fields(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
        self.raw.split(|&b| b == b';').filter_map(|item| {
            let colon = item.iter().position(|&b| b == b':')?;
            Some((item[..colon].trim_ascii(), &item[colon + 1..]))
        })
    }

    /// The first value whose key matches one of `keys`, case-insensitively.
    pub fn get(&self, keys: &[&str]) -> Option<&'a [u8]> {
        self.fields()
            .find(|(k, _)| keys.iter().any(|w| k.eq_ignore_ascii_case(w.as_bytes())))
            .map(|(_, v)| v)
    }

    /// Printable ASCII with at least one `KEY:value` pair: the consistency check of §5.
    pub fn looks_valid(&self) -> bool {
        // every byte looked at, without an early exit: the compiler checks them 16 or 32 at a
        // time (a check on every identity answer, most of them printable)
        let printable = self.raw.iter().fold(true, |ok, &b| {
            ok & ((0x20..0x7f).contains(&b) | (b == b'\t'))
        });
        !self.raw.is_empty() && printable && self.fields().next().is_some()
    }

    /// The six fields records carry, found in one pass over the ID (the first of each wins,
    /// as [`get`](Self::get) finds it): an identity answer is read once, not once a field.
    pub fn known(&self) -> KnownFields<'a> {
        const SLOTS: [&[&str]; 6] = [MFG, MDL, DES, VER, CMD, CLS];
        let mut found: [Option<&'a [u8]>; 6] = [None; 6];
        for (k, v) in self.fields() {
            let slot = SLOTS
                .iter()
                .position(|names| names.iter().any(|w| k.eq_ignore_ascii_case(w.as_bytes())));
            if let Some(i) = slot {
                found[i].get_or_insert(v);
                if found.iter().all(Option::is_some) {
                    break;
                }
            }
        }
        let [mfg, mdl, des, ver, cmd, cls] = found;
        KnownFields {
            mfg,
            mdl,
            des,
            ver,
            cmd,
            cls,
        }
    }

    pub fn manufacturer(&self) -> Option<&'a [u8]> {
        self.get(MFG)
    }
    pub fn model(&self) -> Option<&'a [u8]> {
        self.get(MDL)
    }
    pub fn description(&self) -> Option<&'a [u8]> {
        self.get(DES)
    }
    pub fn version(&self) -> Option<&'a [u8]> {
        self.get(VER)
    }
    pub fn command_set(&self) -> Option<&'a [u8]> {
        self.get(CMD)
    }
    pub fn class(&self) -> Option<&'a [u8]> {
        self.get(CLS)
    }
}

/// The keys of the device-ID fields records carry, as IEEE 1284 and vendors spell them.
const MFG: &[&str] = &["MFG", "MANUFACTURER"];
const MDL: &[&str] = &["MDL", "MODEL"];
const DES: &[&str] = &["DES", "DESCRIPTION"];
const VER: &[&str] = &["VER"];
const CMD: &[&str] = &["CMD", "COMMAND SET"];
const CLS: &[&str] = &["CLS", "CLASS"];

/// A device ID's fields that records carry (see [`DeviceId::known`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KnownFields<'a> {
    pub mfg: Option<&'a [u8]>,
    pub mdl: Option<&'a [u8]>,
    pub des: Option<&'a [u8]>,
    pub ver: Option<&'a [u8]>,
    pub cmd: Option<&'a [u8]>,
    pub cls: Option<&'a [u8]>,
}

/// Job-details request (0x10): 8 bytes, then host, user and title in UTF-16BE, zero padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobDetails<'a> {
    pub host: &'a [u8],
    pub user: &'a [u8],
    pub title: &'a [u8],
}

pub const JOB_DETAILS_LEN: usize = 392;

impl<'a> JobDetails<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self, PayloadError> {
        if p.len() < JOB_DETAILS_LEN {
            return Err(PayloadError::Length {
                got: p.len(),
                expected: "392",
            });
        }
        Ok(JobDetails {
            host: &p[8..72],
            user: &p[72..136],
            title: &p[136..392],
        })
    }
}

/// Scan-poll request (0x32): a type and, for types 1, 2 and 5, "user  host" in UTF-16BE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanPoll<'a> {
    pub kind: u16,
    pub user_host: Option<&'a [u8]>,
}

impl<'a> ScanPoll<'a> {
    pub fn parse(p: &'a [u8]) -> Result<Self, PayloadError> {
        let kind =
            p.get(..2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(PayloadError::Length {
                    got: p.len(),
                    expected: "80, 100 or 116",
                })?;
        // The name is at offset 8 in every variant: type 1 pads with 6 zero bytes, types 2 and
        // 5 put 2 bytes and the u32 dialog number there.
        let (expected_len, has_name) = match kind {
            0 => (80, false),
            1 => (80, true),
            2 => (116, true),
            5 => (100, true),
            _ => return Err(PayloadError::Field("poll_type")),
        };
        if p.len() != expected_len {
            return Err(PayloadError::Length {
                got: p.len(),
                expected: "80, 100 or 116 by type",
            });
        }
        Ok(ScanPoll {
            kind,
            user_host: has_name.then(|| &p[8..72]),
        })
    }
}

/// UDP status response (0x20): XML from newer devices, else a u16 length and `KEY:value;` text.
pub fn status_text(p: &[u8]) -> Option<&[u8]> {
    if p.starts_with(b"<?xml") {
        return Some(p);
    }
    let len = usize::from(u16::from_be_bytes([*p.first()?, *p.get(1)?]));
    // Both "length counts itself" and "length counts the text" are seen in the field; accept
    // either as long as it stays inside the payload.
    let body = &p[2..];
    Some(&body[..body.len().min(len)])
}

/// TCP data acknowledgement (0x21 response): u32 count of bytes the device accepted.
pub fn accepted_bytes(p: &[u8]) -> Option<u32> {
    let b: [u8; 4] = p.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(b))
}

/// Decodes UTF-16BE up to the first NUL; invalid units become U+FFFD. Allocates: call only when
/// building a record.
pub fn utf16be_string(b: &[u8]) -> String {
    let units = b
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0);
    char::decode_utf16(units)
        .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        // One pass must find what one search a field finds: the first of each, any case.
        #[test]
        fn one_pass_finds_what_each_field_search_finds(
            parts in proptest::collection::vec(
                (proptest::sample::select(vec![
                    "MFG", "mfg", "MANUFACTURER", "MDL", "Model", "DES", "DESCRIPTION", "VER",
                    "CMD", "COMMAND SET", "CLS", "class", "X", " MDL ", "",
                ]), "[ -9;<-~]{0,6}", proptest::prelude::any::<bool>()),
                0..12,
            ),
        ) {
            let raw: String = parts
                .iter()
                .map(|(k, v, colon)| format!("{k}{}{v};", if *colon { ":" } else { "" }))
                .collect();
            let id = DeviceId { raw: raw.as_bytes() };
            let k = id.known();
            proptest::prop_assert_eq!(
                [k.mfg, k.mdl, k.des, k.ver, k.cmd, k.cls],
                [
                    id.manufacturer(),
                    id.model(),
                    id.description(),
                    id.version(),
                    id.command_set(),
                    id.class()
                ]
            );
        }

        // The check of every byte without an early exit says what the byte-by-byte check said.
        #[test]
        fn looks_valid_as_checked_byte_by_byte(
            raw in proptest::collection::vec(
                proptest::sample::select(vec![b'\t', b' ', b'~', 0x7f, 0x1f, b':', b';', b'A', 0x80, 0]),
                0..80,
            ),
        ) {
            let id = DeviceId { raw: &raw };
            let byte_by_byte = !raw.is_empty()
                && raw.iter().all(|&b| (0x20..0x7f).contains(&b) || b == b'\t')
                && id.fields().next().is_some();
            proptest::prop_assert_eq!(id.looks_valid(), byte_by_byte);
        }
    }
}
