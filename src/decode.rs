//! Transport payloads -> message records: the STUN, ChannelData and malformed messages a payload
//! holds, including STUN carried inside TURN (a Send/Data indication's DATA attribute or a
//! ChannelData payload), which follow their carrier with the same frame.
//!
//! Records borrow from the payload; callers keep what they need (the flow layer copies a few
//! fields per message), so memory does not grow with the capture.

use std::net::SocketAddr;

use crate::capture::{DatagramScan, Event, Framing, Payload, Scanned, Timestamp, Transport};
use crate::wire::{self, ChannelData, Decoded, Message, Method, PayloadClass, WireError};

/// What carried a message relayed through TURN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Carrier {
    /// The DATA attribute of a Send indication (client -> server).
    Send,
    /// The DATA attribute of a Data indication (server -> client).
    Data,
    /// A ChannelData message's payload.
    ChannelData,
}

impl Carrier {
    /// `send`, `data` or `channeldata`, as `carried_in` in jsonl.
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
    /// A STUN message (RFC 5389 / 8489, or RFC 3489 without the magic cookie).
    Stun(Message<'a>),
    /// A TURN ChannelData message (RFC 8656 section 12).
    ChannelData(ChannelData<'a>),
    /// STUN-looking bytes that do not parse, with the reason.
    Malformed(Malformed),
}

/// A STUN header whose message does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    /// Why it does not parse.
    pub error: WireError,
    /// The 16-bit type field of the broken header.
    pub message_type: u16,
}

/// One message record, as `decode --format jsonl` prints it.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    /// The frame, 1-based (for a message reassembled from TCP, the frame that completes it).
    pub frame: u32,
    /// Capture time of the frame.
    pub ts: Timestamp,
    /// UDP, TCP or TLS.
    pub transport: Transport,
    /// Source as the capture shows it.
    pub src: SocketAddr,
    /// Destination as the capture shows it.
    pub dst: SocketAddr,
    /// `Some` for messages relayed inside TURN; `None` for messages on the wire itself.
    pub carried_in: Option<Carrier>,
    /// The message.
    pub body: Body<'a>,
}

/// What else a payload was, for counting (RFC 7983 classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtherPayload {
    /// Its RFC 7983 class (DTLS, RTP/RTCP, ZRTP, other).
    pub class: PayloadClass,
    /// Its length in bytes.
    pub len: usize,
}

/// Decode one payload into its records (the wire message first, then anything it carries).
/// Returns the payload's class when it held no message.
pub fn decode_payload<'p>(
    payload: &'p Payload<'_>,
    out: &mut Vec<Record<'p>>,
) -> Option<OtherPayload> {
    decode_payload_each(payload, |r| out.push(r))
}

/// As [`decode_payload`], handing each record to `out` instead of collecting them.
pub fn decode_payload_each<'p>(
    payload: &'p Payload<'_>,
    mut out: impl FnMut(Record<'p>),
) -> Option<OtherPayload> {
    // Unframed stream bytes and DNS messages (TCP port 53) are never STUN.
    if matches!(payload.framing, Framing::Unframed | Framing::Dns) {
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
            out(record(None, Body::Stun(m)));
            if let Some(carrier) = carrier {
                if let Some(inner) = m.data().and_then(wire::decode_carried) {
                    out(record(Some(carrier), Body::Stun(inner)));
                }
            }
            None
        }
        Decoded::ChannelData(c) => {
            out(record(None, Body::ChannelData(c)));
            if let Some(inner) = wire::decode_carried(c.data) {
                out(record(Some(Carrier::ChannelData), Body::Stun(inner)));
            }
            None
        }
        Decoded::Malformed(error) => {
            let message_type = data
                .get(..2)
                .map_or(0, |t| u16::from_be_bytes([t[0], t[1]]));
            out(record(
                None,
                Body::Malformed(Malformed {
                    error,
                    message_type,
                }),
            ));
            None
        }
        Decoded::Other(class) => Some(OtherPayload {
            class,
            len: data.len(),
        }),
    }
}

/// A short human description of a record's message, e.g. `Allocate error 401 Unauthenticated`.
pub fn describe(body: &Body<'_>) -> String {
    match body {
        Body::Stun(m) => {
            let mut s = format!("{} {}", m.method(), m.class().as_str());
            if let Some((code, reason)) = m.error_code() {
                let reason = if reason.is_empty() {
                    wire::attr::error_name(code).unwrap_or("")
                } else {
                    reason
                };
                s.push_str(&format!(" {code} {reason}"));
            }
            if m.is_rfc3489() {
                s.push_str(" (RFC 3489)");
            }
            s
        }
        Body::ChannelData(c) => format!("ChannelData 0x{:04x} {} bytes", c.channel, c.data.len()),
        Body::Malformed(m) => format!("malformed 0x{:04x}: {}", m.message_type, m.error),
    }
}

/// Format a socket address as the contract wants: `IP:PORT`, IPv6 in brackets.
pub fn addr_string(a: &SocketAddr) -> String {
    a.to_string()
}

/// The JSON object of one record, as `decode --format jsonl` prints it.
/// The names (or `0x%04x`) of the attributes a message carries after its integrity attribute,
/// other than FINGERPRINT: not covered by the MAC, so a compliant agent ignores them, and a
/// signed message that has any was extended after it was signed (a middlebox or an attack).
pub fn unprotected_attribute_names(m: &wire::Message<'_>) -> Vec<String> {
    m.unprotected_attributes()
        .map(|a| {
            a.name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("0x{:04x}", a.typ))
        })
        .collect()
}

/// The `decode --format jsonl` object of one record (`docs/cli.md`), `capture` named as given.
pub fn record_json(capture: &str, r: &Record<'_>) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let mut o = Map::new();
    o.insert("capture".into(), json!(capture));
    o.insert("frame".into(), json!(r.frame));
    o.insert("ts".into(), json!(r.ts.as_secs_f64()));
    o.insert("transport".into(), json!(r.transport.as_str()));
    o.insert("src".into(), json!(addr_string(&r.src)));
    o.insert("dst".into(), json!(addr_string(&r.dst)));
    match &r.body {
        Body::Stun(m) => {
            o.insert("kind".into(), json!("stun"));
            o.insert("class".into(), json!(m.class().as_str()));
            o.insert("method".into(), json!(m.method().to_string()));
            o.insert("type".into(), json!(m.message_type()));
            o.insert("txid".into(), json!(m.transaction_id().to_hex()));
            if let Some((code, _)) = m.error_code() {
                o.insert("error_code".into(), json!(code));
            }
            if m.is_rfc3489() {
                o.insert("rfc3489".into(), json!(true));
            }
            let txid = m.transaction_id();
            let attrs: Vec<Value> = m
                .attributes()
                .map_while(Result::ok)
                .map(|a| {
                    let value = match a.decode(&txid) {
                        Ok(t) => t.to_string(),
                        Err(e) => format!("invalid: {e}"),
                    };
                    let name = a
                        .name()
                        .map(str::to_owned)
                        .unwrap_or_else(|| format!("0x{:04x}", a.typ));
                    json!({"type": a.typ, "name": name, "value": value})
                })
                .collect();
            o.insert("attributes".into(), Value::Array(attrs));
            let fp = match m.verify_fingerprint() {
                wire::FingerprintVerdict::Absent => None,
                wire::FingerprintVerdict::Valid => Some("valid"),
                wire::FingerprintVerdict::Invalid { .. } => Some("invalid"),
                wire::FingerprintVerdict::Misplaced => Some("misplaced"),
            };
            if let Some(fp) = fp {
                o.insert("fingerprint".into(), json!(fp));
            }
            let unprotected = unprotected_attribute_names(m);
            if !unprotected.is_empty() {
                o.insert("unprotected_attributes".into(), json!(unprotected));
            }
        }
        Body::ChannelData(c) => {
            o.insert("kind".into(), json!("channeldata"));
            o.insert("channel".into(), json!(c.channel));
            o.insert("length".into(), json!(c.data.len()));
        }
        Body::Malformed(m) => {
            o.insert("kind".into(), json!("malformed"));
            o.insert("type".into(), json!(m.message_type));
            o.insert("reason".into(), json!(m.error.to_string()));
        }
    }
    if let Some(c) = r.carried_in {
        o.insert("carried_in".into(), json!(c.as_str()));
    }
    Value::Object(o)
}

/// Message counts of one capture, as `decode --stats` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Frames read.
    pub frames: u64,
    /// STUN messages on the wire by 16-bit message type (what tshark counts).
    pub stun_by_type: std::collections::BTreeMap<u16, u64>,
    /// STUN messages carried inside Send/Data indications or ChannelData, by type.
    pub carried_by_type: std::collections::BTreeMap<u16, u64>,
    /// Of the messages on the wire, the RFC 3489 ones (no magic cookie), by type.
    pub rfc3489_by_type: std::collections::BTreeMap<u16, u64>,
    /// ChannelData messages.
    pub channeldata: u64,
    /// STUN-looking payloads that do not parse.
    pub malformed: u64,
    /// Malformed messages by the type field of their header.
    pub malformed_by_type: std::collections::BTreeMap<u16, u64>,
    /// Payloads that were not STUN or ChannelData, by RFC 7983 class.
    pub other: std::collections::BTreeMap<&'static str, u64>,
    /// ICMP errors quoting a STUN or ChannelData message (port or host unreachable).
    pub unreachable: u64,
    /// Capture-level problems (cut packets, TCP gaps...).
    pub problems: u64,
}

impl Stats {
    /// STUN messages on the wire.
    pub fn stun_messages(&self) -> u64 {
        self.stun_by_type.values().sum()
    }

    /// RFC 3489 messages on the wire.
    pub fn rfc3489(&self) -> u64 {
        self.rfc3489_by_type.values().sum()
    }

    /// STUN messages carried inside TURN.
    pub fn carried(&self) -> u64 {
        self.carried_by_type.values().sum()
    }

    /// Count what one payload holds.
    pub fn add_payload(&mut self, p: &Payload<'_>) {
        if let Some(o) = decode_payload_each(p, |r| self.add_record(&r)) {
            *self.other.entry(o.class.as_str()).or_default() += 1;
        }
    }

    /// Count an event: its payload's messages, an unreachable, a problem.
    pub fn add_event(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Payload(p) => self.add_payload(p),
            Event::Unreachable { .. } => self.unreachable += 1,
            Event::Problem(_) => self.problems += 1,
            _ => {}
        }
    }

    fn add_record(&mut self, r: &Record<'_>) {
        match &r.body {
            Body::Stun(m) => {
                let by_type = if r.carried_in.is_some() {
                    &mut self.carried_by_type
                } else {
                    &mut self.stun_by_type
                };
                *by_type.entry(m.message_type()).or_default() += 1;
                if m.is_rfc3489() && r.carried_in.is_none() {
                    *self.rfc3489_by_type.entry(m.message_type()).or_default() += 1;
                }
            }
            Body::ChannelData(_) => self.channeldata += 1,
            Body::Malformed(m) => {
                self.malformed += 1;
                *self.malformed_by_type.entry(m.message_type).or_default() += 1;
            }
        }
    }

    fn merge(mut self, other: Stats) -> Stats {
        self.frames += other.frames;
        for (k, v) in other.stun_by_type {
            *self.stun_by_type.entry(k).or_default() += v;
        }
        for (k, v) in other.carried_by_type {
            *self.carried_by_type.entry(k).or_default() += v;
        }
        for (k, v) in other.other {
            *self.other.entry(k).or_default() += v;
        }
        for (k, v) in other.rfc3489_by_type {
            *self.rfc3489_by_type.entry(k).or_default() += v;
        }
        for (k, v) in other.malformed_by_type {
            *self.malformed_by_type.entry(k).or_default() += v;
        }
        self.channeldata += other.channeldata;
        self.malformed += other.malformed;
        self.unreachable += other.unreachable;
        self.problems += other.problems;
        self
    }
}

/// Count the messages of a capture. UDP datagrams are decoded where they are read, on all
/// cores ([`CaptureFile::scan`](crate::capture::CaptureFile::scan)); what TCP reassembly
/// gives is decoded in order on the calling thread.
pub fn stats(file: &crate::capture::CaptureFile) -> Stats {
    struct Count;
    impl DatagramScan for Count {
        type Part = Stats;
        fn part(&self) -> Stats {
            Stats::default()
        }
        fn datagram(&self, part: &mut Stats, p: &Payload<'_>) -> bool {
            part.add_payload(p);
            true
        }
    }
    let mut total = Stats::default();
    let counts = file.scan(&Count, |s| match s {
        Scanned::Stretch { part, events, .. } => {
            total = std::mem::take(&mut total).merge(part);
            events.iter().for_each(|ev| total.add_event(ev));
        }
        Scanned::Events(batch) => batch.iter().for_each(|ev| total.add_event(ev)),
    });
    total.frames = counts.frames;
    total
}

/// Call `f` with every record of a capture, in capture order, batch by batch; `on_event` sees the
/// other events (unreachables, TCP control, TLS, problems).
pub fn for_each_record(
    file: &crate::capture::CaptureFile,
    mut f: impl FnMut(&Record<'_>),
    mut on_event: impl FnMut(&Event<'_>),
) {
    for batch in file.events() {
        let mut recs = Vec::new();
        for ev in &batch {
            match ev {
                Event::Payload(p) => {
                    recs.clear();
                    decode_payload(p, &mut recs);
                    recs.iter().for_each(&mut f);
                }
                other => on_event(other),
            }
        }
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
            Body::Malformed(Malformed {
                error: WireError::Truncated { .. },
                ..
            })
        ));
    }
}
