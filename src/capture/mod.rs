//! Capture files -> timestamped transport payloads and network events.
//!
//! `open` memory-maps a pcap or pcapng file (or wraps bytes already in memory, e.g. from a
//! diagnostic bundle); `CaptureFile::events` walks it in frame order, yielding batches of
//! [`Event`]s. Within a batch the link/IP/UDP work is spread over rayon; IP defragmentation and
//! TCP reassembly carry state across batches, so memory stays bounded by the batch size and the
//! number of live streams, not by the capture size.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// Nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// How a payload was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One UDP datagram (after IP reassembly if it was fragmented).
    Datagram,
    /// One STUN message or one ChannelData frame (padding included) cut from a TCP stream.
    Stream,
    /// One RFC 4571 length-prefixed frame payload from a TCP stream (ICE-TCP); prefix removed.
    Rfc4571,
    /// Stream bytes that could not be framed (after a gap, or not STUN/ChannelData).
    Unframed,
}

/// A transport payload: what STUN decoding looks at.
#[derive(Debug, Clone)]
pub struct Payload<'a> {
    /// 1-based frame number as Wireshark shows it; for reassembled data the completing frame.
    pub frame: u32,
    pub ts: Timestamp,
    pub transport: Transport,
    pub framing: Framing,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// Borrowed from the capture bytes where possible; owned after IP or TCP reassembly.
    pub data: Cow<'a, [u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachableKind {
    Port,
    Host,
    Network,
    Protocol,
    AdminProhibited,
    Other { icmp_type: u8, code: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpControl {
    Syn,
    SynAck,
    Rst,
    Fin,
}

/// Something a capture shows besides payloads, or a problem reading it.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Payload(Payload<'a>),
    /// ICMP/ICMPv6 destination unreachable, with the quoted datagram's 5-tuple.
    Unreachable {
        frame: u32,
        ts: Timestamp,
        /// Who sent the ICMP message.
        reporter: IpAddr,
        kind: UnreachableKind,
        /// `Transport::Udp` or `Transport::Tcp` of the quoted packet.
        quoted_transport: Transport,
        quoted_src: SocketAddr,
        quoted_dst: SocketAddr,
        /// Whatever of the quoted transport payload the ICMP message carries (may be cut).
        quoted_payload: &'a [u8],
    },
    /// TCP connection control segments (SYN, SYN-ACK, RST, FIN) for reachability findings.
    Tcp {
        frame: u32,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        control: TcpControl,
    },
    /// A TLS ClientHello seen on a TCP stream (e.g. TURN over TLS on 443).
    TlsClientHello {
        frame: u32,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        sni: Option<String>,
    },
    /// A TLS alert or ServerHello, to report the handshake outcome.
    TlsServer {
        frame: u32,
        ts: Timestamp,
        src: SocketAddr,
        dst: SocketAddr,
        /// `None` for ServerHello (handshake progressing), `Some(description)` for an alert.
        alert: Option<u8>,
    },
    /// A frame or stream that could not be read in full; decoding went on.
    Problem(Problem),
}

/// A reading problem with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub frame: Option<u32>,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    #[error("unsupported link type {0}")]
    UnknownLinkType(u32),
    #[error("packet cut by snaplen: captured {captured} of {original} bytes")]
    SnaplenCut { captured: u32, original: u32 },
    #[error("truncated {layer} header: needed {needed} bytes, got {got}")]
    Truncated {
        layer: &'static str,
        needed: usize,
        got: usize,
    },
    #[error("malformed {layer}: {detail}")]
    Malformed { layer: &'static str, detail: String },
    #[error("TCP gap of {missing} bytes in {stream}, resynchronised")]
    TcpGap { stream: String, missing: u64 },
    #[error("IP fragments never completed ({src} -> {dst}, id {id})")]
    IncompleteFragments { src: IpAddr, dst: IpAddr, id: u32 },
    #[error("capture file ends inside a record: {0}")]
    TruncatedFile(String),
}
