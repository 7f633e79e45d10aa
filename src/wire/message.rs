//! The STUN message: header, class, method, transaction id and a raw attribute walk.
//!
//! `Message::parse` validates the header and walks every attribute once (so a message that parses
//! never overruns later), but keeps only borrowed slices: attribute values are read on demand.

use std::fmt;

use nom::number::complete::{be_u16, be_u32};
use nom::IResult;

use super::attr::{self, Attribute, RawAttribute};
use super::WireError;

/// RFC 5389 magic cookie, found at bytes 4..8 of every post-RFC 3489 message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Size of the fixed STUN header.
pub const HEADER_LEN: usize = 20;

/// The class bits (C1 C0) of the message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Request (class bits 0b00): expects a success or error response.
    Request,
    /// Indication (0b01): no response (Send, Data, ICE keepalives).
    Indication,
    /// Success response (0b10).
    Success,
    /// Error response (0b11), carries ERROR-CODE.
    Error,
}

impl Class {
    /// Lower-case name as the JSON contract uses: "request", "indication", "success", "error".
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Request => "request",
            Class::Indication => "indication",
            Class::Success => "success",
            Class::Error => "error",
        }
    }

    fn bits(self) -> u16 {
        match self {
            Class::Request => 0b00,
            Class::Indication => 0b01,
            Class::Success => 0b10,
            Class::Error => 0b11,
        }
    }

    fn from_bits(bits: u16) -> Class {
        match bits & 0b11 {
            0b00 => Class::Request,
            0b01 => Class::Indication,
            0b10 => Class::Success,
            _ => Class::Error,
        }
    }
}

/// The 12-bit method. Known methods have names; the rest keep their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Method(pub u16);

impl Method {
    /// Binding (RFC 8489): reflexive address discovery and ICE connectivity checks.
    pub const BINDING: Method = Method(0x001);
    /// RFC 3489 Shared Secret.
    pub const SHARED_SECRET: Method = Method(0x002);
    /// TURN Allocate (RFC 8656 section 7).
    pub const ALLOCATE: Method = Method(0x003);
    /// TURN Refresh (RFC 8656 section 8).
    pub const REFRESH: Method = Method(0x004);
    /// TURN Send indication, client to relay (RFC 8656 section 11).
    pub const SEND: Method = Method(0x006);
    /// TURN Data indication, relay to client (RFC 8656 section 11).
    pub const DATA: Method = Method(0x007);
    /// TURN CreatePermission (RFC 8656 section 10).
    pub const CREATE_PERMISSION: Method = Method(0x008);
    /// TURN ChannelBind (RFC 8656 section 12).
    pub const CHANNEL_BIND: Method = Method(0x009);
    /// RFC 6062 TCP relay.
    pub const CONNECT: Method = Method(0x00A);
    /// RFC 6062 ConnectionBind: ties a new client TCP connection to a peer connection.
    pub const CONNECTION_BIND: Method = Method(0x00B);
    /// RFC 6062 ConnectionAttempt indication: a peer connected to the relay.
    pub const CONNECTION_ATTEMPT: Method = Method(0x00C);
    /// Google's ping (GOOG-PING).
    pub const GOOG_PING: Method = Method(0x080);

    /// Lower-case name as the JSON contract uses, `None` for unregistered methods.
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            Method::BINDING => "binding",
            Method::SHARED_SECRET => "sharedsecret",
            Method::ALLOCATE => "allocate",
            Method::REFRESH => "refresh",
            Method::SEND => "send",
            Method::DATA => "data",
            Method::CREATE_PERMISSION => "createpermission",
            Method::CHANNEL_BIND => "channelbind",
            Method::CONNECT => "connect",
            Method::CONNECTION_BIND => "connectionbind",
            Method::CONNECTION_ATTEMPT => "connectionattempt",
            Method::GOOG_PING => "googping",
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "0x{:03x}", self.0),
        }
    }
}

/// Compose the 14-bit message type from method and class (RFC 8489 section 5).
pub fn message_type(method: Method, class: Class) -> u16 {
    let m = method.0 & 0x0FFF;
    let c = class.bits();
    (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0b01) << 4) | ((c & 0b10) << 7)
}

/// Split a message type into method and class.
pub fn split_type(typ: u16) -> (Method, Class) {
    let m = (typ & 0x000F) | ((typ & 0x00E0) >> 1) | ((typ & 0x3E00) >> 2);
    let c = ((typ >> 4) & 0b01) | ((typ >> 7) & 0b10);
    (Method(m), Class::from_bits(c))
}

/// The transaction id: 96 bits after the magic cookie, or 128 bits in RFC 3489 messages (the
/// first four bytes then stand where the cookie is).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId {
    bytes: [u8; 16],
    legacy: bool,
}

impl TransactionId {
    /// A 96-bit RFC 5389 transaction id.
    pub fn new(id: [u8; 12]) -> Self {
        let mut bytes = [0u8; 16];
        bytes[4..].copy_from_slice(&id);
        TransactionId {
            bytes,
            legacy: false,
        }
    }

    /// A 128-bit RFC 3489 transaction id.
    pub fn legacy(id: [u8; 16]) -> Self {
        TransactionId {
            bytes: id,
            legacy: true,
        }
    }

    /// The id's bytes: 12 for RFC 5389, 16 for RFC 3489.
    pub fn as_bytes(&self) -> &[u8] {
        if self.legacy {
            &self.bytes
        } else {
            &self.bytes[4..]
        }
    }

    /// True for a 128-bit RFC 3489 id (message without magic cookie).
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// Lower-case hex of the id's bytes (12 bytes, or 16 for RFC 3489).
    pub fn to_hex(&self) -> String {
        hex(self.as_bytes())
    }
}

impl fmt::Debug for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransactionId({})", self.to_hex())
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0x0F)] as char);
    }
    s
}

/// A decoded STUN message borrowing from the bytes it was parsed from.
#[derive(Clone, Copy)]
pub struct Message<'a> {
    /// Exactly the message: header plus `length` bytes of attributes.
    raw: &'a [u8],
    typ: u16,
    txid: TransactionId,
    legacy: bool,
}

impl fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("method", &self.method())
            .field("class", &self.class())
            .field("txid", &self.txid)
            .field("len", &self.raw.len())
            .field("legacy", &self.legacy)
            .finish()
    }
}

fn header(input: &[u8]) -> IResult<&[u8], (u16, u16, u32)> {
    let (input, typ) = be_u16(input)?;
    let (input, len) = be_u16(input)?;
    let (input, cookie) = be_u32(input)?;
    Ok((input, (typ, len, cookie)))
}

/// RFC 3489 message types: the only ones a cookie-less message may carry.
fn is_legacy_type(typ: u16) -> bool {
    matches!(typ, 0x0001 | 0x0101 | 0x0111 | 0x0002 | 0x0102 | 0x0112)
        // MS-TURN (pre-RFC 5766 TURN drafts) Allocate/Send/Data over the legacy header
        || matches!(typ, 0x0003 | 0x0103 | 0x0113 | 0x0004 | 0x0104 | 0x0114 | 0x0115 | 0x0006 | 0x0016 | 0x0017)
}

impl<'a> Message<'a> {
    /// Parse one message at the start of `buf`. Bytes after the message are not looked at: use
    /// [`Message::len`] to know how much was consumed.
    ///
    /// Errors distinguish "not STUN at all" ([`WireError::NotStun`]) from a STUN header whose
    /// body is broken (every other variant), which callers report as malformed.
    pub fn parse(buf: &'a [u8]) -> Result<Message<'a>, WireError> {
        let got = buf.len();
        let (_, (typ, len, cookie)) = header(buf).map_err(|_| WireError::Truncated {
            what: "STUN header",
            needed: HEADER_LEN as u32,
            got: got as u32,
        })?;
        if got < HEADER_LEN {
            return Err(WireError::Truncated {
                what: "STUN header",
                needed: HEADER_LEN as u32,
                got: got as u32,
            });
        }
        if typ & 0xC000 != 0 {
            return Err(WireError::NotStun {
                reason: "the first two bits are not zero",
            });
        }
        let legacy = cookie != MAGIC_COOKIE;
        if legacy && !is_legacy_type(typ) {
            return Err(WireError::NotStun {
                reason: "no magic cookie and not an RFC 3489 message type",
            });
        }
        let total = HEADER_LEN as u32 + u32::from(len);
        if len % 4 != 0 {
            if legacy {
                return Err(WireError::NotStun {
                    reason: "RFC 3489 length not a multiple of 4",
                });
            }
            return Err(WireError::UnalignedLength { length: len });
        }
        let raw = buf.get(..total as usize).ok_or(WireError::Truncated {
            what: "STUN message body",
            needed: total,
            got: got as u32,
        })?;
        let txid = if legacy {
            let mut id = [0u8; 16];
            id.copy_from_slice(raw.get(4..20).unwrap_or(&[0; 16]));
            TransactionId::legacy(id)
        } else {
            let mut id = [0u8; 12];
            id.copy_from_slice(raw.get(8..20).unwrap_or(&[0; 12]));
            TransactionId::new(id)
        };
        let msg = Message {
            raw,
            typ,
            txid,
            legacy,
        };
        // Walk once so that a parsed message is known to be well formed.
        let mut walk = msg.attributes();
        for a in &mut walk {
            if let Err(e) = a {
                if legacy {
                    // Without a cookie, a broken walk means this was never STUN.
                    return Err(WireError::NotStun {
                        reason: "RFC 3489 attribute walk does not fit",
                    });
                }
                return Err(e);
            }
        }
        Ok(msg)
    }

    /// The first `end` bytes as a message of their own, header fields unchanged: the view of
    /// what an integrity attribute ending at `end` protects. `end` must be an attribute
    /// boundary; anything else gives the message back whole.
    pub(super) fn prefix(&self, end: usize) -> Message<'a> {
        match self.raw.get(..end) {
            Some(raw) if end >= HEADER_LEN => Message { raw, ..*self },
            _ => *self,
        }
    }

    /// The whole message as it was on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Header plus attributes, in bytes.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Never true: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The 16-bit message type field.
    pub fn message_type(&self) -> u16 {
        self.typ
    }

    /// The method from the message type.
    pub fn method(&self) -> Method {
        split_type(self.typ).0
    }

    /// The class from the message type.
    pub fn class(&self) -> Class {
        split_type(self.typ).1
    }

    /// The transaction id (without the magic cookie).
    pub fn transaction_id(&self) -> TransactionId {
        self.txid
    }

    /// True for RFC 3489 messages (no magic cookie).
    pub fn is_rfc3489(&self) -> bool {
        self.legacy
    }

    /// The attribute bytes after the header.
    pub fn body(&self) -> &'a [u8] {
        self.raw.get(HEADER_LEN..).unwrap_or(&[])
    }

    /// Walk the attributes in wire order. Unknown attributes are yielded like any other.
    pub fn attributes(&self) -> AttributeIter<'a> {
        AttributeIter {
            msg: self.raw,
            offset: HEADER_LEN,
            done: false,
        }
    }

    /// The first raw attribute of the given type.
    pub fn raw_attribute(&self, typ: u16) -> Option<RawAttribute<'a>> {
        self.attributes()
            .filter_map(Result::ok)
            .find(|a| a.typ == typ)
    }

    /// The first attribute of the given type, decoded. `None` when absent; `Some(Err)` when
    /// present but its value is malformed.
    pub fn attribute(&self, typ: u16) -> Option<Result<Attribute<'a>, WireError>> {
        self.raw_attribute(typ).map(|a| a.decode(&self.txid))
    }

    fn typed<T>(&self, typ: u16, f: impl Fn(Attribute<'a>) -> Option<T>) -> Option<T> {
        self.attribute(typ).and_then(Result::ok).and_then(f)
    }

    /// USERNAME, None when absent or not UTF-8.
    pub fn username(&self) -> Option<&'a str> {
        self.typed(attr::USERNAME, |a| match a {
            Attribute::Username(u) => Some(u),
            _ => None,
        })
    }

    /// REALM, None when absent or not UTF-8.
    pub fn realm(&self) -> Option<&'a str> {
        self.typed(attr::REALM, |a| match a {
            Attribute::Realm(r) => Some(r),
            _ => None,
        })
    }

    /// NONCE value bytes, None when absent.
    pub fn nonce(&self) -> Option<&'a [u8]> {
        self.raw_attribute(attr::NONCE).map(|a| a.value)
    }

    /// SOFTWARE, None when absent or not UTF-8.
    pub fn software(&self) -> Option<&'a str> {
        self.typed(attr::SOFTWARE, |a| match a {
            Attribute::Software(s) => Some(s),
            _ => None,
        })
    }

    /// ERROR-CODE as (code, reason).
    pub fn error_code(&self) -> Option<(u16, &'a str)> {
        self.typed(attr::ERROR_CODE, |a| match a {
            Attribute::ErrorCode { code, reason } => Some((code, reason)),
            _ => None,
        })
    }

    /// LIFETIME in seconds, None when absent or malformed.
    pub fn lifetime(&self) -> Option<u32> {
        self.typed(attr::LIFETIME, |a| match a {
            Attribute::Lifetime(l) => Some(l),
            _ => None,
        })
    }

    /// CHANNEL-NUMBER, None when absent or malformed.
    pub fn channel_number(&self) -> Option<u16> {
        self.typed(attr::CHANNEL_NUMBER, |a| match a {
            Attribute::ChannelNumber(c) => Some(c),
            _ => None,
        })
    }

    /// REQUESTED-TRANSPORT protocol number (17 UDP, 6 TCP), None when absent or malformed.
    pub fn requested_transport(&self) -> Option<u8> {
        self.typed(attr::REQUESTED_TRANSPORT, |a| match a {
            Attribute::RequestedTransport(p) => Some(p),
            _ => None,
        })
    }

    /// XOR-MAPPED-ADDRESS, un-XORed; None when absent or malformed.
    pub fn xor_mapped_address(&self) -> Option<std::net::SocketAddr> {
        self.address(attr::XOR_MAPPED_ADDRESS)
    }

    /// XOR-RELAYED-ADDRESS, un-XORed; None when absent or malformed.
    pub fn xor_relayed_address(&self) -> Option<std::net::SocketAddr> {
        self.address(attr::XOR_RELAYED_ADDRESS)
    }

    /// Every XOR-PEER-ADDRESS (CreatePermission may carry several).
    pub fn xor_peer_addresses(&self) -> impl Iterator<Item = std::net::SocketAddr> + 'a {
        let txid = self.txid;
        self.attributes()
            .filter_map(Result::ok)
            .filter(|a| a.typ == attr::XOR_PEER_ADDRESS)
            .filter_map(move |a| match a.decode(&txid) {
                Ok(Attribute::XorPeerAddress(s)) => Some(s),
                _ => None,
            })
    }

    /// ALTERNATE-SERVER (the 300 Try Alternate target), None when absent or malformed.
    pub fn alternate_server(&self) -> Option<std::net::SocketAddr> {
        self.address(attr::ALTERNATE_SERVER)
    }

    /// Any address-valued attribute (plain or XOR), decoded.
    pub fn address(&self, typ: u16) -> Option<std::net::SocketAddr> {
        self.attribute(typ)
            .and_then(Result::ok)
            .and_then(|a| a.socket_addr())
    }

    /// The DATA attribute (Send/Data indications).
    pub fn data(&self) -> Option<&'a [u8]> {
        self.raw_attribute(attr::DATA).map(|a| a.value)
    }

    /// True if an attribute of this type is present.
    pub fn has(&self, typ: u16) -> bool {
        self.raw_attribute(typ).is_some()
    }
}

/// Iterator over raw attributes. After an error it stops.
#[derive(Clone)]
pub struct AttributeIter<'a> {
    msg: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = Result<RawAttribute<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.offset >= self.msg.len() {
            return None;
        }
        let rest = self.msg.get(self.offset..).unwrap_or(&[]);
        let offset = self.offset as u32;
        let (typ, len) = match (rest.get(0..2), rest.get(2..4)) {
            (Some(t), Some(l)) => (
                u16::from_be_bytes([t[0], t[1]]),
                u16::from_be_bytes([l[0], l[1]]),
            ),
            _ => {
                self.done = true;
                return Some(Err(WireError::Truncated {
                    what: "attribute header",
                    needed: 4,
                    got: rest.len() as u32,
                }));
            }
        };
        let padded = (u32::from(len) + 3) & !3;
        let available = rest.len() as u32 - 4;
        let Some(value) = rest.get(4..4 + usize::from(len)) else {
            self.done = true;
            return Some(Err(WireError::AttributeOverrun {
                typ,
                offset,
                length: len,
                available,
            }));
        };
        // The last attribute's padding may be missing on the wire only if the message length
        // says so; since the message length is a multiple of 4, padding is always inside.
        self.offset = (self.offset + 4 + padded as usize).min(self.msg.len());
        if padded > available {
            self.done = true;
            return Some(Err(WireError::AttributeOverrun {
                typ,
                offset,
                length: len,
                available,
            }));
        }
        Some(Ok(RawAttribute { typ, value, offset }))
    }
}
