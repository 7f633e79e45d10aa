//! What one direction of a TLS stream shows in clear: the ClientHello (SNI, ALPN, offered
//! versions), the ServerHello (negotiated version), the Certificate messages of TLS 1.2 and
//! earlier (summarised, see `cert.rs`), CertificateRequest, plaintext alerts, and how many
//! application data records went by. Nothing after this side's ChangeCipherSpec is parsed: it
//! is encrypted. In TLS 1.3 everything after the ServerHello is encrypted, certificates and
//! the client's alerts included; only counts remain.
//!
//! Handshake messages are reassembled across records (a Certificate message often spans
//! several), bounded by [`MAX_HANDSHAKE`]: a longer message is skipped and parsing stops for
//! this direction.

use super::cert::{self, CertInfo};
use super::source::be16;
use super::Timestamp;

pub(crate) const MAX_RECORD: usize = (1 << 14) + 2048;
/// Longest handshake message held for reassembly (a certificate chain of a few certificates
/// fits many times over).
pub(crate) const MAX_HANDSHAKE: usize = 64 * 1024;
/// Certificates summarised per Certificate message (the rest are counted).
pub(crate) const MAX_CHAIN: usize = 8;
/// ALPN protocols and versions kept from a ClientHello.
const MAX_LIST: usize = 8;
/// Longest server name or ALPN protocol id kept.
const MAX_NAME: usize = 255;

const CONTENT_CCS: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPDATA: u8 = 23;

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// A ClientHello, as far as the findings go.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct ClientHello {
    /// The host_name of the server_name extension (cut at 255 bytes); None when the hello
    /// names no server (a client connecting by IP address).
    pub sni: Option<String>,
    /// ALPN protocol ids offered (e.g. "h2", "http/1.1"; browsers always offer them for HTTPS).
    pub alpn: Vec<String>,
    /// Versions offered (supported_versions without GREASE values, else the legacy version).
    pub versions: Vec<u16>,
}

/// What a record completed, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    ClientHello(ClientHello),
    /// The version the server chose (supported_versions, else the legacy field).
    ServerHello {
        version: u16,
    },
    /// A Certificate message: up to [`MAX_CHAIN`] certificates summarised, and how many there were.
    Certificates {
        chain: Vec<CertInfo>,
        count: usize,
    },
    CertificateRequest,
    Alert {
        level: u8,
        description: u8,
    },
}

/// Application data seen in one direction (counts only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppData {
    /// application_data records seen.
    pub records: u64,
    /// Their bytes, without the 5-byte record headers.
    pub bytes: u64,
    /// When the first was seen (None: no application data in this direction).
    pub first: Option<Timestamp>,
    /// When the last was seen (None: no application data in this direction).
    pub last: Option<Timestamp>,
}

/// The TLS state of one direction of a stream.
#[derive(Debug, Default)]
pub(crate) struct TlsDir {
    /// Handshake bytes not yet cut into messages (at most [`MAX_HANDSHAKE`] + a record).
    hs: Vec<u8>,
    /// This side sent ChangeCipherSpec, or chose TLS 1.3: its handshake is encrypted from here.
    encrypted: bool,
    /// A handshake message was too long to hold: no more handshake parsing here.
    lost: bool,
    pub app: AppData,
}

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

impl TlsDir {
    /// Feed one whole record (header included) seen at `ts`; what it completes goes to `out`.
    pub fn record(&mut self, rec: &[u8], ts: Timestamp, out: &mut Vec<Item>) {
        let body = rec.get(5..).unwrap_or_default();
        match rec.first().copied() {
            Some(CONTENT_CCS) => {
                self.encrypted = true;
                self.hs = Vec::new();
            }
            // Longer alert records are encrypted ones (or several alerts, which nobody sends).
            Some(CONTENT_ALERT) if !self.encrypted => {
                if let [level @ 1..=2, description] = body {
                    out.push(Item::Alert {
                        level: *level,
                        description: *description,
                    });
                }
            }
            Some(CONTENT_HANDSHAKE) if !self.encrypted && !self.lost => {
                self.hs.extend_from_slice(body);
                self.messages(out);
            }
            Some(CONTENT_APPDATA) => {
                let a = &mut self.app;
                a.records += 1;
                a.bytes += body.len() as u64;
                a.first.get_or_insert(ts);
                a.last = Some(ts);
            }
            _ => {}
        }
    }

    /// Cut the complete handshake messages off the front of the buffer.
    fn messages(&mut self, out: &mut Vec<Item>) {
        let mut at = 0usize;
        while let (Some(&ty), Some(len)) = (self.hs.get(at), be24(&self.hs, at + 1)) {
            if len > MAX_HANDSHAKE {
                self.lost = true;
                self.hs = Vec::new();
                return;
            }
            let Some(msg) = self.hs.get(at + 4..at + 4 + len) else {
                break;
            };
            if let Some(item) = handshake(ty, msg) {
                if let Item::ServerHello { version: 0x0304 } = item {
                    // TLS 1.3: the rest of this side's handshake is encrypted.
                    self.encrypted = true;
                }
                out.push(item);
            }
            at += 4 + len;
            if self.encrypted {
                self.hs = Vec::new();
                return;
            }
        }
        self.hs.drain(..at.min(self.hs.len()));
    }
}

fn be24(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 3)?;
    Some(s.iter().fold(0usize, |n, x| n << 8 | usize::from(*x)))
}

/// One complete handshake message (type and body).
fn handshake(ty: u8, msg: &[u8]) -> Option<Item> {
    match ty {
        1 => Some(Item::ClientHello(client_hello(msg))),
        2 => Some(Item::ServerHello {
            version: server_hello_version(msg)?,
        }),
        11 => Some(certificates(msg)),
        13 => Some(Item::CertificateRequest),
        _ => None,
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
    fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = be24(self.take(3)?, 0)?;
        self.take(n)
    }
}

/// The extensions block of a hello after its fixed fields, cut to what is there.
fn extensions<'a>(c: &mut Cursor<'a>) -> Cursor<'a> {
    let len = c.u16().map_or(0, usize::from);
    Cursor(c.0.get(..len.min(c.0.len())).unwrap_or_default())
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b.get(..MAX_NAME.min(b.len())).unwrap_or_default()).into_owned()
}

/// GREASE values (RFC 8701) are offered to keep servers honest, never chosen.
fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// A ClientHello body (after the 4-byte handshake header). A hello that does not parse to
/// the end yields what it holds.
fn client_hello(b: &[u8]) -> ClientHello {
    let mut hello = ClientHello::default();
    let mut c = Cursor(b);
    let Some(legacy) = c.u16() else { return hello };
    hello.versions.push(legacy);
    let fixed = c.take(32).and(c.vec8()).and(c.vec16()).and(c.vec8());
    if fixed.is_none() {
        return hello;
    }
    let mut exts = extensions(&mut c);
    while let (Some(ty), Some(data)) = (exts.u16(), exts.vec16()) {
        match ty {
            EXT_SERVER_NAME => hello.sni = server_name(data),
            EXT_ALPN => {
                let mut list = Cursor(Cursor(data).vec16().unwrap_or_default());
                while let Some(p) = list.vec8() {
                    if hello.alpn.len() < MAX_LIST {
                        hello.alpn.push(text(p));
                    }
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                let mut list = Cursor(Cursor(data).vec8().unwrap_or_default());
                hello.versions.clear();
                while let Some(v) = list.u16() {
                    if !is_grease(v) && hello.versions.len() < MAX_LIST {
                        hello.versions.push(v);
                    }
                }
            }
            _ => {}
        }
    }
    hello
}

fn server_name(data: &[u8]) -> Option<String> {
    let mut list = Cursor(Cursor(data).vec16()?);
    while let (Some(kind), Some(name)) = (list.u8(), list.vec16()) {
        if kind == 0 {
            return Some(text(name));
        }
    }
    None
}

/// The negotiated version of a ServerHello body: supported_versions when present (TLS 1.3),
/// else the legacy version field.
fn server_hello_version(b: &[u8]) -> Option<u16> {
    let mut c = Cursor(b);
    let legacy = c.u16()?;
    let fixed = c.take(32).and(c.vec8()).and(c.take(3));
    if fixed.is_none() {
        return Some(legacy);
    }
    let mut exts = extensions(&mut c);
    while let (Some(ty), Some(data)) = (exts.u16(), exts.vec16()) {
        if ty == EXT_SUPPORTED_VERSIONS {
            return be16(data, 0).or(Some(legacy));
        }
    }
    Some(legacy)
}

/// A TLS 1.2 Certificate message: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>.
fn certificates(b: &[u8]) -> Item {
    let mut list = Cursor(Cursor(b).vec24().unwrap_or_default());
    let mut chain = Vec::new();
    let mut count = 0;
    while let Some(der) = list.vec24() {
        count += 1;
        if chain.len() < MAX_CHAIN {
            chain.push(cert::summarise(der));
        }
    }
    Item::Certificates { chain, count }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn record(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut rec = vec![ty, 3, 3];
        rec.extend_from_slice(&(body.len() as u16).to_be_bytes());
        rec.extend_from_slice(body);
        rec
    }

    pub fn handshake_msg(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut hs = vec![ty];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(body);
        hs
    }

    fn ext(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut e = ty.to_be_bytes().to_vec();
        e.extend_from_slice(&(data.len() as u16).to_be_bytes());
        e.extend_from_slice(data);
        e
    }

    fn vec16(d: &[u8]) -> Vec<u8> {
        let mut v = (d.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(d);
        v
    }

    /// A ClientHello record with SNI, ALPN and supported_versions (GREASE first).
    pub fn client_hello_full(sni: &str, alpn: &[&str], versions: &[u16]) -> Vec<u8> {
        let mut name = vec![0u8];
        name.extend_from_slice(&vec16(sni.as_bytes()));
        let mut exts = ext(0xff01, &[0]); // renegotiation_info first
        exts.extend(ext(EXT_SERVER_NAME, &vec16(&name)));
        let mut protos = Vec::new();
        for p in alpn {
            protos.push(p.len() as u8);
            protos.extend_from_slice(p.as_bytes());
        }
        exts.extend(ext(EXT_ALPN, &vec16(&protos)));
        let mut vs = vec![(versions.len() * 2 + 2) as u8, 0x3a, 0x3a];
        for v in versions {
            vs.extend_from_slice(&v.to_be_bytes());
        }
        exts.extend(ext(EXT_SUPPORTED_VERSIONS, &vs));
        let mut hello = vec![3, 3];
        hello.extend_from_slice(&[7; 32]);
        hello.push(0);
        hello.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
        hello.extend_from_slice(&vec16(&exts));
        let mut rec = record(CONTENT_HANDSHAKE, &handshake_msg(1, &hello));
        rec[2] = 1;
        rec
    }

    /// A minimal TLS 1.2-style ClientHello record with an SNI extension.
    pub fn client_hello(sni: &str) -> Vec<u8> {
        client_hello_full(sni, &[], &[0x0303])
    }

    pub fn server_hello(version: u16) -> Vec<u8> {
        let mut b = vec![3, 3];
        b.extend_from_slice(&[9; 32]);
        b.push(0);
        b.extend_from_slice(&[0x13, 0x01, 0]);
        let sv = if version == 0x0304 {
            ext(EXT_SUPPORTED_VERSIONS, &version.to_be_bytes())
        } else {
            Vec::new()
        };
        b.extend_from_slice(&vec16(&sv));
        handshake_msg(2, &b)
    }

    pub fn certificate_msg(ders: &[&[u8]]) -> Vec<u8> {
        let mut list = Vec::new();
        for d in ders {
            list.extend_from_slice(&(d.len() as u32).to_be_bytes()[1..]);
            list.extend_from_slice(d);
        }
        let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
        body.extend_from_slice(&list);
        handshake_msg(11, &body)
    }

    fn feed(recs: &[Vec<u8>]) -> Vec<Item> {
        let mut d = TlsDir::default();
        let mut out = Vec::new();
        for r in recs {
            d.record(r, Timestamp(0), &mut out);
        }
        out
    }

    #[test]
    fn client_hello_fields() {
        let r = client_hello_full("Join.Example.com", &["h2", "http/1.1"], &[0x0304, 0x0303]);
        assert_eq!(record_len(&r), Some(r.len()));
        assert!(looks_like_tls(&r));
        let items = feed(std::slice::from_ref(&r));
        assert_eq!(
            items,
            vec![Item::ClientHello(ClientHello {
                sni: Some("Join.Example.com".into()),
                alpn: vec!["h2".into(), "http/1.1".into()],
                versions: vec![0x0304, 0x0303],
            })]
        );
        // Cut anywhere: never a panic, and a cut hello is not reported until it completes.
        for n in 0..r.len() {
            let mut cut = r[..n].to_vec();
            if n >= 5 {
                let len = (n - 5) as u16;
                cut[3..5].copy_from_slice(&len.to_be_bytes());
            }
            let _ = feed(&[cut]);
        }
    }

    #[test]
    fn handshake_spanning_records_and_tls13_stop() {
        let der = [0x30u8, 0x03, 0x02, 0x01, 0x01];
        let mut flight = server_hello(0x0303);
        flight.extend(certificate_msg(&[&der, &der]));
        flight.extend(handshake_msg(13, &[1, 1, 0, 0]));
        let (a, b) = flight.split_at(50);
        let items = feed(&[
            record(CONTENT_HANDSHAKE, a),
            record(CONTENT_HANDSHAKE, b),
            record(CONTENT_ALERT, &[2, 48]),
        ]);
        assert_eq!(items[0], Item::ServerHello { version: 0x0303 });
        let Item::Certificates { chain, count } = &items[1] else {
            panic!("{items:?}")
        };
        assert_eq!((chain.len(), *count), (2, 2));
        assert!(chain[0].error.is_some());
        assert_eq!(items[2], Item::CertificateRequest);
        assert_eq!(
            items[3],
            Item::Alert {
                level: 2,
                description: 48
            }
        );
        // TLS 1.3: nothing after the ServerHello is read, even if it looked like a handshake.
        let mut f13 = server_hello(0x0304);
        f13.extend(certificate_msg(&[&der]));
        let items = feed(&[record(CONTENT_HANDSHAKE, &f13)]);
        assert_eq!(items, vec![Item::ServerHello { version: 0x0304 }]);
        // After ChangeCipherSpec, alerts and handshakes are encrypted.
        let items = feed(&[
            record(CONTENT_CCS, &[1]),
            record(CONTENT_ALERT, &[2, 48]),
            record(CONTENT_HANDSHAKE, &server_hello(0x0303)),
        ]);
        assert!(items.is_empty(), "{items:?}");
    }

    #[test]
    fn oversized_handshake_is_bounded() {
        let mut d = TlsDir::default();
        let mut out = Vec::new();
        let mut hdr = vec![11u8];
        hdr.extend_from_slice(&((MAX_HANDSHAKE + 1) as u32).to_be_bytes()[1..]);
        d.record(&record(CONTENT_HANDSHAKE, &hdr), Timestamp(0), &mut out);
        d.record(
            &record(CONTENT_HANDSHAKE, &[0; 1000]),
            Timestamp(0),
            &mut out,
        );
        assert!(out.is_empty() && d.hs.is_empty() && d.lost);
    }

    #[test]
    fn application_data_counted() {
        let mut d = TlsDir::default();
        let mut out = Vec::new();
        for i in 0..3 {
            d.record(&record(CONTENT_APPDATA, &[0; 100]), Timestamp(i), &mut out);
        }
        assert_eq!(
            d.app,
            AppData {
                records: 3,
                bytes: 300,
                first: Some(Timestamp(0)),
                last: Some(Timestamp(2))
            }
        );
        assert_eq!(record_len(&[0x17, 3, 3, 0xff, 0xff]), None);
        assert!(is_grease(0x3a3a) && !is_grease(0x0304));
    }
}
