//! Building STUN messages: attributes appended in order, integrity and fingerprint computed.
//! Used by the TURN server core and by tests that script exchanges.

use std::net::{IpAddr, SocketAddr};

use super::attr;
use super::channel::CHANNEL_HEADER_LEN;
use super::integrity::{compute_fingerprint, compute_integrity, IntegrityKind, Key};
use super::message::{message_type, Class, Method, TransactionId, HEADER_LEN, MAGIC_COOKIE};

/// A message under construction.
#[derive(Debug, Clone)]
pub struct MessageBuilder {
    buf: Vec<u8>,
    txid: TransactionId,
    pad: u8,
}

impl MessageBuilder {
    /// Start a message: header with the given type and id, no attributes yet.
    pub fn new(method: Method, class: Class, txid: TransactionId) -> Self {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&message_type(method, class).to_be_bytes());
        buf.extend_from_slice(&[0, 0]);
        if txid.is_legacy() {
            buf.extend_from_slice(txid.as_bytes());
        } else {
            buf.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
            buf.extend_from_slice(txid.as_bytes());
        }
        MessageBuilder { buf, txid, pad: 0 }
    }

    /// A response (success or error) to a request with the same method and transaction id.
    pub fn response(method: Method, class: Class, txid: TransactionId) -> Self {
        Self::new(method, class, txid)
    }

    /// The byte used to pad attribute values (zero by default; RFC 5769's vectors use spaces,
    /// and receivers must ignore it).
    pub fn pad_with(mut self, byte: u8) -> Self {
        self.pad = byte;
        self
    }

    /// The id the message is built with.
    pub fn transaction_id(&self) -> TransactionId {
        self.txid
    }

    fn set_length(&mut self) {
        let len = (self.buf.len().saturating_sub(HEADER_LEN)) as u16;
        self.buf[2..4].copy_from_slice(&len.to_be_bytes());
    }

    /// Append any attribute; the value is padded to four bytes.
    pub fn attr(mut self, typ: u16, value: &[u8]) -> Self {
        self.push(typ, value);
        self
    }

    /// Append in place (for loops).
    pub fn push(&mut self, typ: u16, value: &[u8]) {
        self.buf.extend_from_slice(&typ.to_be_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u16).to_be_bytes());
        self.buf.extend_from_slice(value);
        let pad = (4 - value.len() % 4) % 4;
        self.buf.extend(std::iter::repeat_n(self.pad, pad));
        self.set_length();
    }

    /// Append USERNAME.
    pub fn username(self, u: &str) -> Self {
        self.attr(attr::USERNAME, u.as_bytes())
    }

    /// Append REALM.
    pub fn realm(self, r: &str) -> Self {
        self.attr(attr::REALM, r.as_bytes())
    }

    /// Append NONCE.
    pub fn nonce(self, n: &[u8]) -> Self {
        self.attr(attr::NONCE, n)
    }

    /// Append SOFTWARE.
    pub fn software(self, s: &str) -> Self {
        self.attr(attr::SOFTWARE, s.as_bytes())
    }

    /// Append an attribute whose value is one big-endian 32-bit number.
    pub fn u32_attr(self, typ: u16, v: u32) -> Self {
        self.attr(typ, &v.to_be_bytes())
    }

    /// Append LIFETIME, in seconds.
    pub fn lifetime(self, seconds: u32) -> Self {
        self.u32_attr(attr::LIFETIME, seconds)
    }

    /// Append REQUESTED-TRANSPORT with an IP protocol number (17 UDP, 6 TCP).
    pub fn requested_transport(self, protocol: u8) -> Self {
        self.attr(attr::REQUESTED_TRANSPORT, &[protocol, 0, 0, 0])
    }

    /// Append CHANNEL-NUMBER (0x4000-0x4FFF per RFC 8656).
    pub fn channel_number(self, channel: u16) -> Self {
        let c = channel.to_be_bytes();
        self.attr(attr::CHANNEL_NUMBER, &[c[0], c[1], 0, 0])
    }

    /// Append DATA.
    pub fn data(self, d: &[u8]) -> Self {
        self.attr(attr::DATA, d)
    }

    /// Append ERROR-CODE: `code` is 300-699, `reason` the phrase.
    pub fn error_code(self, code: u16, reason: &str) -> Self {
        let mut v = vec![0, 0, (code / 100) as u8 & 0x07, (code % 100) as u8];
        v.extend_from_slice(reason.as_bytes());
        self.attr(attr::ERROR_CODE, &v)
    }

    /// Append UNKNOWN-ATTRIBUTES listing `types`.
    pub fn unknown_attributes(self, types: &[u16]) -> Self {
        let v: Vec<u8> = types.iter().flat_map(|t| t.to_be_bytes()).collect();
        self.attr(attr::UNKNOWN_ATTRIBUTES, &v)
    }

    /// A plain (non-XOR) address attribute such as MAPPED-ADDRESS or ALTERNATE-SERVER.
    pub fn address(self, typ: u16, addr: SocketAddr) -> Self {
        let v = encode_address(addr, None);
        self.attr(typ, &v)
    }

    /// An XOR address attribute (XOR-MAPPED/-PEER/-RELAYED-ADDRESS).
    pub fn xor_address(self, typ: u16, addr: SocketAddr) -> Self {
        let v = encode_address(addr, Some(&self.txid));
        self.attr(typ, &v)
    }

    /// Append MESSAGE-INTEGRITY (HMAC-SHA1) computed with `key`.
    pub fn integrity(self, key: &Key) -> Self {
        self.integrity_kind(key, IntegrityKind::Sha1)
    }

    /// Append MESSAGE-INTEGRITY-SHA256 computed with `key`.
    pub fn integrity_sha256(self, key: &Key) -> Self {
        self.integrity_kind(key, IntegrityKind::Sha256)
    }

    fn integrity_kind(mut self, key: &Key, kind: IntegrityKind) -> Self {
        let offset = self.buf.len();
        let mac = compute_integrity(&self.buf, offset, key, kind);
        let typ = match kind {
            IntegrityKind::Sha1 => attr::MESSAGE_INTEGRITY,
            IntegrityKind::Sha256 => attr::MESSAGE_INTEGRITY_SHA256,
        };
        self.push(typ, &mac);
        self
    }

    /// Append FINGERPRINT and return the finished message.
    pub fn fingerprint(mut self) -> Vec<u8> {
        let offset = self.buf.len();
        let crc = compute_fingerprint(&self.buf, offset);
        self.push(attr::FINGERPRINT, &crc.to_be_bytes());
        self.buf
    }

    /// The finished message without FINGERPRINT.
    pub fn build(self) -> Vec<u8> {
        self.buf
    }
}

/// Encode an address attribute value (family, port, address), XORed when a txid is given.
pub fn encode_address(addr: SocketAddr, xor: Option<&TransactionId>) -> Vec<u8> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let port = match xor {
        Some(_) => addr.port() ^ (MAGIC_COOKIE >> 16) as u16,
        None => addr.port(),
    };
    let mut v = Vec::with_capacity(20);
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.extend_from_slice(&[0, 0x01]);
            v.extend_from_slice(&port.to_be_bytes());
            let mut o = ip.octets();
            if xor.is_some() {
                for (b, c) in o.iter_mut().zip(cookie) {
                    *b ^= c;
                }
            }
            v.extend_from_slice(&o);
        }
        IpAddr::V6(ip) => {
            v.extend_from_slice(&[0, 0x02]);
            v.extend_from_slice(&port.to_be_bytes());
            let mut o = ip.octets();
            if let Some(txid) = xor {
                let mut mask = [0u8; 16];
                mask[..4].copy_from_slice(&cookie);
                let id = txid.as_bytes();
                let n = id.len().min(12);
                mask[4..4 + n].copy_from_slice(&id[..n]);
                for (b, m) in o.iter_mut().zip(mask) {
                    *b ^= m;
                }
            }
            v.extend_from_slice(&o);
        }
    }
    v
}

/// Build a ChannelData message; `padded` adds the stream padding to four bytes.
pub fn channel_data(channel: u16, data: &[u8], padded: bool) -> Vec<u8> {
    let mut v = Vec::with_capacity(CHANNEL_HEADER_LEN + data.len() + 3);
    v.extend_from_slice(&channel.to_be_bytes());
    v.extend_from_slice(&(data.len() as u16).to_be_bytes());
    v.extend_from_slice(data);
    if padded {
        let pad = (4 - data.len() % 4) % 4;
        v.extend(std::iter::repeat_n(0u8, pad));
    }
    v
}
