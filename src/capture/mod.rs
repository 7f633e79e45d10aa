//! Capture files -> timestamped transport payloads and network events.
//!
//! ```no_run
//! use turnscope::capture::{self, Event};
//! let file = capture::open(std::path::Path::new("call.pcapng"))?;
//! for batch in file.events() {
//!     for ev in batch {
//!         if let Event::Payload(p) = ev {
//!             // p.data: one UDP datagram, or one STUN / ChannelData / RFC 4571 unit from TCP
//!             let _ = (p.frame, p.ts, p.src, p.dst, &p.data);
//!         }
//!     }
//! }
//! # Ok::<(), capture::CaptureError>(())
//! ```
//!
//! [`open`] memory-maps a pcap or pcapng file ([`CaptureFile::from_bytes`] wraps bytes already
//! in memory, e.g. from a diagnostic bundle); the format comes from the magic number.
//! [`CaptureFile::events`] walks it in frame order, yielding batches of [`Event`]s (about
//! [`DEFAULT_BATCH_FRAMES`] frames each). The stateless work (link, IP, UDP, ICMP) runs on a
//! rayon worker while the calling thread walks the next record headers; IP defragmentation and
//! TCP reassembly carry state across batches, so memory stays bounded by the batch size and the
//! limits on live fragments and streams, not by the capture size. UDP payloads borrow from the
//! capture bytes; reassembled data is owned.
//!
//! [`CaptureFile::scan`] is the parallel walk for the hot paths (`decode --stats`, `analyze`):
//! the file is cut into stretches that all cores walk at once, a [`DatagramScan`] takes the
//! UDP datagrams whose handling needs no order, and the rest arrives in frame order as from
//! `events`.
//!
//! One file per job: `source.rs` (pcap / pcapng records, read by pcap-file), `scan.rs` (the
//! parallel walk), `link.rs` and `ip.rs` (headers, sliced by etherparse where it can),
//! `defrag.rs`, `frames.rs` (the records as captured, for exports), `tcp.rs` (segment
//! ordering), `stream.rs` (framing a byte stream), `tls.rs` (what a TLS handshake shows in
//! clear), `cert.rs` (X.509 summaries).

pub mod bundle;

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// Nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Seconds since the Unix epoch, fractional (exact to about a microsecond for
    /// present-day times).
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

/// The transport a payload travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP, payloads cut from the reassembled stream.
    Tcp,
    /// TLS over TCP. The capture layer never yields it (TLS payloads are encrypted): a TLS
    /// stream shows as [`Event::Tls`] items on [`Transport::Tcp`] endpoints.
    Tls,
}

impl Transport {
    /// Lower-case name as in reports and exports: `udp`, `tcp`, `tls`.
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
    /// One DNS message from a TCP stream to or from port 53 (RFC 1035 section 4.2.2 length
    /// prefix removed).
    Dns,
}

/// A transport payload: what STUN decoding looks at.
#[derive(Debug, Clone)]
pub struct Payload<'a> {
    /// 1-based frame number as Wireshark shows it; for reassembled data the completing frame.
    pub frame: u32,
    /// Capture time of that frame, nanoseconds since the Unix epoch.
    pub ts: Timestamp,
    /// UDP or TCP (never [`Transport::Tls`]).
    pub transport: Transport,
    /// How `data` was cut from the transport.
    pub framing: Framing,
    /// Sender's address and port.
    pub src: SocketAddr,
    /// Receiver's address and port.
    pub dst: SocketAddr,
    /// Borrowed from the capture bytes where possible; owned after IP or TCP reassembly.
    pub data: Cow<'a, [u8]>,
}

/// Why an ICMP or ICMPv6 destination unreachable says the datagram did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachableKind {
    /// Port unreachable (ICMP code 3, ICMPv6 code 4): the host is there, nothing listens.
    Port,
    /// Host unreachable (ICMP codes 1, 7, 12; ICMPv6 code 3).
    Host,
    /// Network unreachable (ICMP codes 0, 6, 11; ICMPv6 code 0: no route).
    Network,
    /// Protocol unreachable (ICMP code 2).
    Protocol,
    /// Administratively prohibited: a firewall said no (ICMP codes 9, 10, 13; ICMPv6
    /// codes 1, 5, 6).
    AdminProhibited,
    /// Any other code, as received.
    Other {
        /// ICMP type (3) or ICMPv6 type (1).
        icmp_type: u8,
        /// The code the message carried.
        code: u8,
    },
}

/// A TCP segment's control flags, as far as reachability findings go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpControl {
    /// SYN without ACK: a connection attempt.
    Syn,
    /// SYN with ACK: the attempt was accepted.
    SynAck,
    /// RST: refused or torn down.
    Rst,
    /// FIN without RST: one side closed its direction.
    Fin,
}

/// Something a capture shows besides payloads, or a problem reading it.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A transport payload.
    Payload(Payload<'a>),
    /// ICMP/ICMPv6 destination unreachable, with the quoted datagram's 5-tuple.
    Unreachable {
        /// Frame of the ICMP message.
        frame: u32,
        /// Its capture time, nanoseconds since the Unix epoch.
        ts: Timestamp,
        /// Who sent the ICMP message.
        reporter: IpAddr,
        /// Why the datagram did not arrive.
        kind: UnreachableKind,
        /// `Transport::Udp` or `Transport::Tcp` of the quoted packet.
        quoted_transport: Transport,
        /// Sender of the quoted packet (whom the message is addressed to, usually).
        quoted_src: SocketAddr,
        /// Where the quoted packet was going.
        quoted_dst: SocketAddr,
        /// Whatever of the quoted transport payload the ICMP message carries (may be cut).
        quoted_payload: &'a [u8],
    },
    /// TCP connection control segments (SYN, SYN-ACK, RST, FIN) for reachability findings.
    Tcp {
        /// Frame of the segment.
        frame: u32,
        /// Its capture time, nanoseconds since the Unix epoch.
        ts: Timestamp,
        /// Sender of the segment.
        src: SocketAddr,
        /// Receiver of the segment.
        dst: SocketAddr,
        /// Which control segment.
        control: TcpControl,
    },
    /// A TLS ClientHello seen on a TCP stream (e.g. TURN over TLS on 443).
    TlsClientHello {
        /// Frame that completed the ClientHello.
        frame: u32,
        /// Its capture time, nanoseconds since the Unix epoch.
        ts: Timestamp,
        /// The client.
        src: SocketAddr,
        /// The server.
        dst: SocketAddr,
        /// The server name the client asked for (None: no server_name extension).
        sni: Option<String>,
    },
    /// A TLS alert or ServerHello, to report the handshake outcome.
    TlsServer {
        /// Frame that completed the record.
        frame: u32,
        /// Its capture time, nanoseconds since the Unix epoch.
        ts: Timestamp,
        /// The server (the side that did not send the ClientHello).
        src: SocketAddr,
        /// The client.
        dst: SocketAddr,
        /// `None` for ServerHello (handshake progressing), `Some(description)` for an alert.
        alert: Option<u8>,
    },
    /// What a TLS handshake shows in clear, one event per item (versions, certificates,
    /// alerts in either direction, application data counts when the stream ends).
    Tls(Box<TlsEvent>),
    /// A frame or stream that could not be read in full; decoding went on.
    Problem(Problem),
}

/// One item of a TLS stream, from the side `src` to `dst`.
#[derive(Debug, Clone)]
pub struct TlsEvent {
    /// The frame that completed the item (for [`TlsDetail::Closed`], the last of the stream).
    pub frame: u32,
    /// Capture time of that frame, nanoseconds since the Unix epoch.
    pub ts: Timestamp,
    /// The side that sent the item.
    pub src: SocketAddr,
    /// The other side.
    pub dst: SocketAddr,
    /// What the item is.
    pub detail: TlsDetail,
}

/// What a TLS record (or the end of the stream) told; see `tls.rs` for what is visible when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsDetail {
    /// The client's offer: server name, ALPN, versions.
    ClientHello(ClientHello),
    /// The version the server chose (0x0303 TLS 1.2, 0x0304 TLS 1.3).
    ServerHello {
        /// The negotiated version (supported_versions when present, else the legacy field).
        version: u16,
    },
    /// A Certificate message in clear (TLS 1.2 and earlier): the first certificates
    /// summarised, and how many the message held.
    Certificates {
        /// The first certificates of the message, leaf first, summarised.
        chain: Vec<CertInfo>,
        /// Certificates the message held (may exceed `chain.len()`).
        count: usize,
    },
    /// The server asked for the client's certificate (TLS 1.2 and earlier).
    CertificateRequest,
    /// A plaintext alert (level 2 is fatal).
    Alert {
        /// 1 warning, 2 fatal.
        level: u8,
        /// The AlertDescription code (RFC 8446 section 6), e.g. 40 handshake_failure, 42
        /// bad_certificate, 48 unknown_ca.
        description: u8,
    },
    /// This direction of the stream ended; its application data records, counted.
    Closed(AppData),
}

impl Event<'_> {
    /// The frame this event belongs to (`None` for file-level problems).
    pub fn frame(&self) -> Option<u32> {
        match self {
            Event::Payload(p) => Some(p.frame),
            Event::Unreachable { frame, .. }
            | Event::Tcp { frame, .. }
            | Event::TlsClientHello { frame, .. }
            | Event::TlsServer { frame, .. } => Some(*frame),
            Event::Tls(t) => Some(t.frame),
            Event::Problem(p) => p.frame,
        }
    }
}

/// A reading problem with where it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The frame it concerns (for TCP and fragment problems, the frame that revealed it);
    /// None for a problem of the file itself (a truncated or corrupt record), which ends
    /// the walk.
    pub frame: Option<u32>,
    /// What went wrong.
    pub kind: ProblemKind,
}

/// What could not be read. A problem with a frame lets the walk go on with the next one; a
/// problem of the file itself ([`Problem::frame`] None) ends it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// Frames of a link type [`link`] does not read; reported once per link type (for the
    /// first such frame), the frames skipped.
    #[error("unsupported link type {0}")]
    UnknownLinkType(u32),
    /// A header or payload is cut because the capture kept only the first `captured` bytes
    /// (the snap length): what is cut off is not decoded.
    #[error("packet cut by snaplen: captured {captured} of {original} bytes")]
    SnaplenCut {
        /// Bytes the capture kept.
        captured: u32,
        /// Bytes the packet had on the wire.
        original: u32,
    },
    /// A link, IP, ICMP or transport header is longer than what the packet holds, though
    /// the capture kept the whole packet (a broken sender, or a broken capture).
    #[error("truncated {layer} header: needed {needed} bytes, got {got}")]
    Truncated {
        /// Whose header ("IPv4", "UDP", "Linux SLL", ...).
        layer: &'static str,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes there were.
        got: usize,
    },
    /// Something says what cannot be: the capture file ("pcap", "pcapng", "capture
    /// record": a corrupt record or block, which ends the walk unless only one packet block
    /// is affected), a link or IP header, IP reassembly ("IP fragment": two last fragments
    /// with different ends, a datagram beyond 65535 bytes) or TCP reassembly.
    #[error("malformed {layer}: {detail}")]
    Malformed {
        /// Which layer or header.
        layer: &'static str,
        /// What is wrong, with byte offsets where they help.
        detail: String,
    },
    /// TCP reassembly knows bytes of a stream are missing (not captured, too much waiting
    /// behind a hole, a segment cut by snaplen, RST, end of capture, or the capture began
    /// inside a message); the framer skips to the next unit it recognises.
    #[error("TCP gap of {missing} bytes in {stream}, resynchronised")]
    TcpGap {
        /// The direction, as "src -> dst".
        stream: String,
        /// Bytes known missing; 0 when unknown (a stream picked up mid-message).
        missing: u64,
    },
    /// IP fragments of a datagram that never all arrived: given up after the reassembly
    /// timeout, when the limit on pending datagrams is reached, or at the end of the
    /// capture. Reported at the first fragment's frame.
    #[error("IP fragments never completed ({src} -> {dst}, id {id})")]
    IncompleteFragments {
        /// Source of the fragments.
        src: IpAddr,
        /// Their destination.
        dst: IpAddr,
        /// The IP identification field (16 bits for IPv4, 32 for IPv6).
        id: u32,
    },
    /// The file ends inside a record or block (a capture still being written, or cut
    /// short when copied); the text says where. Ends the walk.
    #[error("capture file ends inside a record: {0}")]
    TruncatedFile(String),
}

mod cert;
mod defrag;
mod frames;
#[cfg(feature = "testsupport")]
pub mod fuzzing;
mod ip;
pub mod link;
mod scan;
mod source;
mod stream;
mod streamed;
mod tcp;
mod tls;

pub use cert::CertInfo;
pub use frames::{walk_raw_read, RawFrame, RawFrames};
pub use scan::{DatagramScan, ScanOptions, Scanned};
pub use source::{open, CaptureError, CaptureFile, CaptureFormat};
pub use streamed::{first_record_time, walk_read, FirstRecord, StreamWalk, Streamed};
pub use tls::{AppData, ClientHello};

use std::collections::BTreeMap;

use ip::{Parsed, L4};
use link::LinkError;
use source::{Item, Record, RecordReader};

/// Frames parsed per batch by default.
pub const DEFAULT_BATCH_FRAMES: usize = 16 * 1024;
/// Frames walked and parsed per pipeline step (see [`Events::next`]).
const SUB_BATCH: usize = 1024;

/// Counts for one capture, filled in as its events are produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames (packet records), as Wireshark numbers them.
    pub frames: u64,
    /// Captured bytes of all frames.
    pub bytes: u64,
    /// Frames per link type.
    pub link_types: BTreeMap<u32, u64>,
    /// Problem events emitted.
    pub problems: u64,
    /// Payload events emitted (all framings).
    pub payloads: u64,
    /// Link types of the interfaces the walk met, in order of first appearance, without
    /// repeats (pcap: the file's): what [`CaptureFile::link_types`] says, known without a
    /// walk of its own once the capture has been walked.
    pub declared_links: Vec<u32>,
}

impl CaptureFile {
    /// Walk the capture: batches of events in frame order (empty batches are not yielded).
    ///
    /// Data completed by reassembly carries the frame that completed it. What is still
    /// pending when the capture ends (TCP bytes waiting for a frame, fragments never
    /// completed) is flushed into the last batch with the frame it belongs to, so those
    /// last events may carry frame numbers lower than the ones before them.
    pub fn events(&self) -> Events<'_> {
        self.events_batched(DEFAULT_BATCH_FRAMES)
    }

    /// As [`CaptureFile::events`], with `batch_frames` frames per batch (at least 1).
    pub fn events_batched(&self, batch_frames: usize) -> Events<'_> {
        Events {
            reader: self.records(),
            batch: batch_frames.max(1),
            st: Stateful::default(),
            walked: Vec::new(),
            started: false,
            finished: false,
        }
    }

    /// Decode the whole capture for its counts.
    pub fn stats(&self) -> CaptureStats {
        let mut ev = self.events();
        for _ in ev.by_ref() {}
        ev.st.stats
    }
}

/// What one frame gave, before the stateful stages.
enum FrameOut<'a> {
    Nothing,
    Event(Event<'a>),
    Tcp(ip::TcpSegment<'a>),
    Fragment(ip::Fragment<'a>),
    UnknownLink(u32),
}

struct Parsed1<'a> {
    frame: u32,
    ts: Timestamp,
    link: Option<u32>,
    len: usize,
    out: FrameOut<'a>,
    /// Boxed: rare, and it would double the size of every frame's result.
    problem: Option<Box<ProblemKind>>,
}

#[inline(always)]
fn l4_event<'a>(frame: u32, ts: Timestamp, l4: L4<'a>) -> FrameOut<'a> {
    match l4 {
        L4::Nothing => FrameOut::Nothing,
        L4::Udp { src, dst, data } => FrameOut::Event(Event::Payload(Payload {
            frame,
            ts,
            transport: Transport::Udp,
            framing: Framing::Datagram,
            src,
            dst,
            data: Cow::Borrowed(data),
        })),
        L4::Tcp(seg) => FrameOut::Tcp(seg),
        L4::Fragment(f) => FrameOut::Fragment(f),
        L4::Unreachable(u) => FrameOut::Event(Event::Unreachable {
            frame,
            ts,
            reporter: u.reporter,
            kind: u.kind,
            quoted_transport: u.quoted_transport,
            quoted_src: u.quoted_src,
            quoted_dst: u.quoted_dst,
            quoted_payload: u.quoted_payload,
        }),
    }
}

/// The stateless part: link, IP, UDP, ICMP; runs in parallel.
fn parse_item(item: Item<'_>) -> Parsed1<'_> {
    match item {
        Item::Packet(r) => parse_record(r),
        Item::Frame { frame, problem } => Parsed1 {
            frame,
            ts: Timestamp(0),
            link: None,
            len: 0,
            out: FrameOut::Nothing,
            problem: problem.map(Box::new),
        },
        Item::Problem(p) => Parsed1 {
            frame: 0,
            ts: Timestamp(0),
            link: None,
            len: 0,
            out: FrameOut::Nothing,
            problem: Some(Box::new(p.kind)),
        },
    }
}

#[inline(always)]
fn parse_record(r: Record<'_>) -> Parsed1<'_> {
    let mut p = Parsed1 {
        frame: r.frame,
        ts: r.ts,
        link: Some(r.link),
        len: r.data.len(),
        out: FrameOut::Nothing,
        problem: None,
    };
    let cut = (r.data.len() < r.orig_len as usize).then_some((r.data.len() as u32, r.orig_len));
    match link::decap(r.link, r.data) {
        Ok(net) => {
            let Parsed { l4, problem } = ip::parse(net, cut);
            p.out = l4_event(r.frame, r.ts, l4);
            p.problem = problem.map(Box::new);
        }
        Err(LinkError::Unknown(lt)) => p.out = FrameOut::UnknownLink(lt),
        Err(LinkError::Problem(k)) => p.problem = Some(Box::new(k)),
    }
    p
}

/// Iterator over batches of events; see [`CaptureFile::events`].
pub struct Events<'a> {
    reader: RecordReader<'a>,
    batch: usize,
    st: Stateful<'a>,
    /// Records walked but not parsed yet.
    walked: Vec<Item<'a>>,
    started: bool,
    finished: bool,
}

impl Events<'_> {
    /// Counts so far (complete once the iterator is exhausted).
    pub fn stats(&self) -> &CaptureStats {
        &self.st.stats
    }
}

/// The stages that carry state across frames (IP defragmentation, TCP reassembly) and the
/// counts; fed parsed frames in frame order.
#[derive(Default)]
struct Stateful<'a> {
    defrag: defrag::Defragmenter<'a>,
    tcp: tcp::TcpReassembler<'a>,
    unknown_links: Vec<u32>,
    stats: CaptureStats,
}

impl<'a> Stateful<'a> {
    /// Count and emit an event. `out` may hold events borrowing from shorter-lived bytes than
    /// the stages' own (a streamed capture's buffer).
    fn push<'o>(&mut self, ev: Event<'o>, out: &mut Vec<Event<'o>>) {
        match &ev {
            Event::Problem(_) => self.stats.problems += 1,
            Event::Payload(_) => self.stats.payloads += 1,
            _ => {}
        }
        out.push(ev);
    }

    fn problem<'o>(&mut self, frame: Option<u32>, kind: ProblemKind, out: &mut Vec<Event<'o>>) {
        self.push(Event::Problem(Problem { frame, kind }), out);
    }

    /// Count stateful-stage events pushed straight into `out` from index `from`.
    fn count_from(&mut self, out: &[Event<'_>], from: usize) {
        for ev in out.get(from..).unwrap_or_default() {
            match ev {
                Event::Problem(_) => self.stats.problems += 1,
                Event::Payload(_) => self.stats.payloads += 1,
                _ => {}
            }
        }
    }

    fn reassembled(
        &mut self,
        frame: u32,
        ts: Timestamp,
        dg: defrag::Datagram,
        out: &mut Vec<Event<'a>>,
    ) {
        let key = dg.key;
        let parsed = if key.src.is_ipv4() {
            ip::transport(dg.proto, key.src, key.dst, &dg.payload, 0, None)
        } else {
            match ip::ext_headers(dg.proto, &dg.payload) {
                Ok(ip::Ext::Transport(proto, rest)) => {
                    ip::transport(proto, key.src, key.dst, rest, 0, None)
                }
                Ok(_) => return,
                Err(k) => {
                    self.problem(Some(frame), k, out);
                    return;
                }
            }
        };
        if let Some(k) = parsed.problem {
            self.problem(Some(frame), k, out);
        }
        match parsed.l4 {
            L4::Udp { src, dst, data } => {
                let ev = Event::Payload(Payload {
                    frame,
                    ts,
                    transport: Transport::Udp,
                    framing: Framing::Datagram,
                    src,
                    dst,
                    data: Cow::Owned(data.to_vec()),
                });
                self.push(ev, out);
            }
            L4::Tcp(seg) => {
                let seg = ip::TcpSegment {
                    data: Cow::Owned(seg.data.into_owned()),
                    ..seg
                };
                let n = out.len();
                self.tcp.segment(frame, ts, seg, out);
                self.count_from(out, n);
            }
            L4::Unreachable(u) => {
                let ev = Event::Unreachable {
                    frame,
                    ts,
                    reporter: u.reporter,
                    kind: u.kind,
                    quoted_transport: u.quoted_transport,
                    quoted_src: u.quoted_src,
                    quoted_dst: u.quoted_dst,
                    // The quote lives in the reassembly buffer, which is dropped here.
                    quoted_payload: &[],
                };
                self.push(ev, out);
            }
            L4::Fragment(_) | L4::Nothing => {}
        }
    }

    /// The sequential part, in frame order.
    fn apply(&mut self, p: Parsed1<'a>, out: &mut Vec<Event<'a>>) {
        let Some(rest) = self.take_frame(p, out) else {
            return;
        };
        match rest.out {
            FrameOut::Tcp(seg) => self.tcp_segment(rest.frame, rest.ts, seg, out),
            FrameOut::Fragment(f) => self.fragment(rest.frame, rest.ts, f, out),
            FrameOut::Nothing | FrameOut::Event(_) | FrameOut::UnknownLink(_) => {}
        }
    }

    /// Count a parsed frame and emit what needs no state (its problem, its event, an
    /// unknown link type). Gives back the frame when it still has a TCP segment or an IP
    /// fragment for the stateful stages.
    fn take_frame<'p>(&mut self, p: Parsed1<'p>, out: &mut Vec<Event<'p>>) -> Option<Parsed1<'p>> {
        let Parsed1 {
            frame: number,
            ts,
            link,
            len,
            out: what,
            problem,
        } = p;
        if number != 0 {
            self.stats.frames += 1;
            self.stats.bytes += len as u64;
            if let Some(l) = link {
                *self.stats.link_types.entry(l).or_default() += 1;
            }
        }
        let frame = (number != 0).then_some(number);
        if let Some(k) = problem {
            self.problem(frame, *k, out);
        }
        match what {
            FrameOut::Nothing => None,
            FrameOut::Event(ev) => {
                self.push(ev, out);
                None
            }
            FrameOut::UnknownLink(lt) => {
                if !self.unknown_links.contains(&lt) && self.unknown_links.len() < 1024 {
                    self.unknown_links.push(lt);
                    self.problem(frame, ProblemKind::UnknownLinkType(lt), out);
                }
                None
            }
            stateful @ (FrameOut::Tcp(_) | FrameOut::Fragment(_)) => Some(Parsed1 {
                frame: number,
                ts,
                link,
                len,
                out: stateful,
                problem: None,
            }),
        }
    }

    fn tcp_segment(
        &mut self,
        frame: u32,
        ts: Timestamp,
        seg: ip::TcpSegment<'a>,
        out: &mut Vec<Event<'a>>,
    ) {
        let n = out.len();
        self.tcp.segment(frame, ts, seg, out);
        self.count_from(out, n);
    }

    fn fragment(
        &mut self,
        frame: u32,
        ts: Timestamp,
        f: ip::Fragment<'a>,
        out: &mut Vec<Event<'a>>,
    ) {
        let mut problems = Vec::new();
        let dg = self.defrag.add(frame, ts, f, &mut problems);
        for pr in problems {
            self.push(Event::Problem(pr), out);
        }
        if let Some(dg) = dg {
            self.reassembled(frame, ts, dg, out);
        }
    }

    fn finish(&mut self, out: &mut Vec<Event<'a>>) {
        let mut problems = Vec::new();
        self.defrag.finish(&mut problems);
        for pr in problems {
            self.push(Event::Problem(pr), out);
        }
        let n = out.len();
        self.tcp.finish(out);
        self.count_from(out, n);
    }
}

impl<'a> Iterator for Events<'a> {
    type Item = Vec<Event<'a>>;

    /// A two-stage pipeline over sub-batches of 1024 frames: while a rayon worker
    /// parses the frames walked last time (link, IP, UDP: stateless), this thread walks the
    /// next record headers and then runs the stateful stages on the parsed frames in order.
    /// The sub-batch is small enough to still be in cache when it is parsed.
    fn next(&mut self) -> Option<Vec<Event<'a>>> {
        if self.finished {
            return None;
        }
        let sub = self.batch.min(SUB_BATCH);
        let mut out = Vec::new();
        let mut frames = 0usize;
        loop {
            let walked = std::mem::take(&mut self.walked);
            let reader = &mut self.reader;
            let mut walk = || {
                let mut items = Vec::with_capacity(sub);
                while items.len() < sub {
                    match reader.next_item() {
                        Some(it) => items.push(it),
                        None => break,
                    }
                }
                items
            };
            let parse = || walked.into_iter().map(parse_item).collect::<Vec<_>>();
            let (next, parsed) = if self.started {
                rayon::join(walk, parse)
            } else {
                self.started = true;
                (walk(), parse())
            };
            frames += parsed.len();
            out.reserve(parsed.len());
            for p in parsed {
                self.st.apply(p, &mut out);
            }
            let eof = next.is_empty();
            self.walked = next;
            if eof && self.walked.is_empty() {
                self.st.finish(&mut out);
                self.st.stats.declare(self.reader.declared_links());
                self.finished = true;
            }
            if self.finished || (frames >= self.batch && !out.is_empty()) {
                break;
            }
        }
        if out.is_empty() {
            None
        } else {
            Some(out)
        }
    }
}
