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
    #[error("truncated {what}: needed {needed} bytes, got {got}")]
    Truncated {
        what: &'static str,
        needed: u32,
        got: u32,
    },
    #[error("not STUN: {reason}")]
    NotStun { reason: &'static str },
    #[error("message length {length} is not a multiple of 4")]
    UnalignedLength { length: u16 },
    #[error(
        "attribute 0x{typ:04x} at offset {offset} claims {length} bytes but {available} remain"
    )]
    AttributeOverrun {
        typ: u16,
        offset: u32,
        length: u16,
        available: u32,
    },
    #[error("bad {name} (0x{typ:04x}): {detail}")]
    BadAttribute {
        typ: u16,
        name: &'static str,
        detail: String,
    },
}
