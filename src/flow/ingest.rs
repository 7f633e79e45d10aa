//! Capture events -> [`CaptureFlows`]: one pass, in frame order, keeping compact summaries.

use std::net::SocketAddr;

use crate::capture::{DatagramScan, Event, Framing, Payload, Timestamp, Transport};
use crate::decode::{self, Body, Carrier};
use crate::wire::{Class, Decoded, Message, Method};

use super::budget::{
    direction_counter, flow_of, Budget, Pending, EVENTS_KEPT, RESPONSES_KEPT, SIGHTINGS_KEPT,
};
use super::credcheck::{CredentialCheck, Left};
use super::msg::Msg;
use super::{
    CaptureFlows, ChannelKey, Counter, FlowOptions, HashMap, MalformedSeen, TcpSeen, TlsSeen,
    Transaction, TupleKey, UnreachableSeen,
};

/// Most malformed messages / problems kept with their details (all are counted).
const KEEP_DETAILS: usize = 2000;

/// Longest TLS server name kept (a DNS name has at most 253 characters).
const MAX_SNI: usize = 255;

/// What a ChannelBind request binds: (client, server, channel) -> peer.
#[derive(Debug, Clone, Copy)]
struct Bound {
    client: SocketAddr,
    server: SocketAddr,
    channel: u16,
    peer: SocketAddr,
}

fn binding(req: &Msg) -> Option<Bound> {
    Some(Bound {
        client: req.src,
        server: req.dst,
        channel: req.channel?,
        peer: *req.peers.first()?,
    })
}

/// Builds the flows of one capture from its events.
pub struct Ingest<'o> {
    flows: CaptureFlows,
    /// Transactions by id. Ids are 12 bytes the sender chooses: keyed SipHash (std's), not the
    /// fast unkeyed hash of the packet counters, whose buckets sequential or crafted ids
    /// crowd (400 MB of sequential Binding transactions took minutes to file).
    txmap: std::collections::HashMap<crate::wire::TransactionId, u32>,
    /// Allocation 5-tuple (client, server) -> relayed address, from Allocate successes.
    relayed: HashMap<(SocketAddr, SocketAddr), SocketAddr>,
    /// (client, server, channel) -> peer, from ChannelBind successes.
    channels: HashMap<(SocketAddr, SocketAddr, u16), SocketAddr>,
    /// REALMs of the server's challenges (401/438), for the realm-mismatch tries.
    challenge_realms: Vec<String>,
    credentials: CredentialCheck<'o>,
    budget: Budget,
}

impl<'o> Ingest<'o> {
    /// An empty builder for the capture named `name`.
    pub fn new(name: &str, opts: &'o FlowOptions) -> Self {
        Ingest {
            flows: CaptureFlows {
                name: name.to_string(),
                ..CaptureFlows::default()
            },
            txmap: std::collections::HashMap::new(),
            relayed: HashMap::default(),
            channels: HashMap::default(),
            challenge_realms: Vec::new(),
            credentials: CredentialCheck::new(opts),
            budget: Budget::default(),
        }
    }

    /// One stretch of a [`CaptureFile::scan`](crate::capture::CaptureFile::scan) with
    /// [`OrderFree`]: its counts are added, and the messages it summarised are filed in frame
    /// order among the stretch's other events.
    pub fn stretch(&mut self, part: OrderFreePart<'_>, frame_base: u32, events: &[Event<'_>]) {
        let OrderFreePart {
            counts_v4,
            mut counts,
            send_ind,
            data_ind,
            carried_stun,
            stun_messages,
            msgs,
            first_ts,
            last_ts,
            max_frame,
            credentials: _,
            unverified,
        } = part;
        counts.extend(counts_v4.into_iter().map(|(k, v)| (unpack_v4(k), v)));
        let f = &mut self.flows;
        for ((tuple, channel), (traffic, frames)) in &counts {
            match direction_counter(&mut f.traffic, *tuple) {
                Some(kept) => kept.absorb(traffic, frame_base),
                None => f.summarised.beyond_directions += traffic.packets,
            }
            if let Some(channel) = *channel {
                let key = ChannelKey {
                    src: tuple.src,
                    dst: tuple.dst,
                    transport: tuple.transport,
                    channel,
                };
                f.channel_data
                    .entry(key)
                    .or_default()
                    .absorb(frames, frame_base);
            }
        }
        for (k, c) in &send_ind {
            f.send_ind.entry(*k).or_default().absorb(c, frame_base);
        }
        for (k, c) in &data_ind {
            f.data_ind.entry(*k).or_default().absorb(c, frame_base);
        }
        for (k, n) in carried_stun {
            *f.carried_stun.entry(k).or_default() += n;
        }
        f.stun_messages += stun_messages;
        let last_frame = max_frame.saturating_add(frame_base);
        for ts in [first_ts, last_ts].into_iter().flatten() {
            self.seen_ts(ts, last_frame);
        }
        let mut unverified = unverified.into_iter().peekable();
        let mut msgs = msgs
            .into_iter()
            .enumerate()
            .map(|(i, mut m)| {
                m.frame = m.frame.saturating_add(frame_base);
                let left = unverified.next_if(|u| u.msg_index == i);
                (m, left)
            })
            .peekable();
        for ev in events {
            if let Some(frame) = ev.frame() {
                while let Some((m, left)) = msgs.next_if(|(m, _)| m.frame < frame) {
                    self.push_taken(m, left);
                }
            }
            self.event(ev);
        }
        for (m, left) in msgs {
            self.push_taken(m, left);
        }
    }

    /// File a message a stretch summarised, once tried with the challenge realms seen before
    /// it if it verified with no other realm.
    fn push_taken(&mut self, mut s: Msg, left: Option<Unverified>) {
        if let Some(u) = left {
            if let Ok(m) = Message::parse(&u.bytes) {
                self.credentials
                    .check_challenged(&m, &mut s, &self.challenge_realms);
            }
        }
        self.push_msg(s);
    }

    /// Feed a batch of events (frame order).
    pub fn events(&mut self, batch: &[Event<'_>]) {
        for ev in batch {
            self.event(ev);
        }
    }

    fn seen_ts(&mut self, ts: Timestamp, frame: u32) {
        let f = &mut self.flows;
        if f.first_ts.is_none_or(|t| ts < t) {
            f.first_ts = Some(ts);
        }
        if f.last_ts.is_none_or(|t| ts > t) {
            f.last_ts = Some(ts);
        }
        f.max_frame = f.max_frame.max(frame);
    }

    /// File one capture event (payload, ICMP, TCP control, TLS, problem); call in frame order.
    pub fn event(&mut self, ev: &Event<'_>) {
        match ev {
            Event::Payload(p) => self.payload(p),
            Event::Unreachable {
                frame,
                ts,
                reporter,
                kind,
                quoted_transport,
                quoted_src,
                quoted_dst,
                quoted_payload,
            } => {
                self.seen_ts(*ts, *frame);
                if !self.event_kept(*frame, self.flows.unreachable.len()) {
                    return;
                }
                let quoted = Message::parse(quoted_payload)
                    .ok()
                    .map(|m| (m.transaction_id(), m.method(), m.class()));
                self.flows.unreachable.push(UnreachableSeen {
                    frame: *frame,
                    ts: *ts,
                    reporter: *reporter,
                    kind: *kind,
                    transport: *quoted_transport,
                    src: *quoted_src,
                    dst: *quoted_dst,
                    stun: quoted,
                });
            }
            Event::Tcp {
                frame,
                ts,
                src,
                dst,
                control,
            } => {
                self.seen_ts(*ts, *frame);
                if !self.event_kept(*frame, self.flows.tcp.len()) {
                    return;
                }
                self.flows.tcp.push(TcpSeen {
                    frame: *frame,
                    ts: *ts,
                    src: *src,
                    dst: *dst,
                    control: *control,
                });
            }
            Event::TlsClientHello {
                frame,
                ts,
                src,
                dst,
                sni,
            } => {
                self.seen_ts(*ts, *frame);
                if !self.event_kept(*frame, self.flows.tls.len()) {
                    return;
                }
                self.flows.tls.push(TlsSeen {
                    frame: *frame,
                    ts: *ts,
                    src: *src,
                    dst: *dst,
                    hello: true,
                    sni: sni
                        .as_deref()
                        .map(|n| super::msg::truncate(n, MAX_SNI).to_string()),
                    alert: None,
                });
            }
            Event::TlsServer {
                frame,
                ts,
                src,
                dst,
                alert,
            } => {
                self.seen_ts(*ts, *frame);
                if !self.event_kept(*frame, self.flows.tls.len()) {
                    return;
                }
                self.flows.tls.push(TlsSeen {
                    frame: *frame,
                    ts: *ts,
                    src: *src,
                    dst: *dst,
                    hello: false,
                    sni: None,
                    alert: *alert,
                });
            }
            Event::Tls(t) => {
                self.seen_ts(t.ts, t.frame);
                self.flows.tls_conns.event(t);
            }
            Event::Problem(p) => {
                self.flows.problem_count += 1;
                if self.flows.problems.len() < KEEP_DETAILS {
                    self.flows.problems.push((p.frame, p.kind.to_string()));
                }
            }
        }
    }

    /// May another event be kept in a list that holds `kept` (else it is counted)?
    fn event_kept(&mut self, frame: u32, kept: usize) -> bool {
        if kept < EVENTS_KEPT {
            return true;
        }
        self.flows.summarised.events += 1;
        self.flows.summarised.note(frame);
        false
    }

    fn payload(&mut self, p: &Payload<'_>) {
        self.seen_ts(p.ts, p.frame);
        let len = p.data.len() as u64;
        let direction = TupleKey {
            src: p.src,
            dst: p.dst,
            transport: p.transport,
        };
        match direction_counter(&mut self.flows.traffic, direction) {
            Some(kept) => kept.add(p.frame, p.ts, len),
            None => self.flows.summarised.beyond_directions += 1,
        }
        // DNS (port 53) and plain HTTP answers are not STUN: read for the web findings.
        if super::dns::is_dns(p) {
            self.flows.dns.payload(p);
            return;
        }
        self.flows.http.payload(p);
        // Fast path for relayed media: ChannelData counted without the generic decode.
        if p.framing != crate::capture::Framing::Unframed
            && p.data.first().is_some_and(|b| (0x40..=0x7F).contains(b))
            && self.channel_data_frames(p, true)
        {
            return;
        }
        let mut records = Vec::new();
        if decode::decode_payload(p, &mut records).is_some() {
            // RFC 5766 allowed channels 0x4000-0x7FFF; RFC 7983 demultiplexing only knows
            // 0x4000-0x4FFF. Frames on a channel bound on this 5-tuple are ChannelData.
            self.channel_data_frames(p, false);
            return;
        }
        // The carrier of the next carried message (peer address, channel).
        let mut carrier: (Option<SocketAddr>, Option<u16>) = (None, None);
        for r in &records {
            match &r.body {
                Body::Stun(m) => {
                    if r.carried_in.is_none() {
                        carrier = (None, None);
                        self.wire_indication(m, p, &mut carrier);
                    }
                    if r.carried_in.is_none()
                        && m.class() == Class::Indication
                        && matches!(m.method(), Method::SEND | Method::DATA)
                    {
                        // Counted as relayed data, not kept as a message.
                        self.flows.stun_messages += 1;
                        continue;
                    }
                    self.flows.stun_messages += 1;
                    let mut s =
                        Msg::summarise(m, r.frame, r.ts, r.transport, r.src, r.dst, r.carried_in);
                    if r.carried_in.is_some() {
                        *self
                            .flows
                            .carried_stun
                            .entry(TupleKey {
                                src: p.src,
                                dst: p.dst,
                                transport: p.transport,
                            })
                            .or_default() += 1;
                        s.carrier_peer = carrier.0;
                        s.carrier_channel = carrier.1;
                    }
                    self.check_credentials(m, &mut s);
                    self.push_msg(s);
                }
                Body::ChannelData(c) => {
                    let key = ChannelKey {
                        src: p.src,
                        dst: p.dst,
                        transport: p.transport,
                        channel: c.channel,
                    };
                    self.flows.channel_data.entry(key).or_default().add(
                        p.frame,
                        p.ts,
                        c.data.len() as u64,
                    );
                    let peer = self
                        .channels
                        .get(&(p.src, p.dst, c.channel))
                        .or_else(|| self.channels.get(&(p.dst, p.src, c.channel)))
                        .copied();
                    carrier = (peer, Some(c.channel));
                }
                Body::Malformed(e) => {
                    self.flows.malformed_count += 1;
                    if self.flows.malformed.len() < KEEP_DETAILS {
                        self.flows.malformed.push(MalformedSeen {
                            frame: r.frame,
                            ts: r.ts,
                            src: r.src,
                            dst: r.dst,
                            transport: r.transport,
                            reason: e.error.to_string(),
                        });
                    }
                }
            }
        }
    }

    /// Count ChannelData frames (and summarise STUN carried in them). A frame counts when its
    /// channel was bound by a ChannelBind on this 5-tuple, or, with `fast`, when it is in the
    /// RFC 8656 range 0x4000-0x4FFF and the payload is exactly one frame. Returns true if the
    /// payload was consumed.
    fn channel_data_frames(&mut self, p: &Payload<'_>, fast: bool) -> bool {
        let data: &[u8] = &p.data;
        if fast {
            let Some(h) = data.get(..4) else { return false };
            let ch = u16::from_be_bytes([h[0], h[1]]);
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let whole = data.len() >= 4 + len && data.len() - (4 + len) < 4;
            let known = (0x4000..=0x4FFF).contains(&ch)
                || self.channels.contains_key(&(p.src, p.dst, ch))
                || self.channels.contains_key(&(p.dst, p.src, ch));
            if !whole || !known {
                return false;
            }
        } else if self.channels.is_empty() {
            return false;
        }
        let stream = p.transport != crate::capture::Transport::Udp;
        let mut at = 0usize;
        while let Some(h) = data.get(at..at + 4) {
            let ch = u16::from_be_bytes([h[0], h[1]]);
            let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
            let bound = (0x4000..=0x7FFF).contains(&ch)
                && (fast
                    || self.channels.contains_key(&(p.src, p.dst, ch))
                    || self.channels.contains_key(&(p.dst, p.src, ch)));
            let Some(body) = data.get(at + 4..at + 4 + len).filter(|_| bound) else {
                return at > 0;
            };
            let key = ChannelKey {
                src: p.src,
                dst: p.dst,
                transport: p.transport,
                channel: ch,
            };
            self.flows
                .channel_data
                .entry(key)
                .or_default()
                .add(p.frame, p.ts, len as u64);
            if let Some(inner) = crate::wire::decode_carried(body) {
                let peer = self
                    .channels
                    .get(&(p.src, p.dst, ch))
                    .or_else(|| self.channels.get(&(p.dst, p.src, ch)))
                    .copied();
                *self
                    .flows
                    .carried_stun
                    .entry(TupleKey {
                        src: p.src,
                        dst: p.dst,
                        transport: p.transport,
                    })
                    .or_default() += 1;
                self.flows.stun_messages += 1;
                let mut s = Msg::summarise(
                    &inner,
                    p.frame,
                    p.ts,
                    p.transport,
                    p.src,
                    p.dst,
                    Some(crate::decode::Carrier::ChannelData),
                );
                s.carrier_peer = peer;
                s.carrier_channel = Some(ch);
                self.check_credentials(&inner, &mut s);
                self.push_msg(s);
            }
            at += 4 + len;
            if stream && !fast {
                at = (at + 3) & !3;
            } else {
                return true;
            }
        }
        at > 0
    }

    /// Count Send/Data indications per direction and remember their peer for what they carry.
    fn wire_indication(
        &mut self,
        m: &Message<'_>,
        p: &Payload<'_>,
        carrier: &mut (Option<SocketAddr>, Option<u16>),
    ) {
        let Some((method, peer, data_len)) = relayed_data(m) else {
            return;
        };
        *carrier = (peer, None);
        let map = if method == Method::SEND {
            &mut self.flows.send_ind
        } else {
            &mut self.flows.data_ind
        };
        map.entry(TupleKey {
            src: p.src,
            dst: p.dst,
            transport: p.transport,
        })
        .or_default()
        .add(p.frame, p.ts, data_len);
    }

    /// The offline integrity check of a signed request or indication, all of it here in
    /// frame order (see [`super::credcheck`]).
    fn check_credentials(&mut self, m: &Message<'_>, s: &mut Msg) {
        if self.credentials.check(m, s) == Left::ChallengeRealms {
            self.credentials
                .check_challenged(m, s, &self.challenge_realms);
        }
    }

    /// File a message: with its transaction, as a new transaction if the budget allows,
    /// else as a transaction beyond the budget (see [`super::budget`]).
    fn push_msg(&mut self, mut s: Msg) {
        self.budget.share_strings(&mut s);
        if s.class == Class::Error && matches!(s.error, Some(401) | Some(438)) {
            if let Some(r) = &s.realm {
                if !self.challenge_realms.iter().any(|x| **x == **r) {
                    self.challenge_realms.push(r.to_string());
                }
            }
        }
        for p in self.budget.due(s.ts) {
            self.resolve(p);
        }
        if s.class == Class::Indication {
            if self.budget.admit(flow_of(&s), None) {
                self.flows.msgs.push(s);
            } else {
                self.flows.summarised.indications += 1;
                self.flows.summarised.note(s.frame);
            }
            return;
        }
        if let Some(&t) = self.txmap.get(&s.txid) {
            self.file(t, s);
            return;
        }
        let bound = self
            .budget
            .pending(&s.txid)
            .and_then(|p| p.request().and_then(binding));
        self.learn(&s, bound);
        if let Some(p) = self.budget.pending_mut(&s.txid) {
            p.add(s);
            return;
        }
        let t = self.flows.transactions.len() as u32;
        if self.budget.admit(flow_of(&s), Some(t)) {
            self.flows
                .transactions
                .push(Transaction::new(s.txid, s.method));
            self.txmap.insert(s.txid, t);
            self.file(t, s);
        } else {
            self.budget.start_pending(s, &mut self.flows.summarised);
        }
    }

    /// File a message with kept transaction `t`, within what a transaction keeps.
    fn file(&mut self, t: u32, s: Msg) {
        let f = &mut self.flows;
        let Some(tx) = f.transactions.get(t as usize) else {
            return;
        };
        let msg = |i: &u32| f.msgs.get(*i as usize);
        let answered_before = tx
            .responses
            .first()
            .and_then(msg)
            .is_some_and(|r| r.ts < s.ts);
        let has_success = tx
            .responses
            .iter()
            .filter_map(msg)
            .any(|r| r.class == Class::Success);
        let bound = tx.requests.first().and_then(msg).and_then(binding);
        let keep = if s.class == Class::Request {
            tx.requests.len() < SIGHTINGS_KEPT
        } else {
            tx.responses.len() < RESPONSES_KEPT || (s.class == Class::Success && !has_success)
        };
        if s.class != Class::Request {
            self.learn(&s, bound);
        }
        let f = &mut self.flows;
        let idx = f.msgs.len() as u32;
        let Some(tx) = f.transactions.get_mut(t as usize) else {
            return;
        };
        match (keep, s.class == Class::Request) {
            (true, true) => tx.requests.push(idx),
            (true, false) => tx.responses.push(idx),
            (false, is_request) => {
                if is_request {
                    tx.more_requests = tx.more_requests.saturating_add(1);
                    tx.more_after_response += u32::from(answered_before);
                }
                f.summarised.sightings += 1;
                f.summarised.note(s.frame);
                return;
            }
        }
        f.msgs.push(s);
    }

    /// Learn allocation state from a response for what follows: relayed addresses of
    /// Allocate successes, channels of ChannelBind successes (`bound`: the channel its request
    /// asked for).
    fn learn(&mut self, s: &Msg, bound: Option<Bound>) {
        if s.class != Class::Success || s.carried.is_some() {
            return;
        }
        if s.method == Method::ALLOCATE {
            if let Some(r) = s.relayed {
                self.relayed.insert((s.dst, s.src), r);
            }
        }
        if s.method == Method::CHANNEL_BIND {
            if let Some(b) = bound {
                self.channels
                    .insert((b.client, b.server, b.channel), b.peer);
            }
        }
    }

    /// A transaction beyond the budget is complete: counted, or kept as the first of its kind.
    fn resolve(&mut self, p: Pending) {
        if let Some(t) = self.budget.resolve(p, &mut self.flows) {
            if let Some(tx) = self.flows.transactions.get(t as usize) {
                self.txmap.insert(tx.txid, t);
            }
        }
    }

    /// Frames the reader counted (when unset, the highest frame number seen is used).
    pub fn set_frames(&mut self, frames: u64) {
        self.flows.frames = frames;
    }

    /// Link-layer types of the capture's interfaces (pcap LINKTYPE_* numbers).
    pub fn set_link_types(&mut self, links: Vec<u32>) {
        self.flows.link_types = links;
    }

    /// Resolve what waits on the budget, build the allocations, and hand over the flows.
    pub fn finish(mut self) -> CaptureFlows {
        if self.flows.frames == 0 {
            self.flows.frames = u64::from(self.flows.max_frame);
        }
        for p in self.budget.drain() {
            self.resolve(p);
        }
        self.flows.relayed_by_tuple = self.relayed.into_iter().collect();
        self.flows.build_allocations();
        self.flows
    }
}

impl Counter {
    /// Count one packet. First and last go by frame number, so counts made in parallel
    /// stretches and absorbed later agree with counting in frame order.
    pub fn add(&mut self, frame: u32, ts: Timestamp, bytes: u64) {
        if self.packets == 0 || frame < self.first_frame {
            self.first_frame = frame;
            self.first_ts = ts;
        }
        if self.packets == 0 || frame >= self.last_frame {
            self.last_frame = frame;
            self.last_ts = ts;
        }
        self.packets += 1;
        self.bytes += bytes;
    }

    /// Add the counts of another stretch, whose frame numbers start after `frame_base`.
    fn absorb(&mut self, o: &Counter, frame_base: u32) {
        if o.packets == 0 {
            return;
        }
        let (first, last) = (
            o.first_frame.saturating_add(frame_base),
            o.last_frame.saturating_add(frame_base),
        );
        if self.packets == 0 || first < self.first_frame {
            self.first_frame = first;
            self.first_ts = o.first_ts;
        }
        if self.packets == 0 || last >= self.last_frame {
            self.last_frame = last;
            self.last_ts = o.last_ts;
        }
        self.packets += o.packets;
        self.bytes += o.bytes;
    }
}

/// The datagrams whose effect on the flows does not depend on what came before them, handled
/// stretch by stretch in parallel ([`CaptureFile::scan`](crate::capture::CaptureFile::scan)):
/// ChannelData frames that carry no STUN, payloads that are neither STUN nor ChannelData
/// (media and DTLS to and from relays), and STUN messages, summarised and checked against the
/// credentials here and filed into transactions later in frame order ([`Ingest::stretch`]).
/// Everything else goes through [`Ingest::events`] in frame order.
#[derive(Debug, Clone, Copy, Default)]
pub struct OrderFree<'o> {
    /// Take STUN datagrams too (false: every STUN message is filed one by one in frame order,
    /// the reference the tests compare with).
    pub stun: bool,
    /// The credentials to check signed messages with (none: no checks). The realms of the
    /// server's challenges seen before a message are tried in frame order, in
    /// [`Ingest::stretch`], on the messages that verified with no other.
    pub options: Option<&'o FlowOptions>,
}

impl<'o> OrderFree<'o> {
    /// Order-free handling of STUN too, checked with `opts`' credentials.
    pub fn for_options(opts: &'o FlowOptions) -> OrderFree<'o> {
        OrderFree {
            stun: true,
            options: Some(opts),
        }
    }
}

/// A message of a stretch left for the challenge realms: a copy of its bytes (the stretch's
/// mapped pages are released once it is walked), and where its summary is in the stretch's
/// messages.
#[derive(Debug)]
struct Unverified {
    msg_index: usize,
    bytes: Box<[u8]>,
}

/// What [`OrderFree`] counted in one stretch (frame numbers relative to the stretch).
#[derive(Default)]
pub struct OrderFreePart<'o> {
    /// Per direction and channel (`None`: not ChannelData): all payloads, and the ChannelData
    /// frames. One lookup a datagram; the per-direction totals are summed when absorbed.
    /// IPv4 directions are keyed by one packed integer (cheap to hash and compare).
    counts_v4: HashMap<u128, (Counter, Counter)>,
    counts: HashMap<(TupleKey, Option<u16>), (Counter, Counter)>,
    send_ind: HashMap<TupleKey, Counter>,
    data_ind: HashMap<TupleKey, Counter>,
    carried_stun: HashMap<TupleKey, u64>,
    stun_messages: u64,
    /// Summaries of the STUN messages taken, in frame order.
    msgs: Vec<Msg>,
    /// The checks of signed messages (none without credentials), and the messages they left
    /// for the challenge realms, in frame order.
    credentials: Option<CredentialCheck<'o>>,
    unverified: Vec<Unverified>,
    first_ts: Option<Timestamp>,
    last_ts: Option<Timestamp>,
    max_frame: u32,
}

/// An IPv4 direction and channel as one integer: source address and port, destination
/// address and port, transport, channel (bit 16 set when present).
fn pack_v4(t: &TupleKey, channel: Option<u16>) -> Option<u128> {
    let (SocketAddr::V4(src), SocketAddr::V4(dst)) = (t.src, t.dst) else {
        return None;
    };
    let transport: u128 = match t.transport {
        Transport::Udp => 0,
        Transport::Tcp => 1,
        Transport::Tls => 2,
    };
    let channel = channel.map_or(0, |c| 0x1_0000 | u128::from(c));
    Some(
        u128::from(src.ip().to_bits()) << 96
            | u128::from(src.port()) << 80
            | u128::from(dst.ip().to_bits()) << 48
            | u128::from(dst.port()) << 32
            | transport << 17
            | channel,
    )
}

fn unpack_v4(k: u128) -> (TupleKey, Option<u16>) {
    let addr = |ip: u128, port: u128| {
        SocketAddr::from((std::net::Ipv4Addr::from_bits(ip as u32), port as u16))
    };
    let transport = match (k >> 17) & 3 {
        0 => Transport::Udp,
        1 => Transport::Tcp,
        _ => Transport::Tls,
    };
    let tuple = TupleKey {
        src: addr(k >> 96, (k >> 80) & 0xffff),
        dst: addr((k >> 48) & 0xffff_ffff, (k >> 32) & 0xffff),
        transport,
    };
    let channel = (k & 0x1_0000 != 0).then_some((k & 0xffff) as u16);
    (tuple, channel)
}

/// A Send or Data indication's relayed data: method, peer, DATA length.
fn relayed_data(m: &Message<'_>) -> Option<(Method, Option<SocketAddr>, u64)> {
    let method = m.method();
    if m.class() != Class::Indication || (method != Method::SEND && method != Method::DATA) {
        return None;
    }
    let peer = m.xor_peer_addresses().next();
    Some((method, peer, m.data().map_or(0, <[u8]>::len) as u64))
}

impl OrderFreePart<'_> {
    /// Keep the summary of a STUN message, checked against the credentials.
    fn keep(&mut self, m: &Message<'_>, mut s: Msg) {
        if let Some(check) = &mut self.credentials {
            if check.check(m, &mut s) == Left::ChallengeRealms {
                self.unverified.push(Unverified {
                    msg_index: self.msgs.len(),
                    bytes: m.as_bytes().into(),
                });
            }
        }
        self.msgs.push(s);
    }

    /// A STUN message on the wire, and one carried in its DATA: the same bookkeeping as
    /// [`Ingest::events`], the transaction filing left for later.
    fn stun(&mut self, p: &Payload<'_>, m: &Message<'_>) {
        let tuple = TupleKey {
            src: p.src,
            dst: p.dst,
            transport: p.transport,
        };
        self.stun_messages += 1;
        let Some((method, peer, data_len)) = relayed_data(m) else {
            let s = Msg::summarise(m, p.frame, p.ts, p.transport, p.src, p.dst, None);
            self.keep(m, s);
            return;
        };
        // Counted as relayed data, not kept as a message.
        let (map, carrier) = if method == Method::SEND {
            (&mut self.send_ind, Carrier::Send)
        } else {
            (&mut self.data_ind, Carrier::Data)
        };
        map.entry(tuple).or_default().add(p.frame, p.ts, data_len);
        if let Some(inner) = m.data().and_then(crate::wire::decode_carried) {
            self.stun_messages += 1;
            *self.carried_stun.entry(tuple).or_default() += 1;
            let mut s = Msg::summarise(
                &inner,
                p.frame,
                p.ts,
                p.transport,
                p.src,
                p.dst,
                Some(carrier),
            );
            s.carrier_peer = peer;
            self.keep(&inner, s);
        }
    }
}

impl<'o> DatagramScan for OrderFree<'o> {
    type Part = OrderFreePart<'o>;

    fn part(&self) -> OrderFreePart<'o> {
        OrderFreePart {
            credentials: self.options.map(CredentialCheck::new),
            ..OrderFreePart::default()
        }
    }

    fn datagram(&self, part: &mut OrderFreePart<'o>, p: &Payload<'_>) -> bool {
        // DNS goes in frame order: queries and answers are matched as they come.
        if p.framing != Framing::Datagram || super::dns::is_dns(p) {
            return false;
        }
        let channel = match crate::wire::decode_payload(&p.data, false) {
            Decoded::ChannelData(c) if crate::wire::decode_carried(c.data).is_none() => {
                Some((c.channel, c.data.len()))
            }
            // Bytes that could be ChannelData on a channel bound earlier need the bindings.
            Decoded::Other(_) if !p.data.first().is_some_and(|b| (0x40..=0x7F).contains(b)) => None,
            Decoded::Stun(m) if self.stun => {
                part.stun(p, &m);
                None
            }
            _ => return false,
        };
        let tuple = TupleKey {
            src: p.src,
            dst: p.dst,
            transport: p.transport,
        };
        let ch = channel.map(|(ch, _)| ch);
        let (traffic, frames) = match pack_v4(&tuple, ch) {
            Some(key) => part.counts_v4.entry(key).or_default(),
            None => part.counts.entry((tuple, ch)).or_default(),
        };
        traffic.add(p.frame, p.ts, p.data.len() as u64);
        if let Some((_, len)) = channel {
            frames.add(p.frame, p.ts, len as u64);
        }
        if part.first_ts.is_none_or(|t| p.ts < t) {
            part.first_ts = Some(p.ts);
        }
        if part.last_ts.is_none_or(|t| p.ts > t) {
            part.last_ts = Some(p.ts);
        }
        part.max_frame = part.max_frame.max(p.frame);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_ipv4_keys_round_trip() {
        for (src, dst, transport, channel) in [
            ("0.0.0.0:0", "255.255.255.255:65535", Transport::Udp, None),
            (
                "192.0.2.1:3478",
                "198.51.100.7:49152",
                Transport::Tcp,
                Some(0x4000),
            ),
            ("10.0.0.1:1", "10.0.0.2:2", Transport::Tls, Some(0x7fff)),
            ("203.0.113.9:65535", "0.0.0.1:0", Transport::Udp, Some(0)),
        ] {
            let t = TupleKey {
                src: src.parse().unwrap(),
                dst: dst.parse().unwrap(),
                transport,
            };
            let k = pack_v4(&t, channel).unwrap();
            assert_eq!(unpack_v4(k), (t, channel));
        }
        let v6 = TupleKey {
            src: "[2001:db8::1]:1".parse().unwrap(),
            dst: "192.0.2.1:2".parse().unwrap(),
            transport: Transport::Udp,
        };
        assert_eq!(pack_v4(&v6, None), None);
    }
}
