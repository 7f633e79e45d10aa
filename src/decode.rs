//! Transport payloads -> message records: the STUN, ChannelData and malformed messages a payload
//! holds, including STUN carried inside TURN (a Send/Data indication's DATA attribute or a
//! ChannelData payload), which follow their carrier with the same frame.
//!
//! Records borrow from the payload; callers keep what they need (the flow layer copies a few
//! fields per message), so memory does not grow with the capture.

use std::net::SocketAddr;

use crate::capture::{Framing, Payload, Timestamp, Transport};
use crate::wire::{self, ChannelData, Decoded, Message, Method, PayloadClass, WireError};

/// What carried a message relayed through TURN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    /// The DATA attribute of a Send indication (client -> server).
    Send,
    /// The DATA attribute of a Data indication (server -> client).
    Data,
    ChannelData,
}

impl Carrier {
    pub fn as_str(self) -> &'static str {
        match self {
            Carrier::Send => "send",
            Carrier::Data => "data",
            Carrier::ChannelData => "channeldata",
        }
    }
}

/// A message found in a payload.
#[derive(Debug, Clone)]
pub enum Body<'a> {
    Stun(Message<'a>),
    ChannelData(ChannelData<'a>),
    /// STUN-looking bytes that do not parse, with the reason.
    Malformed(WireError),
}

/// One message record, as `decode --format jsonl` prints it.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    pub frame: u32,
    pub ts: Timestamp,
    pub transport: Transport,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// `Some` for messages relayed inside TURN; `None` for messages on the wire itself.
    pub carried_in: Option<Carrier>,
    pub body: Body<'a>,
}

/// What else a payload was, for counting (RFC 7983 classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherPayload {
    pub class: PayloadClass,
    pub len: usize,
}

/// Decode one payload into its records (the wire message first, then anything it carries).
/// Returns the payload's class when it held no message.
pub fn decode_payload<'p>(
    payload: &'p Payload<'_>,
    out: &mut Vec<Record<'p>>,
) -> Option<OtherPayload> {
    if payload.framing == Framing::Unframed {
        return Some(OtherPayload {
            class: PayloadClass::Other,
            len: payload.data.len(),
        });
    }
    let data: &'p [u8] = &payload.data;
    let stream = payload.framing == Framing::Stream;
    let record = |carried_in, body| Record {
        frame: payload.frame,
        ts: payload.ts,
        transport: payload.transport,
        src: payload.src,
        dst: payload.dst,
        carried_in,
        body,
    };
    match wire::decode_payload(data, stream) {
        Decoded::Stun(m) => {
            let carrier = match m.method() {
                Method::SEND if m.class() == wire::Class::Indication => Some(Carrier::Send),
                Method::DATA if m.class() == wire::Class::Indication => Some(Carrier::Data),
                _ => None,
            };
            out.push(record(None, Body::Stun(m)));
            if let Some(carrier) = carrier {
                if let Some(inner) = m.data().and_then(wire::decode_carried) {
                    out.push(record(Some(carrier), Body::Stun(inner)));
                }
            }
            None
        }
        Decoded::ChannelData(c) => {
            out.push(record(None, Body::ChannelData(c)));
            if let Some(inner) = wire::decode_carried(c.data) {
                out.push(record(Some(Carrier::ChannelData), Body::Stun(inner)));
            }
            None
        }
        Decoded::Malformed(e) => {
            out.push(record(None, Body::Malformed(e)));
            None
        }
        Decoded::Other(class) => Some(OtherPayload {
            class,
            len: data.len(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode::channel_data;
    use crate::wire::{attr, Class, MessageBuilder, TransactionId};
    use std::borrow::Cow;

    fn payload(data: Vec<u8>, framing: Framing) -> Payload<'static> {
        Payload {
            frame: 7,
            ts: Timestamp(1_000_000_000),
            transport: Transport::Udp,
            framing,
            src: "192.0.2.10:5000".parse().unwrap(),
            dst: "198.51.100.10:3478".parse().unwrap(),
            data: Cow::Owned(data),
        }
    }

    fn ice_check() -> Vec<u8> {
        MessageBuilder::new(Method::BINDING, Class::Request, TransactionId::new([9; 12]))
            .username("a:b")
            .u32_attr(attr::PRIORITY, 100)
            .fingerprint()
    }

    #[test]
    fn send_indication_yields_carrier_then_carried_check() {
        let send =
            MessageBuilder::new(Method::SEND, Class::Indication, TransactionId::new([1; 12]))
                .xor_address(attr::XOR_PEER_ADDRESS, "203.0.113.5:3480".parse().unwrap())
                .data(&ice_check())
                .fingerprint();
        let p = payload(send, Framing::Datagram);
        let mut out = Vec::new();
        assert!(decode_payload(&p, &mut out).is_none());
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].carried_in, None);
        assert_eq!(out[1].carried_in, Some(Carrier::Send));
        assert_eq!(out[1].frame, 7);
        match &out[1].body {
            Body::Stun(m) => assert_eq!(m.method(), Method::BINDING),
            other => panic!("expected STUN, got {other:?}"),
        }
    }

    #[test]
    fn channeldata_with_stun_inside() {
        let p = payload(channel_data(0x4001, &ice_check(), true), Framing::Stream);
        let mut out = Vec::new();
        decode_payload(&p, &mut out);
        assert_eq!(out.len(), 2);
        assert!(matches!(out[0].body, Body::ChannelData(c) if c.channel == 0x4001));
        assert_eq!(out[1].carried_in, Some(Carrier::ChannelData));
    }

    #[test]
    fn media_is_counted_not_decoded() {
        let p = payload(
            vec![0x80, 0x6f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            Framing::Datagram,
        );
        let mut out = Vec::new();
        let other = decode_payload(&p, &mut out);
        assert!(out.is_empty());
        assert_eq!(
            other,
            Some(OtherPayload {
                class: PayloadClass::RtpRtcp,
                len: 12
            })
        );
    }

    #[test]
    fn broken_stun_is_malformed() {
        let mut bytes = ice_check();
        bytes[3] = bytes[3].wrapping_add(8); // the length now overruns the datagram
        let p = payload(bytes, Framing::Datagram);
        let mut out = Vec::new();
        decode_payload(&p, &mut out);
        assert!(matches!(
            out[0].body,
            Body::Malformed(WireError::Truncated { .. })
        ));
    }
}
