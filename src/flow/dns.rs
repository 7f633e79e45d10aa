//! DNS lookups of one capture: queries matched with their answers by id and 5-tuple, over UDP
//! and TCP (port 53), parsed with `simple-dns`. Kept per lookup: the question (name, type),
//! the answer's rcode and its A / AAAA / CNAME / SRV records; nothing else of the messages.
//! The findings (`diagnose/dns.rs`) need which names did not resolve, or resolved to what.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;
use simple_dns::rdata::RData;
use simple_dns::{Packet, PacketFlag, OPCODE};

use crate::capture::{Framing, Payload, Timestamp, Transport};

use super::HashMap;

/// Lookups kept per capture; later queries are counted in [`DnsLog::dropped`].
pub const MAX_LOOKUPS: usize = 50_000;
/// Answer records kept per answer.
const MAX_RECORDS: usize = 16;
const DNS_PORT: u16 = 53;
const HEADER_LEN: usize = 12;

/// Record types, by number.
pub const TYPE_A: u16 = 1;
/// CNAME record type.
pub const TYPE_CNAME: u16 = 5;
/// AAAA record type.
pub const TYPE_AAAA: u16 = 28;
/// SRV record type.
pub const TYPE_SRV: u16 = 33;

/// DNS response codes the findings name.
pub const RCODE_NOERROR: u8 = 0;
/// SERVFAIL: the resolver failed.
pub const RCODE_SERVFAIL: u8 = 2;
/// NXDOMAIN: the name does not exist.
pub const RCODE_NXDOMAIN: u8 = 3;

/// What an answer record says (the types the findings use; others by number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsData {
    /// An A or AAAA record's address.
    Address(IpAddr),
    /// A CNAME record's target name.
    Cname(String),
    /// A SRV record (RFC 2782).
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Share among records of the same priority.
        weight: u16,
        /// Port of the service.
        port: u16,
        /// Host name of the service.
        target: String,
    },
    /// A record of another type, by number.
    Other(u16),
}

/// One answer record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    /// The owner name of the record.
    pub name: String,
    /// What the record says.
    pub data: DnsData,
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsAnswer {
    /// Frame number of the answer.
    pub frame: u32,
    /// Capture time of the answer.
    #[serde(skip)]
    pub ts: Timestamp,
    /// Response code (see the `RCODE_*` constants; 5 is REFUSED).
    pub rcode: u8,
    /// The TC bit: the answer did not fit (a resolver retries over TCP).
    pub truncated: bool,
    /// Answer records, the first 16.
    pub records: Vec<DnsRecord>,
    /// Answer records beyond the ones kept.
    pub records_dropped: usize,
}

impl DnsAnswer {
    /// The addresses the answer gives (A and AAAA records, through any CNAME).
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.records.iter().filter_map(|r| match r.data {
            DnsData::Address(ip) => Some(ip),
            _ => None,
        })
    }

    /// True when the answer holds a record of type `qtype` (or an address for A / AAAA).
    pub fn has_type(&self, qtype: u16) -> bool {
        self.records.iter().any(|r| match (&r.data, qtype) {
            (DnsData::Address(IpAddr::V4(_)), TYPE_A) => true,
            (DnsData::Address(IpAddr::V6(_)), TYPE_AAAA) => true,
            (DnsData::Srv { .. }, TYPE_SRV) => true,
            (DnsData::Cname(_), TYPE_CNAME) => true,
            (DnsData::Other(t), q) => *t == q,
            _ => false,
        })
    }
}

/// One question and its answer, if any came.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsLookup {
    /// The host that asked.
    pub client: SocketAddr,
    /// The DNS server asked.
    pub server: SocketAddr,
    /// "udp" or "tcp".
    pub transport: &'static str,
    /// DNS message id.
    pub id: u16,
    /// Lower case, without the final dot.
    pub name: String,
    /// Query type (see the `TYPE_*` constants).
    pub qtype: u16,
    /// The query's frame (`None` when only the answer was captured).
    pub query_frame: Option<u32>,
    /// When the query was sent, else when the answer came.
    #[serde(skip)]
    pub ts: Timestamp,
    /// The same query sent again (same id and 5-tuple) before an answer.
    pub retries: u32,
    /// The answer, None when none was captured.
    pub answer: Option<DnsAnswer>,
}

impl DnsLookup {
    /// A name lookup (A / AAAA) or a SRV lookup that got no usable answer: the rcode says
    /// so, no record of the asked type came, or nothing came at all.
    pub fn failed(&self) -> bool {
        match &self.answer {
            None => true,
            Some(a) => a.rcode != RCODE_NOERROR || !a.has_type(self.qtype),
        }
    }

    /// What went wrong, in words ("NXDOMAIN", "SERVFAIL", "no answer", ...).
    pub fn outcome(&self) -> String {
        match &self.answer {
            None => "no answer".into(),
            Some(a) => match a.rcode {
                RCODE_NOERROR if a.has_type(self.qtype) => "answered".into(),
                RCODE_NOERROR => format!("no {} record (NOERROR, empty)", type_name(self.qtype)),
                RCODE_SERVFAIL => "SERVFAIL".into(),
                RCODE_NXDOMAIN => "NXDOMAIN".into(),
                5 => "REFUSED".into(),
                other => format!("rcode {other}"),
            },
        }
    }

    /// The frame to show first: the query's, else the answer's.
    pub fn frame(&self) -> u32 {
        self.query_frame
            .or(self.answer.as_ref().map(|a| a.frame))
            .unwrap_or(0)
    }
}

/// Name of a record type: "A", "CNAME", "AAAA", "SRV" or "type N".
pub fn type_name(t: u16) -> String {
    match t {
        TYPE_A => "A".into(),
        TYPE_CNAME => "CNAME".into(),
        TYPE_AAAA => "AAAA".into(),
        TYPE_SRV => "SRV".into(),
        other => format!("type {other}"),
    }
}

/// Where a query is waiting for its answer.
type PendingKey = (SocketAddr, SocketAddr, Transport, u16);

/// Every DNS lookup of one capture, in query order.
#[derive(Debug, Clone, Default)]
pub struct DnsLog {
    /// Lookups in query order, the first [`MAX_LOOKUPS`].
    pub lookups: Vec<DnsLookup>,
    pending: HashMap<PendingKey, usize>,
    /// Lookups beyond [`MAX_LOOKUPS`], not kept.
    pub dropped: u64,
    /// Payloads on port 53 that are not DNS messages.
    pub malformed: u64,
}

/// True for a payload that is DNS by where it goes (port 53) and how it was framed.
pub fn is_dns(p: &Payload<'_>) -> bool {
    let port = p.src.port() == DNS_PORT || p.dst.port() == DNS_PORT;
    match p.framing {
        Framing::Dns => true,
        Framing::Datagram => port,
        _ => false,
    }
}

/// The section counts must fit the message (a question takes at least 5 bytes, a record 11):
/// checked before parsing so that a forged header cannot make the parser reserve room for
/// 65535 records.
fn plausible(data: &[u8]) -> bool {
    let count = |at: usize| {
        data.get(at..at + 2)
            .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let need = count(4) * 5 + (count(6) + count(8) + count(10)) * 11;
    data.len() >= HEADER_LEN && need <= data.len() - HEADER_LEN
}

fn lower(name: &impl std::fmt::Display) -> String {
    let mut s = name.to_string().to_ascii_lowercase();
    while s.ends_with('.') {
        s.pop();
    }
    s
}

fn record(rr: &simple_dns::ResourceRecord<'_>) -> DnsRecord {
    let data = match &rr.rdata {
        RData::A(a) => DnsData::Address(IpAddr::V4(Ipv4Addr::from(a.address))),
        RData::AAAA(a) => DnsData::Address(IpAddr::V6(Ipv6Addr::from(a.address))),
        RData::CNAME(c) => DnsData::Cname(lower(&c.0)),
        RData::SRV(s) => DnsData::Srv {
            priority: s.priority,
            weight: s.weight,
            port: s.port,
            target: lower(&s.target),
        },
        other => DnsData::Other(u16::from(other.type_code())),
    };
    DnsRecord {
        name: lower(&rr.name),
        data,
    }
}

impl DnsLog {
    /// Add the lookups of a later run of the same capture (rotated pieces read out of order),
    /// frames moved past this run's by `base`. A query in one run answered in the other stays
    /// two half lookups.
    pub fn append(&mut self, later: DnsLog, base: u32) {
        let room = MAX_LOOKUPS.saturating_sub(self.lookups.len());
        let kept = later.lookups.len().min(room);
        self.dropped += later.dropped + (later.lookups.len() - kept) as u64;
        self.malformed += later.malformed;
        self.lookups
            .extend(later.lookups.into_iter().take(kept).map(|mut l| {
                l.query_frame = l.query_frame.map(|f| f.saturating_add(base));
                if let Some(a) = &mut l.answer {
                    a.frame = a.frame.saturating_add(base);
                }
                l
            }));
    }

    /// One DNS payload (see [`is_dns`]).
    pub fn payload(&mut self, p: &Payload<'_>) {
        let data: &[u8] = &p.data;
        let packet = if plausible(data) {
            Packet::parse(data).ok()
        } else {
            None
        };
        let Some(packet) = packet.filter(|m| m.opcode() == OPCODE::StandardQuery) else {
            self.malformed += 1;
            return;
        };
        let Some(q) = packet.questions.first() else {
            return;
        };
        let (name, qtype) = (lower(&q.qname), u16::from(q.qtype));
        if packet.has_flags(PacketFlag::RESPONSE) {
            self.answer(p, &packet, name, qtype);
        } else {
            self.query(p, packet.id(), name, qtype);
        }
    }

    fn query(&mut self, p: &Payload<'_>, id: u16, name: String, qtype: u16) {
        let key = (p.src, p.dst, p.transport, id);
        if let Some(l) = self
            .pending
            .get(&key)
            .and_then(|&i| self.lookups.get_mut(i))
        {
            if l.name == name {
                l.retries += 1;
                return;
            }
        }
        if self.lookups.len() >= MAX_LOOKUPS {
            self.dropped += 1;
            return;
        }
        self.pending.insert(key, self.lookups.len());
        self.lookups.push(DnsLookup {
            client: p.src,
            server: p.dst,
            transport: p.transport.as_str(),
            id,
            name,
            qtype,
            query_frame: Some(p.frame),
            ts: p.ts,
            retries: 0,
            answer: None,
        });
    }

    fn answer(&mut self, p: &Payload<'_>, m: &Packet<'_>, name: String, qtype: u16) {
        let records: Vec<DnsRecord> = m.answers.iter().take(MAX_RECORDS).map(record).collect();
        let answer = DnsAnswer {
            frame: p.frame,
            ts: p.ts,
            rcode: rcode(m),
            truncated: m.has_flags(PacketFlag::TRUNCATION),
            records_dropped: m.answers.len().saturating_sub(records.len()),
            records,
        };
        let key = (p.dst, p.src, p.transport, m.id());
        let open = self.pending.get(&key).copied();
        if let Some(l) = open.and_then(|i| self.lookups.get_mut(i)) {
            if l.name == name && l.qtype == qtype {
                l.answer = Some(answer);
                self.pending.remove(&key);
                return;
            }
        }
        // An answer whose query the capture does not hold: kept, it still says what the
        // resolver answered.
        if self.lookups.len() >= MAX_LOOKUPS {
            self.dropped += 1;
            return;
        }
        self.lookups.push(DnsLookup {
            client: p.dst,
            server: p.src,
            transport: p.transport.as_str(),
            id: m.id(),
            name,
            qtype,
            query_frame: None,
            ts: p.ts,
            retries: 0,
            answer: Some(answer),
        });
    }
}

fn rcode(m: &Packet<'_>) -> u8 {
    // The extended rcode (EDNS) shifts the header's 4 bits; every code the findings name fits in
    // them.
    (m.rcode() as u16 & 0xff) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn payload(src: &str, dst: &str, frame: u32, data: &[u8]) -> Payload<'static> {
        Payload {
            frame,
            ts: Timestamp(i64::from(frame)),
            transport: Transport::Udp,
            framing: Framing::Datagram,
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            data: Cow::Owned(data.to_vec()),
        }
    }

    fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        for l in name.split('.') {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    }

    fn answer(id: u16, name: &str, rcode: u8, a: Option<[u8; 4]>) -> Vec<u8> {
        let mut m = query(id, name, TYPE_A);
        m[2] = 0x81;
        m[3] = 0x80 | rcode;
        if let Some(ip) = a {
            m[7] = 1;
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
            m.extend_from_slice(&ip);
        }
        m
    }

    #[test]
    fn matched_retried_unanswered_and_orphan() {
        let (c, s) = ("10.0.0.5:40000", "10.0.0.53:53");
        let mut log = DnsLog::default();
        log.payload(&payload(c, s, 1, &query(7, "Join.Example.com", TYPE_A)));
        log.payload(&payload(c, s, 2, &query(7, "join.example.com", TYPE_A)));
        log.payload(&payload(
            s,
            c,
            3,
            &answer(7, "join.example.com", 0, Some([198, 51, 100, 10])),
        ));
        log.payload(&payload(c, s, 4, &query(8, "gone.example.com", TYPE_A)));
        log.payload(&payload(
            s,
            c,
            5,
            &answer(9, "other.example.com", RCODE_NXDOMAIN, None),
        ));
        log.payload(&payload(c, s, 6, b"not dns at all"));
        assert_eq!(log.lookups.len(), 3);
        let l = &log.lookups[0];
        assert_eq!(
            (l.name.as_str(), l.retries, l.failed()),
            ("join.example.com", 1, false)
        );
        let a = l.answer.as_ref().unwrap();
        assert_eq!(a.frame, 3);
        assert_eq!(
            a.addresses().collect::<Vec<_>>(),
            vec!["198.51.100.10".parse::<IpAddr>().unwrap()]
        );
        assert!(log.lookups[1].failed());
        assert_eq!(log.lookups[1].outcome(), "no answer");
        assert_eq!(log.lookups[2].query_frame, None);
        assert_eq!(log.lookups[2].outcome(), "NXDOMAIN");
        assert_eq!(log.malformed, 1);
    }

    #[test]
    fn forged_counts_are_rejected_before_parsing() {
        let mut m = query(1, "a.example", TYPE_A);
        m[6] = 0xff;
        m[7] = 0xff;
        assert!(!plausible(&m));
        let mut log = DnsLog::default();
        log.payload(&payload("10.0.0.5:1", "10.0.0.53:53", 1, &m));
        assert_eq!((log.lookups.len(), log.malformed), (0, 1));
        for n in 0..m.len() {
            log.payload(&payload("10.0.0.5:1", "10.0.0.53:53", 2, &m[..n]));
        }
    }
}
