//! Framing of one direction of a reassembled TCP byte stream.
//!
//! A stream is classified from its first bytes: STUN / ChannelData back to back
//! ([`Framing::Stream`]), RFC 4571 length-prefixed frames (ICE-TCP, [`Framing::Rfc4571`]), or
//! TLS (records are parsed for what the handshake shows in clear, see `tls.rs`, never emitted
//! as payloads), HTTP (handed out as [`Framing::Unframed`] chunks as they arrive, for the
//! status line of port 80 answers). Streams to or from port 53 are DNS: 2-byte length
//! prefixed messages ([`Framing::Dns`]). After a gap, or when the bytes stop making sense, the
//! framer scans for the next plausible header and hands the bytes it skipped out as
//! [`Framing::Unframed`] chunks.
//!
//! The framer is a pure function of the byte stream and the end-of-stream mark: however the
//! bytes are cut into segments, the same frames come out (only the completing frame number
//! differs). Frames are borrowed from the capture when a segment holds them whole.

use std::borrow::Cow;
use std::net::SocketAddr;

use super::source::{be16, be32};
use super::tls::{self, Item, TlsDir};
use super::{
    Event, Framing, Payload, Problem, ProblemKind, Timestamp, TlsDetail, TlsEvent, Transport,
};

pub(crate) const MAGIC_COOKIE: u32 = 0x2112_a442;
/// Longest run of unframeable bytes handed out as one payload.
pub(crate) const MAX_UNFRAMED: usize = 64 * 1024;
/// Bytes wanted before classifying a new stream.
const DETECT_BYTES: usize = 10;

/// Where the bytes being framed were seen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    pub frame: u32,
    pub ts: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

impl Ctx {
    fn tls(&self, detail: TlsDetail) -> Event<'static> {
        Event::Tls(Box::new(TlsEvent {
            frame: self.frame,
            ts: self.ts,
            src: self.src,
            dst: self.dst,
            detail,
        }))
    }

    fn tls_server(&self, alert: Option<u8>) -> Event<'static> {
        Event::TlsServer {
            frame: self.frame,
            ts: self.ts,
            src: self.src,
            dst: self.dst,
            alert,
        }
    }

    fn gap(&self, missing: u64) -> Event<'static> {
        Event::Problem(Problem {
            frame: Some(self.frame),
            kind: ProblemKind::TcpGap {
                stream: format!("{} -> {}", self.src, self.dst),
                missing,
            },
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    Stun,
    Rfc4571,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Detect,
    Stun,
    Rfc4571,
    Tls,
    TlsLost,
    /// DNS over TCP: 2-byte length prefix, like RFC 4571.
    Dns,
    /// DNS after a gap: a length prefix cannot be found again with any confidence.
    DnsLost,
    /// HTTP/1.x text: handed out as it comes.
    Http,
    Resync(Family),
}

enum Step {
    NeedMore,
    Frame {
        start: usize,
        end: usize,
        framing: Framing,
    },
    Unframed(usize),
    Tls(usize),
    Drop(usize),
}

enum Cand {
    Yes(Mode),
    No,
    NeedMore,
}

#[derive(Debug)]
pub(crate) struct Framer {
    mode: Mode,
    buf: Vec<u8>,
    /// Bytes at the start of the pending data known to hold no resync candidate.
    scanned: usize,
    /// The stream was picked up without its SYN.
    pub midstream: bool,
    /// Skipping the start of a stream picked up without its SYN.
    midstream_skipping: bool,
    note_midstream_gap: bool,
    tls_client: bool,
    tls_server_reported: bool,
    tls: TlsDir,
}

impl Default for Framer {
    fn default() -> Self {
        Framer {
            mode: Mode::Detect,
            buf: Vec::new(),
            scanned: 0,
            midstream: false,
            midstream_skipping: false,
            note_midstream_gap: false,
            tls_client: false,
            tls_server_reported: false,
            tls: TlsDir::default(),
        }
    }
}

/// One DNS message over TCP: a 2-byte length, then the message (RFC 1035 section 4.2.2).
fn dns_step(v: &[u8], eof: bool) -> Step {
    let Some(len) = be16(v, 0) else {
        return if eof {
            Step::Unframed(v.len())
        } else {
            Step::NeedMore
        };
    };
    let total = 2 + usize::from(len);
    if len == 0 {
        Step::Drop(2)
    } else if v.len() >= total {
        Step::Frame {
            start: 2,
            end: total,
            framing: Framing::Dns,
        }
    } else if eof {
        Step::Unframed(v.len())
    } else {
        Step::NeedMore
    }
}

fn round4(n: usize) -> usize {
    (n + 3) & !3
}

/// A STUN header with the magic cookie (needs 8 bytes).
fn stun_cookie(w: &[u8]) -> Cand {
    match w.first() {
        Some(b) if b & 0xc0 == 0 => {}
        _ => return Cand::No,
    }
    let (Some(len), Some(cookie)) = (be16(w, 2), be32(w, 4)) else {
        return Cand::NeedMore;
    };
    if len % 4 == 0 && cookie == MAGIC_COOKIE {
        Cand::Yes(Mode::Stun)
    } else {
        Cand::No
    }
}

/// An RFC 4571 length prefix that frames a STUN message with the cookie (needs 10 bytes).
fn rfc4571_stun(w: &[u8]) -> Cand {
    if let Some(b) = w.get(2) {
        if b & 0xc0 != 0 {
            return Cand::No;
        }
    }
    let (Some(frame_len), Some(len), Some(cookie)) = (be16(w, 0), be16(w, 4), be32(w, 6)) else {
        return Cand::NeedMore;
    };
    if cookie == MAGIC_COOKIE && len % 4 == 0 && u32::from(frame_len) == 20 + u32::from(len) {
        Cand::Yes(Mode::Rfc4571)
    } else {
        Cand::No
    }
}

/// A ChannelData header whose frame is followed by the same channel or a STUN header.
fn channel_data_chain(w: &[u8], eof: bool) -> Cand {
    match w.first() {
        Some(0x40..=0x7f) => {}
        _ => return Cand::No,
    }
    let Some(len) = be16(w, 2) else {
        return if eof { Cand::No } else { Cand::NeedMore };
    };
    let len = usize::from(len);
    let next = 4 + round4(len);
    let rest = w.get(next..).unwrap_or_default();
    if rest.len() >= 2 && rest.get(..2) == w.get(..2) {
        return Cand::Yes(Mode::Stun);
    }
    if !rest.is_empty() {
        return match stun_cookie(rest) {
            Cand::NeedMore if eof => Cand::No,
            Cand::Yes(_) => Cand::Yes(Mode::Stun),
            other => other,
        };
    }
    if eof {
        if w.len() == next || w.len() == 4 + len {
            Cand::Yes(Mode::Stun)
        } else {
            Cand::No
        }
    } else {
        Cand::NeedMore
    }
}

fn candidate(w: &[u8], family: Family, eof: bool) -> Cand {
    let settle = |c: Cand| match c {
        Cand::NeedMore if eof => Cand::No,
        c => c,
    };
    match family {
        Family::Rfc4571 => settle(rfc4571_stun(w)),
        Family::Stun => match settle(stun_cookie(w)) {
            Cand::No => channel_data_chain(w, eof),
            c => c,
        },
        Family::Any => match settle(rfc4571_stun(w)) {
            Cand::No => candidate(w, Family::Stun, eof),
            c => c,
        },
    }
}

/// Message types of STUN as it was before the magic cookie (RFC 3489, MS-TURN): methods 1-12
/// in the four classes.
fn legacy_stun(w: &[u8]) -> bool {
    let (Some(ty), Some(len)) = (be16(w, 0), be16(w, 2)) else {
        return false;
    };
    let method = ty & !0x0110;
    len % 4 == 0 && (1..=0x0c).contains(&method)
}

/// The start of an HTTP/1.x response or request (never STUN, ChannelData or TLS).
fn looks_like_http(v: &[u8]) -> bool {
    const STARTS: [&[u8]; 6] = [
        b"HTTP/1.",
        b"GET /",
        b"HEAD /",
        b"POST /",
        b"PUT /",
        b"OPTIONS ",
    ];
    STARTS.iter().any(|s| v.starts_with(s))
}

/// Classify the start of a stream (None: need more bytes).
fn detect(v: &[u8], eof: bool) -> Option<Mode> {
    if let Cand::Yes(m) = stun_cookie(v) {
        return Some(m);
    }
    if let Cand::Yes(m) = rfc4571_stun(v) {
        return Some(m);
    }
    if tls::looks_like_tls(v) {
        return Some(Mode::Tls);
    }
    if legacy_stun(v) {
        return Some(Mode::Stun);
    }
    if looks_like_http(v) {
        return Some(Mode::Http);
    }
    match candidate(v, Family::Any, eof) {
        Cand::Yes(m) => Some(m),
        Cand::NeedMore => None,
        Cand::No => Some(Mode::Resync(Family::Any)),
    }
}

impl Framer {
    /// A framer for a DNS stream (TCP port 53).
    pub fn dns() -> Framer {
        Framer {
            mode: Mode::Dns,
            ..Framer::default()
        }
    }

    pub fn is_dns(&self) -> bool {
        matches!(self.mode, Mode::Dns | Mode::DnsLost)
    }

    /// Bytes held waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.mode, Mode::Tls | Mode::TlsLost)
    }

    fn step(&mut self, v: &[u8], eof: bool) -> Step {
        loop {
            if v.is_empty() {
                return Step::NeedMore;
            }
            match self.mode {
                Mode::Detect => {
                    if v.len() < DETECT_BYTES && !eof {
                        return Step::NeedMore;
                    }
                    match detect(v, eof) {
                        None => return Step::NeedMore,
                        Some(m) => {
                            if m == Mode::Resync(Family::Any) && self.midstream {
                                self.midstream_skipping = true;
                            }
                            self.mode = m;
                        }
                    }
                }
                Mode::Stun => {
                    let (Some(&b0), Some(len)) = (v.first(), be16(v, 2)) else {
                        return if eof {
                            Step::Unframed(v.len())
                        } else {
                            Step::NeedMore
                        };
                    };
                    let len = usize::from(len);
                    let (total, min) = match b0 {
                        0x00..=0x3f if len % 4 == 0 => (20 + len, 20 + len),
                        0x40..=0x7f => (4 + round4(len), 4 + len),
                        _ => {
                            // Lost sync: look for the next header after this byte.
                            self.mode = Mode::Resync(Family::Stun);
                            self.scanned = 1;
                            continue;
                        }
                    };
                    if v.len() >= total {
                        return Step::Frame {
                            start: 0,
                            end: total,
                            framing: Framing::Stream,
                        };
                    }
                    if !eof {
                        return Step::NeedMore;
                    }
                    // The stream ends inside the padding of a last ChannelData frame.
                    return if v.len() >= min {
                        Step::Frame {
                            start: 0,
                            end: v.len(),
                            framing: Framing::Stream,
                        }
                    } else {
                        Step::Unframed(v.len())
                    };
                }
                Mode::Dns => return dns_step(v, eof),
                Mode::DnsLost | Mode::Http => return Step::Unframed(v.len()),
                Mode::Rfc4571 => {
                    let Some(len) = be16(v, 0) else {
                        return if eof {
                            Step::Unframed(v.len())
                        } else {
                            Step::NeedMore
                        };
                    };
                    let total = 2 + usize::from(len);
                    if len == 0 {
                        return Step::Drop(2);
                    }
                    if v.len() >= total {
                        return Step::Frame {
                            start: 2,
                            end: total,
                            framing: Framing::Rfc4571,
                        };
                    }
                    return if eof {
                        Step::Unframed(v.len())
                    } else {
                        Step::NeedMore
                    };
                }
                Mode::Tls => {
                    if v.len() < 5 {
                        return if eof {
                            Step::Drop(v.len())
                        } else {
                            Step::NeedMore
                        };
                    }
                    match tls::record_len(v) {
                        Some(n) if v.len() >= n => return Step::Tls(n),
                        Some(_) if eof => return Step::Drop(v.len()),
                        Some(_) => return Step::NeedMore,
                        None => self.mode = Mode::TlsLost,
                    }
                }
                Mode::TlsLost => return Step::Drop(v.len()),
                Mode::Resync(family) => {
                    let mut i = self.scanned.min(v.len());
                    while let Some(w) = v.get(i..).filter(|w| !w.is_empty()) {
                        if i >= MAX_UNFRAMED {
                            return Step::Unframed(i);
                        }
                        match candidate(w, family, eof) {
                            Cand::Yes(m) => {
                                self.mode = m;
                                self.scanned = 0;
                                // A STUN stream picked up inside a message: say so once.
                                if std::mem::take(&mut self.midstream_skipping) {
                                    self.note_midstream_gap = true;
                                }
                                if i > 0 {
                                    return Step::Unframed(i);
                                }
                                break;
                            }
                            Cand::No => i += 1,
                            Cand::NeedMore => {
                                self.scanned = i;
                                return Step::NeedMore;
                            }
                        }
                    }
                    if matches!(self.mode, Mode::Resync(_)) {
                        self.scanned = i;
                        return if eof || i >= MAX_UNFRAMED {
                            Step::Unframed(v.len())
                        } else {
                            Step::NeedMore
                        };
                    }
                }
            }
        }
    }

    fn tls_record<'a>(&mut self, ctx: &Ctx, rec: &[u8], out: &mut Vec<Event<'a>>) {
        let mut items = Vec::new();
        self.tls.record(rec, ctx.ts, &mut items);
        for item in items {
            // The summary events this stream always had, then the detail.
            match &item {
                Item::ClientHello(h) => {
                    self.tls_client = true;
                    out.push(Event::TlsClientHello {
                        frame: ctx.frame,
                        ts: ctx.ts,
                        src: ctx.src,
                        dst: ctx.dst,
                        sni: h.sni.clone(),
                    });
                }
                Item::ServerHello { .. } if !self.tls_client && !self.tls_server_reported => {
                    self.tls_server_reported = true;
                    out.push(ctx.tls_server(None));
                }
                Item::Alert { description, .. } if !self.tls_client => {
                    out.push(ctx.tls_server(Some(*description)));
                }
                _ => {}
            }
            let detail = match item {
                Item::ClientHello(h) => TlsDetail::ClientHello(h),
                Item::ServerHello { version } => TlsDetail::ServerHello { version },
                Item::Certificates { chain, count } => TlsDetail::Certificates { chain, count },
                Item::CertificateRequest => TlsDetail::CertificateRequest,
                Item::Alert { level, description } => TlsDetail::Alert { level, description },
            };
            out.push(ctx.tls(detail));
        }
    }

    /// Frame as much of `data` as possible; returns the bytes consumed. When `borrowed` is
    /// given it is `data` itself with the capture's lifetime, and frames borrow from it.
    fn run<'a>(
        &mut self,
        ctx: &Ctx,
        data: &[u8],
        borrowed: Option<&'a [u8]>,
        eof: bool,
        out: &mut Vec<Event<'a>>,
    ) -> usize {
        let mut pos = 0;
        while let Some(v) = data.get(pos..).filter(|v| !v.is_empty()) {
            let step = self.step(v, eof);
            if self.note_midstream_gap {
                self.note_midstream_gap = false;
                out.push(ctx.gap(0));
            }
            let (consumed, emit) = match step {
                Step::NeedMore => break,
                Step::Frame {
                    start,
                    end,
                    framing,
                } => (end, Some((pos + start, pos + end, framing))),
                Step::Unframed(n) => (n, Some((pos, pos + n, Framing::Unframed))),
                Step::Tls(n) => {
                    self.tls_record(ctx, v.get(..n).unwrap_or_default(), out);
                    (n, None)
                }
                Step::Drop(n) => (n, None),
            };
            if let Some((a, b, framing)) = emit {
                let bytes = match borrowed.and_then(|s| s.get(a..b)) {
                    Some(s) => Cow::Borrowed(s),
                    None => Cow::Owned(data.get(a..b).unwrap_or_default().to_vec()),
                };
                out.push(Event::Payload(Payload {
                    frame: ctx.frame,
                    ts: ctx.ts,
                    transport: Transport::Tcp,
                    framing,
                    src: ctx.src,
                    dst: ctx.dst,
                    data: bytes,
                }));
            }
            if consumed == 0 {
                break;
            }
            pos += consumed;
            self.scanned = 0;
        }
        pos
    }

    /// Next in-order bytes of the stream.
    pub fn push<'a>(&mut self, ctx: &Ctx, data: Cow<'a, [u8]>, out: &mut Vec<Event<'a>>) {
        if data.is_empty() {
            return;
        }
        if self.buf.is_empty() {
            let consumed = match &data {
                Cow::Borrowed(s) => self.run(ctx, s, Some(s), false, out),
                Cow::Owned(v) => self.run(ctx, v, None, false, out),
            };
            if let Some(rest) = data.get(consumed..) {
                self.buf.extend_from_slice(rest);
            }
        } else {
            self.buf.extend_from_slice(&data);
            self.run_buffer(ctx, false, out);
        }
    }

    fn run_buffer(&mut self, ctx: &Ctx, eof: bool, out: &mut Vec<Event<'_>>) {
        let buf = std::mem::take(&mut self.buf);
        let consumed = self.run(ctx, &buf, None, eof, out);
        self.buf = buf;
        self.buf.drain(..consumed.min(self.buf.len()));
    }

    /// Bytes are missing before whatever comes next: hand out what was pending and look for
    /// the next header.
    pub fn gap(&mut self, ctx: &Ctx, missing: u64, out: &mut Vec<Event<'_>>) {
        self.discard(ctx, out);
        out.push(ctx.gap(missing));
    }

    /// Drop what is pending (as an unframed chunk) and resynchronise.
    pub fn discard(&mut self, ctx: &Ctx, out: &mut Vec<Event<'_>>) {
        let tls = self.is_tls();
        if !self.buf.is_empty() && !tls {
            out.push(Event::Payload(Payload {
                frame: ctx.frame,
                ts: ctx.ts,
                transport: Transport::Tcp,
                framing: Framing::Unframed,
                src: ctx.src,
                dst: ctx.dst,
                data: Cow::Owned(std::mem::take(&mut self.buf)),
            }));
        }
        self.buf = Vec::new();
        self.scanned = 0;
        self.midstream_skipping = false;
        self.mode = match self.mode {
            Mode::Stun | Mode::Resync(Family::Stun) => Mode::Resync(Family::Stun),
            Mode::Rfc4571 | Mode::Resync(Family::Rfc4571) => Mode::Resync(Family::Rfc4571),
            Mode::Detect | Mode::Resync(Family::Any) => Mode::Resync(Family::Any),
            Mode::Tls | Mode::TlsLost => Mode::TlsLost,
            Mode::Dns | Mode::DnsLost => Mode::DnsLost,
            Mode::Http => Mode::Http,
        };
    }

    /// End of stream: frame what can be, hand the rest out unframed; a TLS stream says how
    /// much application data it carried.
    pub fn finish(&mut self, ctx: &Ctx, out: &mut Vec<Event<'_>>) {
        if !self.buf.is_empty() {
            self.run_buffer(ctx, true, out);
        }
        if !self.buf.is_empty() {
            let tls = self.is_tls();
            let rest = std::mem::take(&mut self.buf);
            if !tls {
                out.push(Event::Payload(Payload {
                    frame: ctx.frame,
                    ts: ctx.ts,
                    transport: Transport::Tcp,
                    framing: Framing::Unframed,
                    src: ctx.src,
                    dst: ctx.dst,
                    data: Cow::Owned(rest),
                }));
            }
        }
        self.buf = Vec::new();
        if self.is_tls() {
            out.push(ctx.tls(TlsDetail::Closed(self.tls.app)));
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn stun(ty: u16, body_len: usize, fill: u8) -> Vec<u8> {
        let mut m = ty.to_be_bytes().to_vec();
        m.extend_from_slice(&(body_len as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE.to_be_bytes());
        m.extend_from_slice(&[fill; 12]);
        m.extend(std::iter::repeat_n(fill, body_len));
        m
    }

    pub fn channel_data(ch: u16, len: usize, fill: u8) -> Vec<u8> {
        let mut m = ch.to_be_bytes().to_vec();
        m.extend_from_slice(&(len as u16).to_be_bytes());
        m.extend(std::iter::repeat_n(fill, round4(len)));
        m
    }

    fn ctx() -> Ctx {
        Ctx {
            frame: 1,
            ts: Timestamp(0),
            src: "10.0.0.1:1000".parse().unwrap(),
            dst: "10.0.0.2:3478".parse().unwrap(),
        }
    }

    /// (framing, bytes) of every payload; problems as ("problem", text).
    fn frames(chunks: &[&[u8]], gaps: &[usize]) -> Vec<(String, Vec<u8>)> {
        let mut f = Framer::default();
        let mut out = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            if gaps.contains(&i) {
                f.gap(&ctx(), 10, &mut out);
            }
            f.push(&ctx(), Cow::Borrowed(c), &mut out);
        }
        f.finish(&ctx(), &mut out);
        out.into_iter()
            .map(|e| match e {
                Event::Payload(p) => (format!("{:?}", p.framing), p.data.into_owned()),
                Event::TlsClientHello { sni, .. } => (format!("hello {sni:?}"), vec![]),
                Event::TlsServer { alert, .. } => (format!("server {alert:?}"), vec![]),
                Event::Tls(t) => {
                    let what = match &t.detail {
                        TlsDetail::Alert { level, description } => {
                            format!("Alert {level} {description}")
                        }
                        TlsDetail::Closed(a) => {
                            format!("Closed {} records {} bytes", a.records, a.bytes)
                        }
                        d => format!("{d:?}")
                            .split([' ', '(', '{'])
                            .next()
                            .unwrap_or("")
                            .to_string(),
                    };
                    (format!("tls {what}"), vec![])
                }
                Event::Problem(p) => (format!("problem {}", p.kind), vec![]),
                e => (format!("{e:?}"), vec![]),
            })
            .collect()
    }

    #[test]
    fn two_messages_in_one_segment_and_split_across_three() {
        let a = stun(0x0001, 8, 1);
        let b = stun(0x0101, 12, 2);
        let c = channel_data(0x4001, 5, 3);
        let mut s = a.clone();
        s.extend_from_slice(&b);
        s.extend_from_slice(&c);
        let r = frames(&[&s[..a.len() + b.len()], &s[a.len() + b.len()..]], &[]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0], ("Stream".into(), a.clone()));
        assert_eq!(r[1], ("Stream".into(), b.clone()));
        assert_eq!(r[2], ("Stream".into(), c.clone()));
        assert_eq!(c.len(), 12, "ChannelData padded to 4 on TCP");
        let r = frames(&[&s[..3], &s[3..30], &s[30..]], &[]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].1, b);
    }

    #[test]
    fn rfc4571() {
        let a = stun(0x0001, 8, 1);
        let rtp = vec![0x80u8; 33];
        let mut s = (a.len() as u16).to_be_bytes().to_vec();
        s.extend_from_slice(&a);
        s.extend_from_slice(&(rtp.len() as u16).to_be_bytes());
        s.extend_from_slice(&rtp);
        let r = frames(&[&s], &[]);
        assert_eq!(r, vec![("Rfc4571".into(), a), ("Rfc4571".into(), rtp)]);
    }

    #[test]
    fn tls_sni_and_no_payloads() {
        let mut s = tls::tests::client_hello("turn.example.net");
        s.extend_from_slice(&[0x17, 3, 3, 0, 3, 1, 2, 3]);
        let r = frames(&[&s[..7], &s[7..]], &[]);
        let kinds: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "hello Some(\"turn.example.net\")",
                "tls ClientHello",
                "tls Closed 1 records 3 bytes"
            ]
        );
    }

    #[test]
    fn tls_alerts_of_both_sides_and_certificates() {
        let der = [0x30u8, 0x00];
        let mut server = tls::tests::record(0x16, &tls::tests::server_hello(0x0303));
        server.extend(tls::tests::record(
            0x16,
            &tls::tests::certificate_msg(&[&der]),
        ));
        server.extend(tls::tests::record(0x15, &[2, 40]));
        let r = frames(&[&server], &[]);
        let kinds: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kinds,
            [
                "server None",
                "tls ServerHello",
                "tls Certificates",
                "server Some(40)",
                "tls Alert 2 40",
                "tls Closed 0 records 0 bytes"
            ]
        );
        // The client's alert is a detail event only (the summary events are the server's).
        let mut client = tls::tests::client_hello("join.example.com");
        client.extend(tls::tests::record(0x15, &[2, 48]));
        let r = frames(&[&client], &[]);
        assert!(r.iter().any(|(k, _)| k == "tls Alert 2 48"), "{r:?}");
        assert!(!r.iter().any(|(k, _)| k.starts_with("server")), "{r:?}");
    }

    #[test]
    fn dns_messages_framed_by_length() {
        let a = [0x12u8, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
        let mut s = (a.len() as u16).to_be_bytes().to_vec();
        s.extend_from_slice(&a);
        s.extend_from_slice(&[0, 0]); // an empty frame is dropped
        s.extend_from_slice(&(a.len() as u16).to_be_bytes());
        s.extend_from_slice(&a);
        s.extend_from_slice(&[0, 40, 1, 2]); // cut by the end of the stream
        let mut f = Framer::dns();
        let mut out = Vec::new();
        for c in s.chunks(3) {
            f.push(&ctx(), Cow::Borrowed(c), &mut out);
        }
        f.finish(&ctx(), &mut out);
        let got: Vec<(Framing, Vec<u8>)> = out
            .into_iter()
            .filter_map(|e| match e {
                Event::Payload(p) => Some((p.framing, p.data.into_owned())),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Framing::Dns, a.to_vec()),
                (Framing::Dns, a.to_vec()),
                (Framing::Unframed, vec![0, 40, 1, 2])
            ]
        );
    }

    #[test]
    fn http_is_handed_out_as_it_comes() {
        let head = b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://x/\r\n\r\n";
        let mut f = Framer::default();
        let mut out = Vec::new();
        f.push(&ctx(), Cow::Borrowed(&head[..]), &mut out);
        // Nothing waits for the end of the stream.
        assert!(
            matches!(&out[..], [Event::Payload(p)] if p.framing == Framing::Unframed && p.data.len() == head.len()),
            "{out:?}"
        );
    }

    #[test]
    fn gap_resyncs_on_next_header() {
        let a = stun(0x0001, 8, 1);
        let b = stun(0x0101, 4, 2);
        let c = channel_data(0x4001, 6, 3);
        let d = channel_data(0x4001, 7, 4);
        // First segment: a + half of b. Gap. Then the tail of some lost frame, c, d.
        let mut seg2 = vec![0x99u8; 7];
        seg2.extend_from_slice(&c);
        seg2.extend_from_slice(&d);
        let r = frames(&[&[a.clone(), b[..10].to_vec()].concat(), &seg2], &[1]);
        let kinds: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(r[0].1, a);
        assert_eq!(kinds[1], "Unframed");
        assert!(
            kinds[2].starts_with("problem TCP gap of 10 bytes"),
            "{kinds:?}"
        );
        assert_eq!(r[3], ("Unframed".into(), vec![0x99; 7]));
        assert_eq!(r[4], ("Stream".into(), c));
        assert_eq!(r[5], ("Stream".into(), d));
        assert_eq!(r.len(), 6);
    }

    #[test]
    fn junk_is_unframed_and_bounded() {
        let junk: Vec<u8> = (0..200_000u32)
            .map(|i| (i * 7 % 251) as u8 | 0x80)
            .collect();
        let r = frames(&junk.chunks(1000).collect::<Vec<_>>(), &[]);
        assert!(r
            .iter()
            .all(|(k, d)| k == "Unframed" && d.len() <= MAX_UNFRAMED));
        assert_eq!(r.iter().map(|(_, d)| d.len()).sum::<usize>(), junk.len());
        assert!(r.len() <= 4, "{}", r.len());
    }
}
