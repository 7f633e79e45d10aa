//! Just enough TLS to say that a TCP stream is TLS, which server name the client asked for,
//! and how the server answered (ServerHello or an alert).

use super::source::be16;

/// What one TLS record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Record {
    ClientHello {
        sni: Option<String>,
    },
    ServerHello,
    /// A plaintext alert: (level, description).
    Alert(u8, u8),
    ChangeCipherSpec,
    /// Application data, other handshake messages, or encrypted content.
    Other,
}

pub(crate) const MAX_RECORD: usize = (1 << 14) + 2048;

/// A plausible TLS record header at the start of `b` (needs 5 bytes): content type 20-24,
/// version 3.x (x <= 4), length within the limit. Returns the whole record length.
pub(crate) fn record_len(b: &[u8]) -> Option<usize> {
    let (&ty, &major, &minor) = (b.first()?, b.get(1)?, b.get(2)?);
    let len = usize::from(be16(b, 3)?);
    ((0x14..=0x18).contains(&ty) && major == 3 && minor <= 4 && len <= MAX_RECORD)
        .then_some(5 + len)
}

/// Looks like the first bytes of a TLS stream (3 bytes are enough).
pub(crate) fn looks_like_tls(b: &[u8]) -> bool {
    matches!(
        (b.first(), b.get(1), b.get(2)),
        (Some(0x14..=0x17), Some(3), Some(0..=4))
    )
}

/// Interpret a whole record (header included).
pub(crate) fn classify(rec: &[u8]) -> Record {
    let body = rec.get(5..).unwrap_or_default();
    match rec.first() {
        Some(0x14) => Record::ChangeCipherSpec,
        Some(0x15) if body.len() == 2 => Record::Alert(body[0], body[1]),
        Some(0x16) => match body.first() {
            Some(1) => Record::ClientHello {
                sni: client_hello_sni(body.get(4..).unwrap_or_default()),
            },
            Some(2) => Record::ServerHello,
            _ => Record::Other,
        },
        _ => Record::Other,
    }
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        be16(self.take(2)?, 0)
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// The server_name of a ClientHello body (after the 4-byte handshake header). A hello cut
/// short (spread over several records) yields what it holds; no SNI gives `None`.
fn client_hello_sni(b: &[u8]) -> Option<String> {
    let mut c = Cursor(b);
    c.take(2 + 32)?; // version, random
    c.vec8()?; // session id
    c.vec16()?; // cipher suites
    c.vec8()?; // compression
    let ext_len = usize::from(c.u16()?);
    let mut exts = Cursor(c.0.get(..ext_len.min(c.0.len()))?);
    while let (Some(ty), Some(data)) = (exts.u16(), exts.vec16()) {
        if ty != 0 {
            continue;
        }
        let mut list = Cursor(Cursor(data).vec16()?);
        while let (Some(kind), Some(name)) = (list.u8(), list.vec16()) {
            if kind == 0 {
                return Some(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal TLS 1.2-style ClientHello record with an SNI extension.
    pub fn client_hello(sni: &str) -> Vec<u8> {
        let mut name = vec![0u8];
        name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        name.extend_from_slice(sni.as_bytes());
        let mut list = (name.len() as u16).to_be_bytes().to_vec();
        list.extend_from_slice(&name);
        let mut ext = vec![0xff, 0x01, 0, 1, 0]; // renegotiation_info first
        ext.extend_from_slice(&[0, 0]);
        ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
        ext.extend_from_slice(&list);
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[7; 32]);
        hello.push(0); // session id
        hello.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
        hello.extend_from_slice(&[1, 0]); // null compression
        hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        hello.extend_from_slice(&ext);
        let mut hs = vec![1, 0];
        hs.extend_from_slice(&(hello.len() as u16).to_be_bytes());
        hs.extend_from_slice(&hello);
        let mut rec = vec![0x16, 3, 1];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn sni() {
        let r = client_hello("turn.example.com");
        assert_eq!(record_len(&r), Some(r.len()));
        assert!(looks_like_tls(&r));
        assert_eq!(
            classify(&r),
            Record::ClientHello {
                sni: Some("turn.example.com".into())
            }
        );
        for n in 0..r.len() {
            let _ = classify(&r[..n]);
        }
        assert_eq!(classify(&[0x15, 3, 3, 0, 2, 2, 40]), Record::Alert(2, 40));
        assert_eq!(
            classify(&[0x16, 3, 3, 0, 4, 2, 0, 0, 0]),
            Record::ServerHello
        );
        assert_eq!(record_len(&[0x17, 3, 3, 0xff, 0xff]), None);
    }
}
