//! Message records and capture events -> transactions, allocations, ICE checks; vantage points
//! and cross-capture correlation.
//!
//! Everything here is owned and compact: one [`Msg`] per STUN message (a few small fields, never
//! the payload), counters for relayed data and other traffic. Memory grows with the number of
//! transactions and flows, not with the size of the capture.

pub mod allocation;
pub mod budget;
pub mod case;
pub mod correlate;
mod credcheck;
pub mod hops;
pub mod ingest;
pub mod msg;
pub mod pieces;
pub mod servers;
pub mod vantage;

// What the web findings read: DNS lookups, TLS connections, plain HTTP answers.
pub mod dns;
pub mod http;
pub mod tls;

use std::collections::HashMap as StdHashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::capture::{TcpControl, Timestamp, Transport, UnreachableKind};
use crate::decode::Carrier;
use crate::wire::{Class, Method, TransactionId};

pub use allocation::{AllocOutcome, Allocation, ReleaseRefused};
pub use budget::{Alike, Seen, Summarised};
pub use case::{Case, CaseTx, Sighting};
pub use correlate::{ClockOffset, NatMapping, TxPath};
pub use hops::{CheckPath, CheckVerdict, Hop, Leg};
pub use ingest::{Ingest, OrderFree, OrderFreePart};
pub use msg::{CredCheck, IceAttrs, Msg};
pub use pieces::{FrameRef, Piece};
pub use vantage::Role;

/// A small multiplicative hasher (FxHash) for the per-packet counters: keys are addresses,
/// not attacker-chosen strings, and SipHash showed in profiles.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(FX_SEED);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash map with [`FxHasher`].
pub type HashMap<K, V> = StdHashMap<K, V, BuildHasherDefault<FxHasher>>;

/// A `--credential USER:PASSWORD` (one type for `analyze`, `replay` and `serve`).
pub use crate::wire::Credential;

/// What the flow layer needs to know beyond the packets.
#[derive(Debug, Clone, Default)]
pub struct FlowOptions {
    /// `--credential`s: tried on every request carrying USERNAME and MESSAGE-INTEGRITY.
    pub credentials: Vec<Credential>,
    /// `--realm`: an extra realm to try in integrity checks.
    pub realm: Option<String>,
}

/// Packets and bytes in one direction, with where they start and end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counter {
    /// Packets counted.
    pub packets: u64,
    /// Bytes counted (the payload, or the relayed data where a field says so).
    pub bytes: u64,
    /// Frame number of the earliest packet (1-based, as Wireshark numbers them).
    #[serde(skip)]
    pub first_frame: u32,
    /// Frame number of the latest packet.
    #[serde(skip)]
    pub last_frame: u32,
    /// Time of the earliest packet.
    #[serde(skip)]
    pub first_ts: Timestamp,
    /// Time of the latest packet.
    #[serde(skip)]
    pub last_ts: Timestamp,
}

impl Counter {
    /// Add another counter's packets and bytes, keeping the earliest first and latest last.
    pub fn merge(&mut self, o: &Counter) {
        if o.packets == 0 {
            return;
        }
        if self.packets == 0 || o.first_ts < self.first_ts {
            self.first_frame = o.first_frame;
            self.first_ts = o.first_ts;
        }
        if self.packets == 0 || o.last_ts > self.last_ts {
            self.last_frame = o.last_frame;
            self.last_ts = o.last_ts;
        }
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// A directed transport 5-tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TupleKey {
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// UDP, TCP or TLS.
    pub transport: Transport,
}

/// A directed 5-tuple and a TURN channel number: one ChannelData direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChannelKey {
    /// Source address (client or server, as on the wire).
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// UDP, TCP or TLS.
    pub transport: Transport,
    /// Channel number, 0x4000-0x7FFF.
    pub channel: u16,
}

/// A request and its responses in one capture, by transaction id.
#[derive(Debug, Clone)]
pub struct Transaction {
    /// Transaction id shared by the request and its responses.
    pub txid: TransactionId,
    /// Method of the request.
    pub method: Method,
    /// Indices into [`CaptureFlows::msgs`]: every sighting of the request (retransmissions,
    /// and the same request on another leg, e.g. raw and inside a Data indication), the first
    /// [`budget::SIGHTINGS_KEPT`].
    pub requests: Vec<u32>,
    /// Indices of the responses, in capture order (the first [`budget::RESPONSES_KEPT`]).
    pub responses: Vec<u32>,
    /// Request sightings beyond those kept (counted as retransmissions), and how many of
    /// them came after the first response.
    pub more_requests: u32,
    /// Of `more_requests`, those after the first response.
    pub more_after_response: u32,
    /// Transactions beyond the budget counted into this one (see [`budget`]).
    pub alike: Option<Box<Alike>>,
}

impl Transaction {
    /// An empty transaction: no sightings yet.
    pub fn new(txid: TransactionId, method: Method) -> Transaction {
        Transaction {
            txid,
            method,
            requests: Vec::new(),
            responses: Vec::new(),
            more_requests: 0,
            more_after_response: 0,
            alike: None,
        }
    }

    /// How many transactions this one stands for: itself and those counted into it.
    pub fn weight(&self) -> u64 {
        1 + self.alike.as_ref().map_or(0, |a| a.transactions)
    }

    /// Transactions counted into this one (0 for most).
    pub fn alike_count(&self) -> u64 {
        self.alike.as_ref().map_or(0, |a| a.transactions)
    }
}

/// Bytes that look like STUN (magic cookie) but do not parse.
#[derive(Debug, Clone)]
pub struct MalformedSeen {
    /// Frame number in the capture.
    pub frame: u32,
    /// Capture time of the frame.
    pub ts: Timestamp,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// UDP, TCP or TLS.
    pub transport: Transport,
    /// The decode error, in words.
    pub reason: String,
}

/// An ICMP/ICMPv6 destination-unreachable error, with the datagram it quotes.
#[derive(Debug, Clone)]
pub struct UnreachableSeen {
    /// Frame number of the ICMP packet.
    pub frame: u32,
    /// Capture time of the ICMP packet.
    pub ts: Timestamp,
    /// The host or router that sent the ICMP error.
    pub reporter: IpAddr,
    /// Port, host, network, protocol or administratively prohibited.
    pub kind: UnreachableKind,
    /// Transport of the quoted datagram.
    pub transport: Transport,
    /// Source of the quoted datagram (the sender that was refused).
    pub src: SocketAddr,
    /// Destination of the quoted datagram (what could not be reached).
    pub dst: SocketAddr,
    /// The quoted STUN message, when the ICMP error quotes enough of it.
    pub stun: Option<(TransactionId, Method, Class)>,
}

/// A TCP SYN, SYN-ACK, RST or FIN.
#[derive(Debug, Clone)]
pub struct TcpSeen {
    /// Frame number.
    pub frame: u32,
    /// Capture time.
    pub ts: Timestamp,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// Which control segment.
    pub control: TcpControl,
}

/// A TLS ClientHello, ServerHello or alert, as the handshake findings need it.
#[derive(Debug, Clone)]
pub struct TlsSeen {
    /// Frame number.
    pub frame: u32,
    /// Capture time.
    pub ts: Timestamp,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// ClientHello (true) or a server answer (ServerHello / alert).
    pub hello: bool,
    /// Server name the ClientHello asked for; None in server answers or without SNI.
    pub sni: Option<String>,
    /// Alert description (RFC 8446 section 6) of a server alert, None for hellos.
    pub alert: Option<u8>,
}

/// Everything one capture shows, summarised.
#[derive(Debug, Clone, Default)]
pub struct CaptureFlows {
    /// The capture's name in reports: its input's label (path, bundle member, ...).
    pub name: String,
    /// Frames read (the highest frame number when the reader did not count).
    pub frames: u64,
    /// Highest frame number seen in a payload or event.
    pub max_frame: u32,
    /// Link-layer types of the capture's interfaces (pcap LINKTYPE_* numbers).
    pub link_types: Vec<u32>,
    /// Time of the first frame, None for a capture without frames.
    pub first_ts: Option<Timestamp>,
    /// Time of the last frame, None for a capture without frames.
    pub last_ts: Option<Timestamp>,
    /// STUN messages on the wire and carried (Send/Data indications included).
    pub stun_messages: u64,
    /// Every STUN message kept, in capture order; [`Transaction`]s index into it.
    pub msgs: Vec<Msg>,
    /// Transactions kept, in order of their first sighting.
    pub transactions: Vec<Transaction>,
    /// Every payload per direction (STUN, ChannelData, DTLS, media...).
    pub traffic: HashMap<TupleKey, Counter>,
    /// Send indications (client -> server) per 5-tuple; bytes are DATA bytes.
    pub send_ind: HashMap<TupleKey, Counter>,
    /// Data indications (server -> client) per 5-tuple.
    pub data_ind: HashMap<TupleKey, Counter>,
    /// ChannelData per direction and channel; bytes are the application data.
    pub channel_data: HashMap<ChannelKey, Counter>,
    /// STUN messages (ICE checks) relayed inside Send/Data/ChannelData, per carrier direction.
    pub carried_stun: HashMap<TupleKey, u64>,
    /// Allocations learnt from Allocate successes: (client, server) 5-tuple -> relayed address.
    pub relayed_by_tuple: Vec<((SocketAddr, SocketAddr), SocketAddr)>,
    /// Malformed STUN messages, the first 2000.
    pub malformed: Vec<MalformedSeen>,
    /// All malformed STUN messages, including those not kept.
    pub malformed_count: u64,
    /// ICMP destination-unreachable errors seen.
    pub unreachable: Vec<UnreachableSeen>,
    /// TCP control segments, within the events budget.
    pub tcp: Vec<TcpSeen>,
    /// TLS hellos and alerts, within the events budget.
    pub tls: Vec<TlsSeen>,
    /// DNS lookups (port 53, UDP and TCP).
    pub dns: dns::DnsLog,
    /// TLS connections: hellos, versions, certificates, alerts, application data counts.
    pub tls_conns: tls::TlsLog,
    /// Plain HTTP answers (status line, Location).
    pub http: http::HttpLog,
    /// Problems reading the capture (frame, when known, and what), the first 2000.
    pub problems: Vec<(Option<u32>, String)>,
    /// All reading problems, including those not kept.
    pub problem_count: u64,
    /// TURN allocations per client 5-tuple, built once the capture is read.
    pub allocations: Vec<Allocation>,
    /// What was counted without being kept in full (the memory budget).
    pub summarised: Summarised,
    /// The files the capture was read from, in time order, when it is several (the rotated
    /// pieces of one interface's tcpdump); empty for a capture of one file. Frame numbers
    /// here run on through the pieces; [`CaptureFlows::frame_ref`] gives a piece's own.
    pub pieces: Vec<Piece>,
}

impl CaptureFlows {
    /// The message at index `i` of [`CaptureFlows::msgs`] (panics when out of range).
    pub fn msg(&self, i: u32) -> &Msg {
        &self.msgs[i as usize]
    }

    /// Transactions the capture showed: those kept and those counted into them or summarised.
    pub fn transaction_count(&self) -> u64 {
        self.transactions.len() as u64 + self.summarised.transactions + self.summarised.unclassified
    }

    /// The first sighting of the request, if the capture has it.
    pub fn request(&self, t: &Transaction) -> Option<&Msg> {
        t.requests.first().map(|&i| self.msg(i))
    }

    /// The first response, if any.
    pub fn response(&self, t: &Transaction) -> Option<&Msg> {
        t.responses.first().map(|&i| self.msg(i))
    }

    /// The final response: an error followed by nothing, or the success if any.
    pub fn final_response(&self, t: &Transaction) -> Option<&Msg> {
        t.responses
            .iter()
            .map(|&i| self.msg(i))
            .find(|m| m.class == Class::Success)
            .or_else(|| self.response(t))
    }

    /// Request sightings on the leg of the first one (same carrier, source and destination):
    /// the original and its retransmissions.
    pub fn origin_leg<'a>(&'a self, t: &'a Transaction) -> impl Iterator<Item = &'a Msg> + 'a {
        let first = self.request(t);
        t.requests
            .iter()
            .map(|&i| self.msg(i))
            .filter(move |m| first.is_some_and(|f| same_leg(f, m)))
    }

    /// Retransmissions of the request on its original leg (sightings beyond those kept count
    /// as retransmissions).
    pub fn retransmissions(&self, t: &Transaction) -> usize {
        self.origin_leg(t).count().saturating_sub(1) + t.more_requests as usize
    }

    /// Request send times relative to the first, in milliseconds.
    pub fn schedule_ms(&self, t: &Transaction) -> Vec<f64> {
        let mut out = Vec::new();
        let mut first = None;
        for m in self.origin_leg(t) {
            let f = *first.get_or_insert(m.ts.0);
            out.push((m.ts.0 - f) as f64 / 1e6);
        }
        out
    }

    /// Time from the first request to the first response on the reverse leg, in milliseconds.
    pub fn rtt_ms(&self, t: &Transaction) -> Option<f64> {
        let rq = self.request(t)?;
        let rs = t
            .responses
            .iter()
            .map(|&i| self.msg(i))
            .find(|m| m.carried == rq.carried && m.src == rq.dst && m.dst == rq.src)
            .or_else(|| self.response(t))?;
        Some((rs.ts.0 - rq.ts.0) as f64 / 1e6)
    }

    /// Requests of this transaction sent after a response had been sent on the same leg: the
    /// client did not get the response.
    pub fn requests_after_response(&self, t: &Transaction) -> usize {
        let Some(rs) = self.response(t) else { return 0 };
        self.origin_leg(t).filter(|m| m.ts > rs.ts).count() + t.more_after_response as usize
    }

    /// Seconds from the first to the last frame (0 without both).
    pub fn duration_secs(&self) -> f64 {
        match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => (b.0 - a.0) as f64 / 1e9,
            _ => 0.0,
        }
    }
}

/// Same carrier, source and destination.
pub fn same_leg(a: &Msg, b: &Msg) -> bool {
    a.carried == b.carried && a.src == b.src && a.dst == b.dst && a.transport == b.transport
}

/// RFC 1918, CGNAT, link-local, loopback, unique-local: addresses that do not route publicly.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || (o[0] == 100 && (o[1] & 0xC0) == 64)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback() || (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Text for a carrier, for tables.
pub fn carrier_name(c: Option<Carrier>) -> &'static str {
    c.map_or("", Carrier::as_str)
}
