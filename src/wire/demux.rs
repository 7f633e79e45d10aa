//! RFC 7983 first-byte demultiplexing of what shares a STUN/TURN port, and payload decoding.

use super::channel::ChannelData;
use super::message::{Message, MAGIC_COOKIE};
use super::WireError;

/// What the first byte of a datagram says it is (RFC 7983). TURN channels are 64-79 there
/// (RFC 8656's 0x4000-0x4FFF), but RFC 5766 allowed channels up to 0x7FFF and servers such as
/// coturn still hand them out, so 64-127 is taken as ChannelData, confirmed by its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PayloadClass {
    /// STUN (first byte 0-3).
    Stun,
    /// ZRTP (first byte 16-19).
    Zrtp,
    /// DTLS (first byte 20-63, unless it is [`PayloadClass::Tls`]).
    Dtls,
    /// TURN ChannelData (first byte 64-127).
    ChannelData,
    /// RTP or RTCP (first byte 128-191).
    RtpRtcp,
    /// A TLS record on a stream (content type 20-23 followed by major version 3).
    Tls,
    /// Anything else (first byte 4-15 or 192-255, or an empty payload).
    Other,
}

impl PayloadClass {
    /// Lower-case label used in reports: "stun", "dtls", "channeldata", "rtp", ...
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadClass::Stun => "stun",
            PayloadClass::Zrtp => "zrtp",
            PayloadClass::Dtls => "dtls",
            PayloadClass::ChannelData => "channeldata",
            PayloadClass::RtpRtcp => "rtp",
            PayloadClass::Tls => "tls",
            PayloadClass::Other => "other",
        }
    }
}

/// Classify by the first byte (and, for TLS vs DTLS, the second).
pub fn classify(payload: &[u8]) -> PayloadClass {
    match payload.first() {
        Some(0..=3) => PayloadClass::Stun,
        Some(16..=19) => PayloadClass::Zrtp,
        Some(20..=23) if payload.get(1) == Some(&3) => PayloadClass::Tls,
        Some(20..=63) => PayloadClass::Dtls,
        Some(64..=127) => PayloadClass::ChannelData,
        Some(128..=191) => PayloadClass::RtpRtcp,
        _ => PayloadClass::Other,
    }
}

/// True when the payload carries the magic cookie where a STUN header has it.
pub fn has_magic_cookie(payload: &[u8]) -> bool {
    payload.get(4..8) == Some(&MAGIC_COOKIE.to_be_bytes()[..])
}

/// What a transport payload decodes to.
#[derive(Debug, Clone)]
pub enum Decoded<'a> {
    /// A STUN message that parsed.
    Stun(Message<'a>),
    /// A ChannelData message that parsed.
    ChannelData(ChannelData<'a>),
    /// Looks like STUN (top bits zero and the magic cookie) but does not parse.
    Malformed(WireError),
    /// Not STUN or ChannelData: counted by class.
    Other(PayloadClass),
}

/// Decode one transport payload. `stream` is true for payloads framed from TCP, where ChannelData
/// is padded. Decoding never fails: what is not a message is classified.
pub fn decode_payload(payload: &[u8], stream: bool) -> Decoded<'_> {
    match classify(payload) {
        PayloadClass::Stun => match Message::parse(payload) {
            Ok(m) => Decoded::Stun(m),
            Err(WireError::NotStun { .. }) => Decoded::Other(PayloadClass::Stun),
            Err(e) if has_magic_cookie(payload) => Decoded::Malformed(e),
            Err(_) => Decoded::Other(PayloadClass::Other),
        },
        PayloadClass::ChannelData => match ChannelData::parse(payload, stream) {
            // On UDP the datagram may carry padding but nothing else after the data.
            Ok(c) if stream || payload.len() - (4 + c.data.len()) < 4 => Decoded::ChannelData(c),
            _ => Decoded::Other(PayloadClass::ChannelData),
        },
        class => Decoded::Other(class),
    }
}

/// Decode a message relayed inside TURN (a DATA attribute or a ChannelData payload). Only
/// cookie-bearing STUN counts here: legacy heuristics on arbitrary media would misfire.
pub fn decode_carried(data: &[u8]) -> Option<Message<'_>> {
    if data.first().is_some_and(|b| *b <= 3) && has_magic_cookie(data) {
        Message::parse(data).ok()
    } else {
        None
    }
}
