//! Bytes -> STUN/TURN messages. No I/O; messages borrow from the bytes they were parsed from.

pub mod attr;
pub mod channel;
pub mod demux;
pub mod encode;
#[doc(hidden)]
#[cfg(feature = "testsupport")]
pub mod fuzzing;
pub mod integrity;
pub mod message;

pub use attr::{Attribute, Family, RawAttribute};
pub use channel::ChannelData;
pub use demux::{classify, decode_carried, decode_payload, Decoded, PayloadClass};
pub use encode::MessageBuilder;
pub use integrity::{Credential, FingerprintVerdict, IntegrityKind, IntegrityVerdict, Key};
pub use message::{AttributeIter, Class, Message, Method, TransactionId, HEADER_LEN, MAGIC_COOKIE};

/// Why bytes could not be decoded as a STUN message, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than a header or attribute needs.
    #[error("truncated {what}: needed {needed} bytes, got {got}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes it needs.
        needed: u32,
        /// Bytes there were.
        got: u32,
    },
    /// Not a STUN message at all (top bits, cookie or length).
    #[error("not STUN: {reason}")]
    NotStun {
        /// Which check failed.
        reason: &'static str,
    },
    /// The header's message length is not a multiple of 4 (RFC 8489 section 5).
    #[error("message length {length} is not a multiple of 4")]
    UnalignedLength {
        /// The header's length field.
        length: u16,
    },
    /// An attribute's length runs past the end of the message.
    #[error(
        "attribute 0x{typ:04x} at offset {offset} claims {length} bytes but {available} remain"
    )]
    AttributeOverrun {
        /// Attribute type number.
        typ: u16,
        /// Offset of the attribute header from the start of the message.
        offset: u32,
        /// The attribute's length field.
        length: u16,
        /// Bytes left in the message after this attribute's header.
        available: u32,
    },
    /// An attribute whose value does not have the shape its type requires.
    #[error("bad {name} (0x{typ:04x}): {detail}")]
    BadAttribute {
        /// Attribute type number.
        typ: u16,
        /// Attribute name, or "attribute" for an unknown type.
        name: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}
