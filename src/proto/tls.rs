//! TLS on a printer port (IPPS on 631): recognised from its first record and named by the
//! server name its ClientHello asks for, so an encrypted session is reported as TLS rather
//! than as a malformed message of the cleartext protocol.

use tls_parser::{
    parse_tls_extensions, parse_tls_plaintext, SNIType, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};

/// A ClientHello record is read up to this many bytes (a record is at most 16 KiB + 5).
pub const MAX_RECORD: usize = 16 * 1024 + 5;

/// Whether a stream starts like a TLS handshake record (type 22, version 3.x).
pub fn looks_like_tls(first: &[u8]) -> bool {
    matches!(first, [0x16, 0x03, 0..=4, ..])
}

/// What the first record of a TLS client says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hello<'a> {
    /// More bytes are needed for the whole record.
    Incomplete,
    ClientHello {
        /// The ClientHello's legacy version (0x0303 for TLS 1.2 and 1.3).
        version: u16,
        /// The first host name of the server name extension.
        sni: Option<&'a [u8]>,
    },
    /// A whole record that is no ClientHello, or does not parse.
    Other,
}

/// Reads the first record of a client's stream.
pub fn client_hello(data: &[u8]) -> Hello<'_> {
    let data = &data[..data.len().min(MAX_RECORD)];
    let rec = match parse_tls_plaintext(data) {
        Ok((_, rec)) => rec,
        Err(tls_parser::nom::Err::Incomplete(_)) if data.len() < MAX_RECORD => {
            return Hello::Incomplete
        }
        Err(_) => return Hello::Other,
    };
    for msg in &rec.msg {
        if let TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch)) = msg {
            let sni = ch
                .ext
                .and_then(|ext| parse_tls_extensions(ext).ok())
                .and_then(|(_, exts)| {
                    exts.into_iter().find_map(|e| match e {
                        TlsExtension::SNI(names) => names
                            .into_iter()
                            .find(|(t, _)| *t == SNIType::HostName)
                            .map(|(_, name)| name),
                        _ => None,
                    })
                });
            return Hello::ClientHello {
                version: ch.version.0,
                sni,
            };
        }
    }
    Hello::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal TLS 1.2 ClientHello with one cipher and a server name extension.
    fn hello(sni: &[u8]) -> Vec<u8> {
        let mut ext = vec![0, 0]; // server_name
        let list_len = sni.len() + 3;
        ext.extend((list_len as u16 + 2).to_be_bytes());
        ext.extend((list_len as u16).to_be_bytes());
        ext.push(0); // host_name
        ext.extend((sni.len() as u16).to_be_bytes());
        ext.extend(sni);
        let mut body = vec![3, 3];
        body.extend([7u8; 32]); // random
        body.push(0); // session id
        body.extend([0, 2, 0x13, 0x01]); // ciphers
        body.extend([1, 0]); // compression
        body.extend((ext.len() as u16).to_be_bytes());
        body.extend(ext);
        let mut hs = vec![1, 0];
        hs.extend((body.len() as u16).to_be_bytes());
        hs.extend(body);
        let mut rec = vec![0x16, 3, 1];
        rec.extend((hs.len() as u16).to_be_bytes());
        rec.extend(hs);
        rec
    }

    #[test]
    fn the_server_name_of_a_client_hello() {
        let h = hello(b"printer.example");
        assert!(looks_like_tls(&h));
        assert_eq!(
            client_hello(&h),
            Hello::ClientHello {
                version: 0x0303,
                sni: Some(&b"printer.example"[..])
            }
        );
        for cut in 0..h.len() {
            assert_eq!(client_hello(&h[..cut]), Hello::Incomplete, "cut {cut}");
        }
        assert!(!looks_like_tls(b"POST /ipp/print HTTP/1.1\r\n"));
        assert!(!looks_like_tls(&[0x02, 0x00]));
        // a handshake record that is not a ClientHello, and garbage after a TLS-like start
        assert_eq!(client_hello(&[0x16, 3, 3, 0, 4, 2, 0, 0, 0]), Hello::Other);
        let mut junk = vec![0x16, 3, 3, 0x40, 0];
        junk.extend(vec![0xff; 0x4000]);
        assert_eq!(client_hello(&junk), Hello::Other);
    }
}
