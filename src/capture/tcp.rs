//! TCP stream reassembly, one direction at a time, keyed by (source, destination) socket.
//!
//! Segments are put in sequence order (out-of-order ones wait, borrowed from the capture,
//! up to a bound), retransmitted and overlapping bytes are dropped, and when bytes are known
//! to be missing (too much waiting behind a hole, a segment cut by snaplen, RST, end of
//! capture) a [`ProblemKind::TcpGap`] is reported and the framer resynchronises. The in-order
//! byte stream goes to [`Framer`], which cuts it into STUN / ChannelData / RFC 4571 units, or
//! DNS messages when either end is port 53.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::ip::{TcpSegment, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN};
use super::stream::{Ctx, Framer};
use super::{Event, Problem, ProblemKind, TcpControl, Timestamp};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Out-of-order segments waiting behind a hole in one direction.
    pub max_ooo_segments: usize,
    /// Out-of-order bytes waiting behind a hole in one direction.
    pub max_ooo_bytes: usize,
    /// Directions tracked at once; the least recently seen are flushed beyond it.
    pub max_streams: usize,
    /// Bytes copied into partial-frame buffers across all streams.
    pub max_buffered_total: usize,
    /// How long (capture time) data may wait behind a hole before the hole is given up.
    pub hole_timeout_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_ooo_segments: 64,
            max_ooo_bytes: 1 << 20,
            max_streams: 100_000,
            max_buffered_total: 256 << 20,
            hole_timeout_ns: 2_000_000_000,
        }
    }
}

/// Far enough from 0 that sequence numbers before the first one seen stay positive.
const BASE: u64 = 1 << 40;
/// A segment this far ahead is not a hole to wait for: the stream is picked up again there.
const FAR: u64 = 1 << 30;
/// DNS over TCP (RFC 7766).
const DNS_PORT: u16 = 53;

#[derive(Debug)]
struct Seg<'a> {
    data: Cow<'a, [u8]>,
    missing_tail: u32,
    /// When it was put aside to wait for a hole to fill.
    ts: Timestamp,
}

impl Seg<'_> {
    fn wire_len(&self) -> u64 {
        self.data.len() as u64 + u64::from(self.missing_tail)
    }
}

#[derive(Debug)]
struct Dir<'a> {
    synced: bool,
    isn: Option<u32>,
    anchor_seq: u32,
    anchor_abs: u64,
    next_abs: u64,
    ooo: BTreeMap<u64, Seg<'a>>,
    ooo_bytes: usize,
    fin_abs: Option<u64>,
    closed: bool,
    framer: Framer,
    last_frame: u32,
    last_ts: Timestamp,
}

impl Default for Dir<'_> {
    fn default() -> Self {
        Dir {
            synced: false,
            isn: None,
            anchor_seq: 0,
            anchor_abs: BASE,
            next_abs: BASE,
            ooo: BTreeMap::new(),
            ooo_bytes: 0,
            fin_abs: None,
            closed: false,
            framer: Framer::default(),
            last_frame: 0,
            last_ts: Timestamp(0),
        }
    }
}

fn tail(c: Cow<'_, [u8]>, skip: usize) -> Cow<'_, [u8]> {
    match c {
        Cow::Borrowed(s) => Cow::Borrowed(s.get(skip..).unwrap_or_default()),
        Cow::Owned(mut v) => {
            v.drain(..skip.min(v.len()));
            Cow::Owned(v)
        }
    }
}

impl<'a> Dir<'a> {
    /// A new direction for the stream `src` -> `dst`: DNS framing when either end is port 53.
    fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        let mut d = Dir::default();
        if src.port() == DNS_PORT || dst.port() == DNS_PORT {
            d.framer = Framer::dns();
        }
        d
    }

    /// A fresh direction in place of this one (a new connection on the same ports), keeping
    /// what it knows of its stream: the last frame seen and the framing.
    fn restart(&self) -> Self {
        Dir {
            last_frame: self.last_frame,
            last_ts: self.last_ts,
            framer: if self.framer.is_dns() {
                Framer::dns()
            } else {
                Framer::default()
            },
            ..Dir::default()
        }
    }

    fn sync(&mut self, seq: u32, midstream: bool) {
        self.synced = true;
        self.anchor_seq = seq;
        self.anchor_abs = BASE;
        self.next_abs = BASE;
        self.framer.midstream = midstream;
    }

    fn next_seq(&self) -> u32 {
        self.anchor_seq
            .wrapping_add(self.next_abs.wrapping_sub(self.anchor_abs) as u32)
    }

    fn abs(&self, seq: u32) -> Option<u64> {
        let delta = i64::from(seq.wrapping_sub(self.next_seq()) as i32);
        u64::try_from(self.next_abs as i64 + delta).ok()
    }

    /// Deliver in-order bytes (and the gap of a snaplen-cut tail).
    fn deliver(&mut self, ctx: &Ctx, data: Cow<'a, [u8]>, missing: u64, out: &mut Vec<Event<'a>>) {
        self.next_abs += data.len() as u64;
        self.framer.push(ctx, data, out);
        if missing > 0 {
            self.framer.gap(ctx, missing, out);
            self.next_abs += missing;
        }
    }

    /// Deliver a segment starting at or before `next_abs`.
    fn deliver_seg(&mut self, ctx: &Ctx, start: u64, seg: Seg<'a>, out: &mut Vec<Event<'a>>) {
        let end = start + seg.wire_len();
        if end <= self.next_abs {
            return;
        }
        let skip = (self.next_abs - start) as usize;
        let have = seg.data.len();
        let data = tail(seg.data, skip);
        let missing = end - self.next_abs - (have.saturating_sub(skip)) as u64;
        self.deliver(ctx, data, missing, out);
    }

    fn drain(&mut self, ctx: &Ctx, out: &mut Vec<Event<'a>>) {
        while let Some(entry) = self.ooo.first_entry() {
            let start = *entry.key();
            if start > self.next_abs {
                break;
            }
            let seg = entry.remove();
            self.ooo_bytes = self.ooo_bytes.saturating_sub(seg.data.len());
            self.deliver_seg(ctx, start, seg, out);
        }
        if let Some(fin) = self.fin_abs {
            if self.next_abs >= fin && !self.closed {
                self.framer.finish(ctx, out);
                self.closed = true;
            }
        }
    }

    /// Give up waiting for the hole before the first out-of-order segment.
    fn skip_hole(&mut self, ctx: &Ctx, out: &mut Vec<Event<'a>>) {
        if let Some((&start, _)) = self.ooo.first_key_value() {
            if start > self.next_abs {
                self.framer.gap(ctx, start - self.next_abs, out);
                self.next_abs = start;
            }
        }
        self.drain(ctx, out);
    }

    fn data(
        &mut self,
        ctx: &Ctx,
        seq: u32,
        seg: Seg<'a>,
        limits: &Limits,
        out: &mut Vec<Event<'a>>,
    ) {
        if seg.wire_len() == 0 || self.closed {
            return;
        }
        let Some(start) = self.abs(seq) else {
            return;
        };
        if start + seg.wire_len() <= self.next_abs {
            return; // retransmission
        }
        if start <= self.next_abs {
            self.deliver_seg(ctx, start, seg, out);
            self.drain(ctx, out);
            return;
        }
        if start - self.next_abs >= FAR {
            // Not a hole but a different stream position (e.g. a new connection whose SYN
            // was not captured): flush and pick the stream up here.
            self.flush(ctx, out);
            *self = self.restart();
            self.sync(seq, true);
            self.data(ctx, seq, seg, limits, out);
            return;
        }
        self.ooo_bytes += seg.data.len();
        match self.ooo.get(&start) {
            Some(old) if old.wire_len() >= seg.wire_len() => {
                self.ooo_bytes -= seg.data.len();
            }
            _ => {
                if let Some(old) = self.ooo.insert(start, seg) {
                    self.ooo_bytes = self.ooo_bytes.saturating_sub(old.data.len());
                }
            }
        }
        self.check_holes(ctx, limits, out);
    }

    /// Give up holes that too much data, or data that waited too long, sits behind.
    fn check_holes(&mut self, ctx: &Ctx, limits: &Limits, out: &mut Vec<Event<'a>>) {
        while self.ooo.len() > limits.max_ooo_segments || self.ooo_bytes > limits.max_ooo_bytes {
            self.skip_hole(ctx, out);
        }
        while let Some((_, first)) = self.ooo.first_key_value() {
            if ctx.ts.0.saturating_sub(first.ts.0) <= limits.hole_timeout_ns {
                break;
            }
            self.skip_hole(ctx, out);
        }
    }

    /// The peer acknowledged `ack`: a hole it covers was received but not captured.
    fn acked(&mut self, ctx: &Ctx, ack: u32, out: &mut Vec<Event<'a>>) {
        if !self.synced || self.closed {
            return;
        }
        let Some(acked) = self.abs(ack) else {
            return;
        };
        while let Some((&start, _)) = self.ooo.first_key_value() {
            if start > acked || start <= self.next_abs {
                break;
            }
            self.skip_hole(ctx, out);
        }
    }

    /// Deliver everything still waiting, holes reported, and end the stream.
    fn flush(&mut self, ctx: &Ctx, out: &mut Vec<Event<'a>>) {
        while !self.ooo.is_empty() {
            self.skip_hole(ctx, out);
        }
        if !self.closed {
            self.framer.finish(ctx, out);
            self.closed = true;
        }
    }
}

/// Reassembles every TCP stream of a capture.
pub(crate) struct TcpReassembler<'a> {
    streams: HashMap<(SocketAddr, SocketAddr), Dir<'a>>,
    limits: Limits,
    buffered: usize,
}

impl Default for TcpReassembler<'_> {
    fn default() -> Self {
        TcpReassembler::new(Limits::default())
    }
}

impl<'a> TcpReassembler<'a> {
    pub fn new(limits: Limits) -> Self {
        TcpReassembler {
            streams: HashMap::new(),
            limits,
            buffered: 0,
        }
    }

    fn evict(&mut self, out: &mut Vec<Event<'a>>) {
        let mut all: Vec<(bool, u32, (SocketAddr, SocketAddr))> = self
            .streams
            .iter()
            .map(|(k, d)| (!d.closed, d.last_frame, *k))
            .collect();
        all.sort_unstable();
        let n = (all.len() / 4).max(1);
        for (_, _, key) in all.into_iter().take(n) {
            if let Some(mut d) = self.streams.remove(&key) {
                let ctx = Ctx {
                    frame: d.last_frame,
                    ts: d.last_ts,
                    src: key.0,
                    dst: key.1,
                };
                self.buffered = self.buffered.saturating_sub(d.framer.buffered());
                d.flush(&ctx, out);
            }
        }
    }

    pub fn segment(
        &mut self,
        frame: u32,
        ts: Timestamp,
        seg: TcpSegment<'a>,
        out: &mut Vec<Event<'a>>,
    ) {
        let key = (seg.src, seg.dst);
        let ctx = Ctx {
            frame,
            ts,
            src: seg.src,
            dst: seg.dst,
        };
        let control = |c| Event::Tcp {
            frame,
            ts,
            src: seg.src,
            dst: seg.dst,
            control: c,
        };
        let syn = seg.flags & TCP_SYN != 0;
        if syn {
            out.push(control(if seg.flags & TCP_ACK != 0 {
                TcpControl::SynAck
            } else {
                TcpControl::Syn
            }));
        }
        if !self.streams.contains_key(&key) && self.streams.len() >= self.limits.max_streams {
            self.evict(out);
        }
        let dir = self
            .streams
            .entry(key)
            .or_insert_with(|| Dir::new(seg.src, seg.dst));
        let before = dir.framer.buffered();
        dir.last_frame = frame;
        dir.last_ts = ts;
        let mut data_seq = seg.seq;
        if syn {
            data_seq = seg.seq.wrapping_add(1);
            if dir.synced && dir.isn != Some(seg.seq) {
                // The 4-tuple is reused by a new connection.
                dir.flush(&ctx, out);
                *dir = Dir {
                    last_frame: frame,
                    last_ts: ts,
                    ..dir.restart()
                };
            }
            if !dir.synced {
                dir.sync(data_seq, false);
                dir.isn = Some(seg.seq);
            }
        } else if !dir.synced {
            dir.sync(data_seq, true);
        }
        let wire_len = seg.data.len() as u64 + u64::from(seg.missing_tail);
        let fin_at = dir.abs(data_seq).map(|s| s + wire_len);
        dir.data(
            &ctx,
            data_seq,
            Seg {
                data: seg.data,
                missing_tail: seg.missing_tail,
                ts,
            },
            &self.limits,
            out,
        );
        if seg.flags & TCP_FIN != 0 && dir.fin_abs.is_none() {
            dir.fin_abs = fin_at;
            dir.drain(&ctx, out);
        }
        if seg.flags & TCP_RST != 0 {
            dir.flush(&ctx, out);
        }
        let after = dir.framer.buffered();
        self.buffered = (self.buffered + after).saturating_sub(before);
        if self.buffered > self.limits.max_buffered_total {
            let dropped = dir.framer.buffered();
            self.buffered = self.buffered.saturating_sub(dropped);
            dir.framer.discard(&ctx, out);
            out.push(Event::Problem(Problem {
                frame: Some(frame),
                kind: ProblemKind::Malformed {
                    layer: "TCP reassembly",
                    detail: format!("memory limit reached, {dropped} buffered bytes given up"),
                },
            }));
        }
        if seg.flags & TCP_ACK != 0 {
            if let Some(rev) = self.streams.get_mut(&(seg.dst, seg.src)) {
                let rctx = Ctx {
                    frame,
                    ts,
                    src: seg.dst,
                    dst: seg.src,
                };
                let before = rev.framer.buffered();
                rev.acked(&rctx, seg.ack, out);
                rev.check_holes(&rctx, &self.limits, out);
                self.buffered = (self.buffered + rev.framer.buffered()).saturating_sub(before);
            }
        }
        if seg.flags & TCP_RST != 0 {
            out.push(control(TcpControl::Rst));
        } else if seg.flags & TCP_FIN != 0 {
            out.push(control(TcpControl::Fin));
        }
    }

    /// End of capture: flush every stream, oldest activity first.
    pub fn finish(&mut self, out: &mut Vec<Event<'a>>) {
        let mut keys: Vec<(u32, (SocketAddr, SocketAddr))> = self
            .streams
            .iter()
            .map(|(k, d)| (d.last_frame, *k))
            .collect();
        keys.sort_unstable();
        for (_, key) in keys {
            if let Some(mut d) = self.streams.remove(&key) {
                let ctx = Ctx {
                    frame: d.last_frame,
                    ts: d.last_ts,
                    src: key.0,
                    dst: key.1,
                };
                d.flush(&ctx, out);
            }
        }
        self.buffered = 0;
    }

    #[cfg(test)]
    pub fn streams(&self) -> usize {
        self.streams.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::capture::stream::tests::{channel_data, stun};
    use crate::capture::Framing;
    use proptest::prelude::*;

    pub fn seg(seq: u32, flags: u8, data: &[u8]) -> TcpSegment<'_> {
        TcpSegment {
            src: "192.0.2.1:50000".parse().unwrap(),
            dst: "198.51.100.1:3478".parse().unwrap(),
            seq,
            ack: 0,
            flags,
            data: Cow::Borrowed(data),
            missing_tail: 0,
        }
    }

    fn run(segs: Vec<TcpSegment<'_>>) -> Vec<Event<'_>> {
        let mut r = TcpReassembler::default();
        let mut out = Vec::new();
        for (i, s) in segs.into_iter().enumerate() {
            r.segment(i as u32 + 1, Timestamp(i as i64), s, &mut out);
        }
        r.finish(&mut out);
        out
    }

    fn framed<'e>(ev: &'e [Event<'_>]) -> Vec<(Framing, &'e [u8])> {
        ev.iter()
            .filter_map(|e| match e {
                Event::Payload(p) if p.framing != Framing::Unframed => {
                    Some((p.framing, &p.data[..]))
                }
                _ => None,
            })
            .collect()
    }

    fn stream_bytes() -> (Vec<u8>, Vec<Vec<u8>>) {
        let msgs = vec![
            stun(0x0003, 16, 1),
            stun(0x0113, 40, 2),
            channel_data(0x4000, 13, 3),
            stun(0x0008, 0, 4),
            channel_data(0x4000, 100, 5),
            stun(0x0108, 8, 6),
        ];
        (msgs.concat(), msgs)
    }

    #[test]
    fn ordering_retransmission_gap() {
        let (s, msgs) = stream_bytes();
        let isn = 0xffff_fff0u32; // sequence numbers wrap inside the stream
        let base = isn.wrapping_add(1);
        let at = |o: usize| base.wrapping_add(o as u32);
        let mut segs = vec![seg(isn, TCP_SYN, b"")];
        // messages 0 and 1 in one segment; message 2 split in three, out of order and
        // retransmitted; message 3 lost; 4 and 5 arrive.
        let m01 = msgs[0].len() + msgs[1].len();
        let m2 = m01 + msgs[2].len();
        let m3 = m2 + msgs[3].len();
        segs.push(seg(at(0), TCP_ACK, &s[..m01]));
        segs.push(seg(at(m01 + 10), TCP_ACK, &s[m01 + 10..m2]));
        segs.push(seg(at(m01), TCP_ACK, &s[m01..m01 + 5]));
        segs.push(seg(at(m01), TCP_ACK, &s[m01..m01 + 5]));
        segs.push(seg(at(m01 + 5), TCP_ACK, &s[m01 + 5..m01 + 10]));
        segs.push(seg(at(0), TCP_ACK, &s[..m01]));
        segs.push(seg(at(m3), TCP_ACK | TCP_FIN, &s[m3..]));
        let ev = run(segs);
        let f = framed(&ev);
        let want: Vec<&[u8]> = vec![&msgs[0], &msgs[1], &msgs[2], &msgs[4], &msgs[5]];
        assert_eq!(f.iter().map(|(_, d)| *d).collect::<Vec<_>>(), want);
        let gaps: Vec<String> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Problem(p) => Some(p.kind.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            gaps,
            vec![format!(
                "TCP gap of {} bytes in 192.0.2.1:50000 -> 198.51.100.1:3478, resynchronised",
                msgs[3].len()
            )]
        );
        let controls: Vec<TcpControl> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Tcp { control, .. } => Some(*control),
                _ => None,
            })
            .collect();
        assert_eq!(controls, vec![TcpControl::Syn, TcpControl::Fin]);
        // The message completed by the third piece is reported at that frame (6).
        let Event::Payload(p) = ev
            .iter()
            .find(|e| matches!(e, Event::Payload(p) if p.data.len() == msgs[2].len()))
            .unwrap()
        else {
            unreachable!()
        };
        assert_eq!(p.frame, 6);
    }

    #[test]
    fn ack_beyond_a_hole_gives_it_up_at_once() {
        let (s, msgs) = stream_bytes();
        let m01 = msgs[0].len() + msgs[1].len();
        let m2 = m01 + msgs[2].len() + msgs[3].len();
        let mut r = TcpReassembler::default();
        let mut out = Vec::new();
        r.segment(1, Timestamp(0), seg(0, TCP_SYN, b""), &mut out);
        r.segment(
            2,
            Timestamp(0),
            seg(1, TCP_ACK, &s[..msgs[0].len()]),
            &mut out,
        );
        // msgs[1] lost; msgs[2] and msgs[3] arrive and wait behind the hole.
        r.segment(
            3,
            Timestamp(0),
            seg(1 + m01 as u32, TCP_ACK, &s[m01..m2]),
            &mut out,
        );
        assert_eq!(framed(&out).len(), 1);
        // The server acknowledges everything up to the end of msgs[3].
        let mut ack = seg(500, TCP_ACK, b"");
        std::mem::swap(&mut ack.src, &mut ack.dst);
        ack.ack = 1 + m2 as u32;
        r.segment(4, Timestamp(0), ack, &mut out);
        let f = framed(&out);
        assert_eq!(f.len(), 3);
        assert_eq!(f[1].1, &msgs[2][..]);
        assert_eq!(f[2].1, &msgs[3][..]);
        let Some(Event::Payload(p)) = out.iter().rev().find(|e| matches!(e, Event::Payload(_)))
        else {
            unreachable!()
        };
        assert_eq!(p.frame, 4);
    }

    #[test]
    fn hole_given_up_after_timeout() {
        let (s, msgs) = stream_bytes();
        let m01 = msgs[0].len() + msgs[1].len();
        let m2 = m01 + msgs[2].len();
        let mut r = TcpReassembler::default();
        let mut out = Vec::new();
        r.segment(1, Timestamp(0), seg(0, TCP_SYN, b""), &mut out);
        r.segment(
            2,
            Timestamp(0),
            seg(1 + m01 as u32, TCP_ACK, &s[m01..m2]),
            &mut out,
        );
        r.segment(
            3,
            Timestamp(1_000_000_000),
            seg(1 + m2 as u32, TCP_ACK, &s[m2..m2 + 4]),
            &mut out,
        );
        assert_eq!(framed(&out).len(), 0);
        r.segment(
            4,
            Timestamp(3_000_000_000),
            seg(1 + m2 as u32 + 4, TCP_ACK, &s[m2 + 4..m2 + 8]),
            &mut out,
        );
        assert_eq!(framed(&out).len(), 1);
    }

    #[test]
    fn midstream_start_resyncs() {
        let (s, msgs) = stream_bytes();
        let skip = 9; // the capture starts inside message 0
        let ev = run(vec![seg(1000, TCP_ACK, &s[skip..])]);
        let f = framed(&ev);
        assert_eq!(f.len(), msgs.len() - 1);
        assert!(ev.iter().any(|e| matches!(
            e,
            Event::Problem(Problem {
                kind: ProblemKind::TcpGap { missing: 0, .. },
                ..
            })
        )));
    }

    #[test]
    fn port_53_is_dns_framing_even_after_port_reuse() {
        let msg = [0xabu8, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1];
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&msg);
        fn dns(s: TcpSegment<'_>) -> TcpSegment<'_> {
            TcpSegment {
                dst: "198.51.100.53:53".parse().unwrap(),
                ..s
            }
        }
        let data = &framed[..];
        let ev = run(vec![
            dns(seg(100, TCP_SYN, b"")),
            dns(seg(101, TCP_ACK, &data[..4])),
            dns(seg(105, TCP_ACK, &data[4..])),
            // A new connection on the same ports (another SYN, another ISN).
            dns(seg(9000, TCP_SYN, b"")),
            dns(seg(9001, TCP_ACK, data)),
        ]);
        let got: Vec<(Framing, &[u8])> = ev
            .iter()
            .filter_map(|e| match e {
                Event::Payload(p) => Some((p.framing, &p.data[..])),
                _ => None,
            })
            .collect();
        assert_eq!(
            got,
            vec![(Framing::Dns, &msg[..]), (Framing::Dns, &msg[..])]
        );
    }

    #[test]
    fn snaplen_cut_segment_is_a_gap() {
        let (s, msgs) = stream_bytes();
        let m01 = msgs[0].len() + msgs[1].len();
        let mut cut = seg(1, TCP_ACK, &s[..m01 - 10]);
        cut.missing_tail = 10;
        let ev = run(vec![
            seg(0, TCP_SYN, b""),
            cut,
            seg(1 + m01 as u32, TCP_ACK, &s[m01..]),
        ]);
        let f = framed(&ev);
        assert_eq!(f.len(), msgs.len() - 1);
        assert_eq!(f[0].1, &msgs[0][..]);
        assert_eq!(f[1].1, &msgs[2][..]);
    }

    #[test]
    fn bounded_streams_and_out_of_order() {
        let mut r = TcpReassembler::new(Limits {
            max_ooo_segments: 4,
            max_ooo_bytes: 100,
            max_streams: 10,
            max_buffered_total: 1000,
            hole_timeout_ns: 1_000_000,
        });
        let mut out = Vec::new();
        let data = [0u8; 50];
        for i in 0..100u16 {
            let mut s = seg(0, TCP_SYN, b"");
            s.src = SocketAddr::new(s.src.ip(), i);
            r.segment(1, Timestamp(0), s, &mut out);
        }
        assert!(r.streams() <= 10);
        for i in 0..100u32 {
            r.segment(
                2,
                Timestamp(0),
                seg(1000 + i * 100, TCP_ACK, &data),
                &mut out,
            );
        }
        r.finish(&mut out);
    }

    fn shuffle_cuts(total: usize, cuts: &[usize], order: &[usize]) -> Vec<(usize, usize)> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (total + 1)).collect();
        points.push(0);
        points.push(total);
        points.sort_unstable();
        points.dedup();
        let mut pieces: Vec<(usize, usize)> = points.windows(2).map(|w| (w[0], w[1])).collect();
        for (i, o) in order.iter().enumerate() {
            let n = pieces.len();
            pieces.swap(i % n, o % n);
        }
        pieces
    }

    proptest! {
        #[test]
        fn any_order_any_segmentation(
            cuts in proptest::collection::vec(0usize..2000, 0..30),
            order in proptest::collection::vec(0usize..64, 0..40),
            dup in proptest::collection::vec(0usize..64, 0..5),
            isn in any::<u32>(),
        ) {
            let (s, msgs) = stream_bytes();
            let pieces = shuffle_cuts(s.len(), &cuts, &order);
            let base = isn.wrapping_add(1);
            let mut segs = vec![seg(isn, TCP_SYN, b"")];
            for (a, b) in &pieces {
                segs.push(seg(base.wrapping_add(*a as u32), TCP_ACK, &s[*a..*b]));
            }
            for d in dup {
                let (a, b) = pieces[d % pieces.len()];
                segs.push(seg(base.wrapping_add(a as u32), TCP_ACK, &s[a..b]));
            }
            let ev = run(segs);
            let f: Vec<&[u8]> = framed(&ev).into_iter().map(|(_, d)| d).collect();
            let want: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
            prop_assert_eq!(f, want);
            prop_assert!(!ev.iter().any(|e| matches!(e, Event::Problem(_))));
        }

        #[test]
        fn arbitrary_segments_never_panic(
            segs in proptest::collection::vec((any::<u32>(), any::<u8>(), proptest::collection::vec(any::<u8>(), 0..200)), 0..40),
        ) {
            let segs: Vec<TcpSegment<'_>> = segs.iter().map(|(seq, flags, d)| seg(*seq, *flags, d)).collect();
            let _ = run(segs);
        }

        #[test]
        fn arbitrary_stream_same_framing_any_cut(
            bytes in proptest::collection::vec(any::<u8>(), 0..3000),
            cuts in proptest::collection::vec(0usize..3000, 0..20),
        ) {
            // Whatever the bytes, the framed output does not depend on segmentation.
            let whole = run(vec![seg(0, TCP_SYN, b""), seg(1, TCP_ACK, &bytes)]);
            let pieces = shuffle_cuts(bytes.len(), &cuts, &[]);
            let mut segs = vec![seg(0, TCP_SYN, b"")];
            for (a, b) in pieces {
                segs.push(seg(1 + a as u32, TCP_ACK, &bytes[a..b]));
            }
            let split = run(segs);
            prop_assert_eq!(framed(&whole), framed(&split));
        }
    }
}
