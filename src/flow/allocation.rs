//! TURN allocations per client 5-tuple: challenge -> authenticated Allocate -> outcome; lifetime,
//! Refresh, CreatePermission, ChannelBind and relayed data per direction.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::capture::{Timestamp, Transport};
use crate::wire::{Class, Method};

use super::msg::is_turn_method;
use super::{CaptureFlows, Counter, TupleKey};

/// Default allocation lifetime when the success does not say (RFC 8656: 10 minutes).
pub const DEFAULT_LIFETIME: u32 = 600;

/// How a client's attempts at an allocation ended, as one capture shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocOutcome {
    /// An Allocate succeeded (index of the success message).
    Success {
        /// Index of the success in [`CaptureFlows::msgs`](super::CaptureFlows::msgs).
        msg: u32,
    },
    /// The last Allocate was rejected with this error (index of the error message).
    Error {
        /// ERROR-CODE of the rejection (e.g. 441, 486, 508).
        code: u16,
        /// Index of the error response in [`CaptureFlows::msgs`](super::CaptureFlows::msgs).
        msg: u32,
    },
    /// Only a challenge was seen: the client never came back with credentials.
    ChallengeOnly,
    /// Allocate requests without any response.
    NoResponse,
    /// No Allocate in the capture, but Refresh / permissions on this 5-tuple: the allocation
    /// was made before the capture started.
    BeforeCapture,
}

impl AllocOutcome {
    /// Short label for reports: "success", "error 441", "challenge only", ...
    pub fn label(&self) -> String {
        match self {
            AllocOutcome::Success { .. } => "success".into(),
            AllocOutcome::Error { code, .. } => format!("error {code}"),
            AllocOutcome::ChallengeOnly => "challenge only".into(),
            AllocOutcome::NoResponse => "no response".into(),
            AllocOutcome::BeforeCapture => "before capture".into(),
        }
    }
}

/// One client's allocation (or attempts at one) on a 5-tuple, as one capture shows it.
#[derive(Debug, Clone)]
pub struct Allocation {
    /// Client transport address, as this capture sees it.
    pub client: SocketAddr,
    /// TURN server transport address the client sends to.
    pub server: SocketAddr,
    /// Transport between client and server (UDP, TCP or TLS).
    pub transport: Transport,
    /// Transaction indices of the TURN requests on this 5-tuple, in order.
    pub transactions: Vec<u32>,
    /// The first 401 challenge (message index).
    pub challenge: Option<u32>,
    /// How the attempts ended.
    pub outcome: AllocOutcome,
    /// USERNAME of the first request that carried one, None when none did.
    pub username: Option<String>,
    /// REALM of the last Allocate request that carried one.
    pub realm: Option<String>,
    /// XOR-RELAYED-ADDRESS granted, None without an Allocate success.
    pub relayed: Option<SocketAddr>,
    /// XOR-MAPPED-ADDRESS of the Allocate success: the client as the server sees it.
    pub mapped: Option<SocketAddr>,
    /// Lifetime in seconds last granted (600 when the success did not say).
    pub lifetime: Option<u32>,
    /// When the last Allocate success was sent (capture time).
    pub granted_at: Option<Timestamp>,
    /// When the allocation runs out by the last Allocate or Refresh success; None once released.
    pub expires_at: Option<Timestamp>,
    /// When a Refresh with LIFETIME 0 succeeded (deallocation); None otherwise.
    pub released_at: Option<Timestamp>,
    /// Set when the lifetime ran out during the capture without a successful Refresh.
    pub expired_at: Option<Timestamp>,
    /// The deallocation (Refresh with LIFETIME 0) was answered with an error and no later
    /// deallocation succeeded: the relay stays allocated until its lifetime ends.
    pub release_refused: Option<ReleaseRefused>,
    /// Successful Refreshes (transactions counted into one included).
    pub refreshes: usize,
    /// Peer addresses installed by CreatePermission successes.
    pub permissions: Vec<SocketAddr>,
    /// (channel number, peer) bound by ChannelBind successes.
    pub channels: Vec<(u16, SocketAddr)>,
    /// Send indications (client -> peers).
    pub send: Counter,
    /// Data indications (peers -> client).
    pub data: Counter,
    /// ChannelData from the client to the server; bytes are the application data.
    pub channel_out: Counter,
    /// ChannelData from the server to the client; bytes are the application data.
    pub channel_in: Counter,
    /// Of the relayed messages, how many were STUN (ICE checks), out and in.
    pub stun_out: u64,
    /// Relayed STUN messages from peers to the client.
    pub stun_in: u64,
}

/// A deallocating Refresh answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseRefused {
    /// ERROR-CODE of the refusal (e.g. 437 Allocation Mismatch).
    pub code: u16,
    /// The error response (message index).
    pub msg: u32,
    /// The request (message index), where the capture has it.
    pub request: Option<u32>,
}

impl Allocation {
    /// Relayed data from the client towards peers.
    pub fn out(&self) -> Counter {
        let mut c = self.send;
        c.merge(&self.channel_out);
        c
    }

    /// Relayed data from peers to the client.
    pub fn inbound(&self) -> Counter {
        let mut c = self.data;
        c.merge(&self.channel_in);
        c
    }
}

/// A response of an allocation's transaction (`count` transactions answered so, the last at
/// `ts`), for walking the allocation's life in time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Answer {
    ts: Timestamp,
    tx: u32,
    msg: u32,
    count: u64,
}

impl CaptureFlows {
    pub(crate) fn build_allocations(&mut self) {
        // Group wire-level TURN transactions by (client, server, transport).
        let mut groups: BTreeMap<(SocketAddr, SocketAddr, &'static str), (Transport, Vec<u32>)> =
            BTreeMap::new();
        let mut order: Vec<(u32, (SocketAddr, SocketAddr, &'static str))> = Vec::new();
        for (ti, t) in self.transactions.iter().enumerate() {
            if !is_turn_method(t.method) {
                continue;
            }
            let key = if let Some(rq) = self.request(t) {
                if rq.carried.is_some() {
                    continue;
                }
                (rq.src, rq.dst, rq.transport)
            } else if let Some(rs) = self.response(t) {
                if rs.carried.is_some() {
                    continue;
                }
                (rs.dst, rs.src, rs.transport)
            } else {
                continue;
            };
            let first = t
                .requests
                .first()
                .or(t.responses.first())
                .copied()
                .unwrap_or(0);
            let skey = (key.0, key.1, key.2.as_str());
            let e = groups.entry(skey).or_insert((key.2, Vec::new()));
            if e.1.is_empty() {
                order.push((first, skey));
            }
            e.1.push(ti as u32);
        }
        order.sort();
        let mut out = Vec::new();
        for (_, skey) in order {
            if let Some((transport, txs)) = groups.remove(&skey) {
                out.push(self.allocation((skey.0, skey.1, transport), txs));
            }
        }
        self.allocations = out;
    }

    fn allocation(&self, key: (SocketAddr, SocketAddr, Transport), txs: Vec<u32>) -> Allocation {
        let (client, server, transport) = key;
        let mut a = Allocation {
            client,
            server,
            transport,
            transactions: txs.clone(),
            challenge: None,
            outcome: AllocOutcome::BeforeCapture,
            username: None,
            realm: None,
            relayed: None,
            mapped: None,
            lifetime: None,
            granted_at: None,
            expires_at: None,
            released_at: None,
            expired_at: None,
            release_refused: None,
            refreshes: 0,
            permissions: Vec::new(),
            channels: Vec::new(),
            send: Counter::default(),
            data: Counter::default(),
            channel_out: Counter::default(),
            channel_in: Counter::default(),
            stun_out: 0,
            stun_in: 0,
        };
        let mut saw_allocate = false;
        // Walk the successes and errors in time order for lifetime bookkeeping.
        let mut events: Vec<Answer> = Vec::new();
        for &ti in &txs {
            let t = &self.transactions[ti as usize];
            if let Some(rq) = self.request(t) {
                if rq.username.is_some() && a.username.is_none() {
                    a.username = rq.username.as_deref().map(str::to_string);
                }
                if rq.realm.is_some() && t.method == Method::ALLOCATE {
                    a.realm = rq.realm.as_deref().map(str::to_string);
                }
            }
            if t.method == Method::ALLOCATE {
                saw_allocate = true;
            }
            if let Some(&ri) = t.responses.first() {
                let (ts, tx, msg) = (self.msg(ri).ts, ti, ri);
                events.push(Answer {
                    ts,
                    tx,
                    msg,
                    count: 1,
                });
                // Transactions counted into this one answered alike, the last at this time.
                if let Some(alike) = &t.alike {
                    if let Some(last) = alike.last_response {
                        let count = alike.transactions;
                        events.push(Answer {
                            ts: last.ts,
                            tx,
                            msg,
                            count,
                        });
                    }
                }
            }
        }
        events.sort();
        let mut outcome: Option<AllocOutcome> = None;
        for &Answer {
            ts,
            tx: ti,
            msg: ri,
            count,
        } in &events
        {
            let t = &self.transactions[ti as usize];
            let rs = self.msg(ri);
            match (t.method, rs.class) {
                (Method::ALLOCATE, Class::Success) => {
                    outcome = Some(AllocOutcome::Success { msg: ri });
                    a.relayed = rs.relayed.or(a.relayed);
                    a.mapped = rs.mapped.or(a.mapped);
                    let l = rs.lifetime.unwrap_or(DEFAULT_LIFETIME);
                    a.lifetime = Some(l);
                    a.granted_at = Some(ts);
                    a.expires_at = Some(Timestamp(ts.0 + i64::from(l) * 1_000_000_000));
                    a.released_at = None;
                }
                (Method::ALLOCATE, Class::Error) => {
                    let code = rs.error.unwrap_or(0);
                    let authenticated = self.request(t).is_some_and(|m| m.is_authenticated());
                    if code == 401 && !authenticated {
                        if a.challenge.is_none() {
                            a.challenge = Some(ri);
                        }
                        if outcome.is_none() {
                            outcome = Some(AllocOutcome::ChallengeOnly);
                        }
                    } else if !matches!(outcome, Some(AllocOutcome::Success { .. })) {
                        // An error after a success (e.g. 437 on the live 5-tuple) does not undo it.
                        outcome = Some(AllocOutcome::Error { code, msg: ri });
                    }
                }
                (Method::REFRESH, Class::Success) => {
                    a.refreshes += count as usize;
                    let l = rs.lifetime.unwrap_or(DEFAULT_LIFETIME);
                    if l == 0 {
                        a.released_at = Some(ts);
                        a.expires_at = None;
                        a.release_refused = None;
                    } else {
                        a.expires_at = Some(Timestamp(ts.0 + i64::from(l) * 1_000_000_000));
                        a.lifetime = Some(l);
                    }
                }
                (Method::REFRESH, Class::Error) => {
                    let rq = t.requests.first().copied();
                    let deallocating = rq.is_some_and(|q| self.msg(q).lifetime == Some(0));
                    if deallocating && a.released_at.is_none() {
                        a.release_refused = Some(ReleaseRefused {
                            code: rs.error.unwrap_or(0),
                            msg: ri,
                            request: rq,
                        });
                    }
                }
                (Method::CREATE_PERMISSION, Class::Success) => {
                    if let Some(rq) = self.request(t) {
                        for p in &rq.peers {
                            if !a.permissions.contains(p) {
                                a.permissions.push(*p);
                            }
                        }
                    }
                }
                (Method::CHANNEL_BIND, Class::Success) => {
                    if let Some(rq) = self.request(t) {
                        if let (Some(ch), Some(p)) = (rq.channel, rq.peers.first()) {
                            if !a.channels.iter().any(|(c, _)| *c == ch) {
                                a.channels.push((ch, *p));
                            }
                            if !a.permissions.contains(p) {
                                a.permissions.push(*p);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        a.outcome = match outcome {
            Some(o) => o,
            None if saw_allocate => AllocOutcome::NoResponse,
            None => AllocOutcome::BeforeCapture,
        };
        if let (Some(exp), Some(last)) = (a.expires_at, self.last_ts) {
            if a.released_at.is_none() && last > exp {
                a.expired_at = Some(exp);
            }
        }
        let fwd = TupleKey {
            src: client,
            dst: server,
            transport,
        };
        let rev = TupleKey {
            src: server,
            dst: client,
            transport,
        };
        a.stun_out = self.carried_stun.get(&fwd).copied().unwrap_or(0);
        a.stun_in = self.carried_stun.get(&rev).copied().unwrap_or(0);
        if let Some(c) = self.send_ind.get(&fwd) {
            a.send = *c;
        }
        if let Some(c) = self.data_ind.get(&rev) {
            a.data = *c;
        }
        for (k, c) in &self.channel_data {
            if k.transport != transport {
                continue;
            }
            if k.src == client && k.dst == server {
                a.channel_out.merge(c);
            } else if k.src == server && k.dst == client {
                a.channel_in.merge(c);
            }
        }
        a
    }
}
