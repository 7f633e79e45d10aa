//! The memory budget of one capture's flows (`docs/architecture.md`, "Memory").
//!
//! A capture keeps its first [`CAPTURE_FULL`] transactions in full, and of every flow (the
//! 5-tuple a request travels on, as captured) its first [`FLOW_FULL`]. Beyond that a
//! transaction waits, summarised, until it is answered or quiet; then it is counted into the
//! last kept transaction of its [`Kind`] on its flow (that transaction's [`Alike`]), or, when
//! its kind is new there, kept as the first of its kind (at most [`KINDS_PER_FLOW`] a flow and
//! [`KINDS_PER_CAPTURE`] in all). Past those it is counted into a kept transaction of its kind
//! to the same server on another flow, and if there is none, in the capture's totals only.
//! Findings count a kept transaction with everything counted into it, so their counts cover
//! every transaction; only the detail (frames, times, cross-capture matching by transaction
//! id) is bounded. What was summarised is reported per capture ([`Summarised`]).
//!
//! The number of flows is bounded too: the budget's state is kept for [`FLOWS_KEPT`] flows,
//! and packet counters for [`DIRECTIONS_KEPT`] directions (5-tuples one way). A transaction of
//! a further flow is counted into a kept one of its kind to the same server, or kept as the
//! first of a kind not seen before (so a rejection or an unanswered request is still kept in
//! full where the millionth identical Binding is only counted); a packet of a further
//! direction is counted in the capture's totals only.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::capture::Timestamp;
use crate::decode::Carrier;
use crate::wire::{Class, Method, TransactionId};

use super::msg::{CredCheck, Msg};
use super::{CaptureFlows, Transaction, TupleKey};

/// Transactions a capture keeps in full.
pub const CAPTURE_FULL: usize = 50_000;
/// Transactions a flow keeps in full.
pub const FLOW_FULL: usize = 2_000;
/// Beyond the budget, kinds of transaction a flow keeps one of...
pub const KINDS_PER_FLOW: usize = 16;
/// ...and a capture at most this many such firsts of their kind in all; transactions of a
/// kind not kept are counted in the capture's totals only.
pub const KINDS_PER_CAPTURE: usize = 50_000;
/// Flows whose budget state a capture keeps (the first seen); transactions of further flows
/// are counted by server and kind (see the module documentation).
pub const FLOWS_KEPT: usize = 65_536;
/// Directions (5-tuples one way) whose packet counters a capture keeps (the first seen):
/// room for both directions of [`FLOWS_KEPT`] flows. Packets of further directions are
/// counted in the totals only.
pub const DIRECTIONS_KEPT: usize = 2 * FLOWS_KEPT;
/// Request sightings (retransmissions, other legs) kept per transaction; more are counted.
pub const SIGHTINGS_KEPT: usize = 32;
/// Responses kept per transaction; more are counted (a first success is always kept).
pub const RESPONSES_KEPT: usize = 8;
/// Retransmissions of a transaction beyond the budget whose time is kept while it waits.
const RESENT_KEPT: usize = 8;
/// Transactions beyond the budget waiting for their answer, at most...
pub const PENDING_MAX: usize = 16_384;
/// ...each until quiet this long (capture time; RFC 8489 gives up after 39.5 s).
pub const PENDING_QUIET_NS: i64 = 40_000_000_000;
/// Distinct strings (user names, realms, nonces, SOFTWARE, reasons) stored once per capture.
pub const STRINGS_SHARED: usize = 65_536;
/// ICMP, TCP control and TLS events kept per capture; more are counted.
pub const EVENTS_KEPT: usize = 100_000;

/// A frame and its time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seen {
    /// Frame number in the capture.
    pub frame: u32,
    /// Capture time of the frame.
    pub ts: Timestamp,
}

impl Seen {
    /// Where a message was seen.
    pub fn of(m: &Msg) -> Seen {
        Seen {
            frame: m.frame,
            ts: m.ts,
        }
    }
}

fn earliest(a: Option<Seen>, b: Option<Seen>) -> Option<Seen> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn latest(a: Option<Seen>, b: Option<Seen>) -> Option<Seen> {
    a.max(b)
}

/// Transactions counted into a kept one: alike, on the same flow, beyond the budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Alike {
    /// How many transactions were counted in.
    pub transactions: u64,
    /// Their request messages, retransmissions included.
    pub requests: u64,
    /// Their first and last request, and last response.
    pub first_request: Option<Seen>,
    /// The latest request among them (None when none was seen).
    pub last_request: Option<Seen>,
    /// The latest response among them (None when none was answered).
    pub last_response: Option<Seen>,
}

impl Alike {
    fn absorb(&mut self, p: &Pending) {
        self.transactions += 1;
        self.requests += u64::from(p.requests);
        self.first_request = earliest(self.first_request, p.first_request);
        self.last_request = latest(self.last_request, p.last_request);
        self.last_response = latest(self.last_response, p.last_response);
    }
}

/// How a transaction ended, for [`Kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Unanswered,
    Success,
    Error(u16),
}

/// What diagnosis tells transactions of one flow apart by: the request (method, carrier and
/// peer, ICE check, credentials and their check, retransmitted, a release) and the outcome.
/// Two transactions of one kind count in the same findings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Kind {
    method: Method,
    request: bool,
    carried: Option<Carrier>,
    carrier_peer: Option<SocketAddr>,
    ice: bool,
    authenticated: bool,
    username: Option<Arc<str>>,
    realm: Option<Arc<str>>,
    cred: CredCheck,
    retransmitted: bool,
    release: bool,
    bad_fingerprint: bool,
    outcome: Outcome,
}

impl Kind {
    /// The kind of a transaction from its first request and response (None without either).
    pub fn of(request: Option<&Msg>, response: Option<&Msg>, retransmitted: bool) -> Option<Kind> {
        let first = request.or(response)?;
        let outcome = match response {
            None => Outcome::Unanswered,
            Some(r) if r.class == Class::Success => Outcome::Success,
            Some(r) => Outcome::Error(r.error.unwrap_or(0)),
        };
        Some(Kind {
            method: first.method,
            request: request.is_some(),
            carried: first.carried,
            carrier_peer: first.carrier_peer,
            ice: request.is_some_and(Msg::is_ice_check),
            authenticated: request.is_some_and(Msg::is_authenticated),
            username: request.and_then(|m| m.username.clone()),
            realm: request.and_then(|m| m.realm.clone()),
            cred: request.map(|m| m.cred.clone()).unwrap_or_default(),
            retransmitted,
            release: request.is_some_and(|m| m.lifetime == Some(0)),
            bad_fingerprint: request
                .or(response)
                .is_some_and(|m| m.bad_fingerprint.is_some()),
            outcome,
        })
    }
}

/// A flow, by a keyed 64-bit hash of its 5-tuple: a capture may show a million flows, and the
/// budget's state of each is what it keeps for all of them.
type FlowId = u64;

/// A transaction beyond the budget, waiting for its answer.
#[derive(Debug)]
pub struct Pending {
    flow: FlowId,
    /// The server end of the flow.
    server: SocketAddr,
    /// The first request sighting, and the response that decides the outcome (the first
    /// success, else the first response).
    request: Option<Msg>,
    response: Option<Msg>,
    /// When the request was sent again (the first few times), for its schedule if kept.
    resent: Vec<Seen>,
    requests: u32,
    first_request: Option<Seen>,
    last_request: Option<Seen>,
    last_response: Option<Seen>,
    last_activity: Timestamp,
}

impl Pending {
    fn new(flow: FlowId, server: SocketAddr) -> Pending {
        Pending {
            flow,
            server,
            request: None,
            response: None,
            resent: Vec::new(),
            requests: 0,
            first_request: None,
            last_request: None,
            last_response: None,
            last_activity: Timestamp(i64::MIN),
        }
    }

    /// File another message of the transaction.
    pub fn add(&mut self, m: Msg) {
        self.last_activity = self.last_activity.max(m.ts);
        let seen = Some(Seen::of(&m));
        if m.class == Class::Request {
            self.requests = self.requests.saturating_add(1);
            self.first_request = earliest(self.first_request, seen);
            self.last_request = latest(self.last_request, seen);
            match &self.request {
                None => self.request = Some(m),
                Some(_) if self.resent.len() < RESENT_KEPT => self.resent.extend(seen),
                Some(_) => {}
            }
        } else {
            self.last_response = latest(self.last_response, seen);
            let better = match &self.response {
                None => true,
                Some(r) => r.class != Class::Success && m.class == Class::Success,
            };
            if better {
                self.response = Some(m);
            }
        }
    }

    /// The request of this transaction, if seen (for what a response teaches, e.g. the
    /// channel a ChannelBind success binds).
    pub fn request(&self) -> Option<&Msg> {
        self.request.as_ref()
    }
}

/// What a capture summarised beyond its budget (all zero when it kept everything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summarised {
    /// Transactions counted into a kept transaction of their kind (its `alike`).
    pub transactions: u64,
    /// Transactions beyond the kinds a flow keeps: in the capture's totals only.
    pub unclassified: u64,
    /// Flows with summarised transactions.
    pub flows: u64,
    /// Request retransmissions and responses beyond what a transaction keeps.
    pub sightings: u64,
    /// Indications (other than Send/Data) beyond the budget, counted only.
    pub indications: u64,
    /// ICMP, TCP control and TLS events beyond [`EVENTS_KEPT`], counted only.
    pub events: u64,
    /// Transactions on flows beyond [`FLOWS_KEPT`] (also counted in `transactions`, in
    /// `unclassified`, or kept as the first of their kind).
    pub beyond_flows: u64,
    /// Packets on directions beyond [`DIRECTIONS_KEPT`]: in the capture's totals only.
    pub beyond_directions: u64,
    /// The first frame summarised.
    pub from_frame: Option<u32>,
}

impl Summarised {
    /// True when nothing was summarised: everything the capture showed was kept.
    pub fn is_empty(&self) -> bool {
        *self == Summarised::default()
    }

    /// Add what a later run of the same capture summarised, frames moved by `base`.
    pub fn absorb(&mut self, later: &Summarised, base: u32) {
        self.transactions += later.transactions;
        self.unclassified += later.unclassified;
        self.flows += later.flows;
        self.sightings += later.sightings;
        self.indications += later.indications;
        self.events += later.events;
        self.beyond_flows += later.beyond_flows;
        self.beyond_directions += later.beyond_directions;
        if let Some(f) = later.from_frame {
            self.note(f.saturating_add(base));
        }
    }

    /// Note that `frame` was summarised (keeps the lowest in `from_frame`).
    pub fn note(&mut self, frame: u32) {
        self.from_frame = Some(self.from_frame.map_or(frame, |f| f.min(frame)));
    }
}

/// Budget bookkeeping of one flow.
#[derive(Debug, Default)]
struct FlowState {
    kept: u32,
    summarised: bool,
    /// The flow's kept transactions, until `reps` is made from them.
    kept_txs: Vec<u32>,
    /// The last kept transaction of each kind, made when the first transaction beyond the
    /// budget is resolved. Boxed: 8 bytes instead of 48 in the state of every flow, and a
    /// capture may show a million flows.
    #[allow(clippy::box_collection)]
    reps: Option<Box<HashMap<Kind, u32>>>,
}

/// The budget of one capture's flows (see the module documentation).
#[derive(Debug, Default)]
pub struct Budget {
    kept: usize,
    /// Transactions kept beyond the budget as the first of their kind.
    kinds_kept: usize,
    flow_ids: std::hash::RandomState,
    flows: HashMap<FlowId, FlowState>,
    /// Transactions kept as the last of their kind on some flow, by server and kind: what a
    /// transaction is counted into when its own flow can keep no more kinds.
    wide: HashMap<(SocketAddr, Kind), u32>,
    pending: HashMap<TransactionId, Pending>,
    /// Pending transactions by the time they were last looked at (oldest first).
    queue: VecDeque<(TransactionId, Timestamp)>,
    strings: HashSet<Arc<str>>,
}

/// The flow of a message: its request's 5-tuple (a response travels it backwards).
pub fn flow_of(m: &Msg) -> TupleKey {
    let (src, dst) = if m.class == Class::Request || m.class == Class::Indication {
        (m.src, m.dst)
    } else {
        (m.dst, m.src)
    };
    TupleKey {
        src,
        dst,
        transport: m.transport,
    }
}

impl Budget {
    /// Share the strings of `m` with earlier messages of the capture.
    pub fn share_strings(&mut self, m: &mut Msg) {
        for s in [
            &mut m.username,
            &mut m.realm,
            &mut m.nonce,
            &mut m.software,
            &mut m.reason,
        ] {
            let Some(text) = s else { continue };
            if let Some(shared) = self.strings.get(&**text) {
                *s = Some(shared.clone());
            } else if self.strings.len() < STRINGS_SHARED {
                self.strings.insert(text.clone());
            }
        }
    }

    fn id(&self, flow: &TupleKey) -> FlowId {
        use std::hash::BuildHasher;
        self.flow_ids.hash_one(flow)
    }

    /// May a new transaction (index `tx`) or indication of this flow be kept in full?
    pub fn admit(&mut self, flow: TupleKey, tx: Option<u32>) -> bool {
        if self.kept >= CAPTURE_FULL {
            return false;
        }
        let id = self.id(&flow);
        let Some(f) = tracked(&mut self.flows, id) else {
            return false;
        };
        if f.kept as usize >= FLOW_FULL {
            return false;
        }
        f.kept += 1;
        self.kept += 1;
        if let Some(tx) = tx {
            f.kept_txs.push(tx);
        }
        true
    }

    /// The transaction beyond the budget with this id that waits for more messages, if any.
    pub fn pending_mut(&mut self, id: &TransactionId) -> Option<&mut Pending> {
        self.pending.get_mut(id)
    }

    /// Start waiting for a transaction beyond the budget with its first message.
    pub fn start_pending(&mut self, m: Msg, summarised: &mut Summarised) {
        summarised.note(m.frame);
        let flow = flow_of(&m);
        let mut p = Pending::new(self.id(&flow), flow.dst);
        let id = m.txid;
        p.add(m);
        self.queue.push_back((id, p.last_activity));
        self.pending.insert(id, p);
    }

    /// The pending transaction a response belongs to.
    pub fn pending(&self, id: &TransactionId) -> Option<&Pending> {
        self.pending.get(id)
    }

    /// Pending transactions quiet since before `now` minus [`PENDING_QUIET_NS`], and the
    /// oldest ones while more than [`PENDING_MAX`] wait.
    pub fn due(&mut self, now: Timestamp) -> Vec<Pending> {
        let mut out = Vec::new();
        while let Some(&(id, queued)) = self.queue.front() {
            let full = self.pending.len() > PENDING_MAX;
            if !full && now.0.saturating_sub(queued.0) < PENDING_QUIET_NS {
                break;
            }
            self.queue.pop_front();
            let Some(last) = self.pending.get(&id).map(|p| p.last_activity) else {
                continue;
            };
            if !full && last > queued {
                self.queue.push_back((id, last));
                continue;
            }
            out.extend(self.pending.remove(&id));
        }
        out
    }

    /// Every pending transaction (at the end of the capture), in the order they started.
    pub fn drain(&mut self) -> Vec<Pending> {
        let mut out = Vec::new();
        while let Some((id, _)) = self.queue.pop_front() {
            out.extend(self.pending.remove(&id));
        }
        out
    }

    /// Count a resolved transaction into the last kept one of its kind on its flow, or keep it
    /// as the first of its kind there, or count it into one of its kind to the same server on
    /// another flow; returns the transaction it was kept as, if any.
    pub fn resolve(&mut self, p: Pending, flows: &mut CaptureFlows) -> Option<u32> {
        let kind = Kind::of(p.request.as_ref(), p.response.as_ref(), p.requests > 1)?;
        let Some(f) = tracked(&mut self.flows, p.flow) else {
            flows.summarised.beyond_flows += 1;
            return self.resolve_untracked(p, kind, flows);
        };
        if !f.summarised {
            f.summarised = true;
            flows.summarised.flows += 1;
        }
        if f.reps.is_none() && !f.kept_txs.is_empty() {
            f.reps = Some(Box::new(kinds_of(&f.kept_txs, flows, &mut self.wide)));
        }
        f.kept_txs = Vec::new();
        if let Some(&t) = f.reps.as_ref().and_then(|reps| reps.get(&kind)) {
            absorb(flows, t, &p);
            return None;
        }
        let kinds = f.reps.as_ref().map_or(0, |reps| reps.len());
        if kinds < KINDS_PER_FLOW && self.kinds_kept < KINDS_PER_CAPTURE {
            self.kinds_kept += 1;
            let server = p.server;
            let t = flows.keep(p);
            f.reps
                .get_or_insert_with(Box::default)
                .insert(kind.clone(), t);
            self.wide.insert((server, kind), t);
            return Some(t);
        }
        match self.wide.get(&(p.server, kind)) {
            Some(&t) => absorb(flows, t, &p),
            None => flows.summarised.unclassified += 1,
        }
        None
    }
}

impl Budget {
    /// A transaction of a flow beyond [`FLOWS_KEPT`]: counted into a kept transaction of its
    /// kind to the same server, else kept as the first of its kind while the capture keeps
    /// such firsts, else counted in the totals only.
    fn resolve_untracked(
        &mut self,
        p: Pending,
        kind: Kind,
        flows: &mut CaptureFlows,
    ) -> Option<u32> {
        if let Some(&t) = self.wide.get(&(p.server, kind.clone())) {
            absorb(flows, t, &p);
            return None;
        }
        if self.kinds_kept >= KINDS_PER_CAPTURE {
            flows.summarised.unclassified += 1;
            return None;
        }
        self.kinds_kept += 1;
        let server = p.server;
        let t = flows.keep(p);
        self.wide.insert((server, kind), t);
        Some(t)
    }
}

/// The budget state of a flow: its own while fewer than [`FLOWS_KEPT`] flows have one, else
/// `None` (the flow is not tracked).
fn tracked(flows: &mut HashMap<FlowId, FlowState>, id: FlowId) -> Option<&mut FlowState> {
    if flows.len() >= FLOWS_KEPT && !flows.contains_key(&id) {
        return None;
    }
    Some(flows.entry(id).or_default())
}

/// The counter of `key` in `map` (a direction's packets, say), made if there is room; `None`
/// when the map holds [`DIRECTIONS_KEPT`] keys and not this one: the caller counts the packets
/// in [`Summarised::beyond_directions`].
pub fn direction_counter<K, V, S>(map: &mut HashMap<K, V, S>, key: K) -> Option<&mut V>
where
    K: std::hash::Hash + Eq,
    V: Default,
    S: std::hash::BuildHasher,
{
    if map.len() >= DIRECTIONS_KEPT && !map.contains_key(&key) {
        return None;
    }
    Some(map.entry(key).or_default())
}

/// Count `p` into kept transaction `t`.
fn absorb(flows: &mut CaptureFlows, t: u32, p: &Pending) {
    if let Some(tx) = flows.transactions.get_mut(t as usize) {
        tx.alike.get_or_insert_with(Box::default).absorb(p);
        flows.summarised.transactions += 1;
    }
}

/// The last of each kind among a flow's kept transactions (also noted by server in `wide`).
fn kinds_of(
    kept: &[u32],
    flows: &CaptureFlows,
    wide: &mut HashMap<(SocketAddr, Kind), u32>,
) -> HashMap<Kind, u32> {
    let mut reps = HashMap::new();
    for &t in kept {
        let Some(tx) = flows.transactions.get(t as usize) else {
            continue;
        };
        let (Some(k), Some(m)) = (flows.kind(tx), flows.request(tx).or(flows.response(tx))) else {
            continue;
        };
        wide.insert((flow_of(m).dst, k.clone()), t);
        reps.insert(k, t);
    }
    reps
}

impl CaptureFlows {
    /// The kind of a kept transaction.
    pub fn kind(&self, t: &Transaction) -> Option<Kind> {
        Kind::of(
            self.request(t),
            self.final_response(t),
            self.retransmissions(t) > 0,
        )
    }

    /// Keep a resolved pending transaction in full; returns its index.
    fn keep(&mut self, p: Pending) -> u32 {
        let t = self.transactions.len() as u32;
        let first = p.request.as_ref().or(p.response.as_ref());
        let (txid, method) = first.map_or((TransactionId::new([0; 12]), Method::BINDING), |m| {
            (m.txid, m.method)
        });
        let mut tx = Transaction::new(txid, method);
        let resent = p.resent.len() as u32;
        tx.more_requests = p.requests.saturating_sub(1 + resent);
        if let Some(q) = p.request {
            // The retransmissions whose times were kept, as copies of the first sighting.
            let copies: Vec<Msg> = p
                .resent
                .iter()
                .map(|again| {
                    let mut copy = q.clone();
                    (copy.frame, copy.ts) = (again.frame, again.ts);
                    copy
                })
                .collect();
            for m in std::iter::once(q).chain(copies) {
                tx.requests.push(self.msgs.len() as u32);
                self.msgs.push(m);
            }
        }
        if let Some(r) = p.response {
            tx.responses.push(self.msgs.len() as u32);
            self.msgs.push(r);
        }
        self.transactions.push(tx);
        t
    }
}
