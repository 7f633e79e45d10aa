//! The TURN server state machine.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::allocation::{Allocation, Channel, State};
use super::auth::{Credentials, NonceCheck, NonceSource};
use super::config::Config;
use super::outcome::{Answer, DeleteReason, DropReason, Event, Handled, Reason};
use super::relay_ports::RelayPorts;
use super::{BindFailure, FiveTuple, Output, Time, Transport};
use crate::wire::attr::{self, Attribute, Family};
use crate::wire::encode::channel_data;
use crate::wire::message::split_type;
use crate::wire::{
    ChannelData, Class, FingerprintVerdict, IntegrityKind, Key, Message, MessageBuilder, Method,
    TransactionId, MAGIC_COOKIE,
};

/// UDP (RFC 8656 REQUESTED-TRANSPORT protocol number).
const UDP: u8 = 17;
/// Relay-socket bind attempts per Allocate before answering 508.
const BIND_ATTEMPTS: u8 = 8;

/// Comprehension-required attributes this server understands in requests.
const KNOWN: &[u16] = &[
    attr::MAPPED_ADDRESS,
    attr::USERNAME,
    attr::MESSAGE_INTEGRITY,
    attr::ERROR_CODE,
    attr::UNKNOWN_ATTRIBUTES,
    attr::REALM,
    attr::NONCE,
    attr::MESSAGE_INTEGRITY_SHA256,
    attr::XOR_MAPPED_ADDRESS,
    attr::CHANNEL_NUMBER,
    attr::LIFETIME,
    attr::BANDWIDTH,
    attr::XOR_PEER_ADDRESS,
    attr::DATA,
    attr::XOR_RELAYED_ADDRESS,
    attr::REQUESTED_ADDRESS_FAMILY,
    attr::EVEN_PORT,
    attr::REQUESTED_TRANSPORT,
    attr::DONT_FRAGMENT,
    attr::RESERVATION_TOKEN,
    attr::PRIORITY,
    attr::USE_CANDIDATE,
];

/// A snapshot of one allocation, for tests, tools and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationInfo {
    /// The client's 5-tuple.
    pub client: FiveTuple,
    /// The USERNAME that made it.
    pub user: String,
    /// The relayed address.
    pub relay: SocketAddr,
    /// False while the relay socket is being bound.
    pub active: bool,
    /// When it expires unless refreshed.
    pub expires: Time,
    /// The peers' IP addresses with permissions, and when each expires.
    pub permissions: Vec<(IpAddr, Time)>,
    /// (channel, peer, binding expiry)
    pub channels: Vec<(u16, SocketAddr, Time)>,
}

/// A port held for a later Allocate with RESERVATION-TOKEN.
#[derive(Debug, Clone, Copy)]
struct Reservation {
    relay: SocketAddr,
    family: usize,
    expires: Time,
}

/// The request being answered.
#[derive(Clone, Copy)]
struct Ctx {
    five: FiveTuple,
    method: Method,
    txid: TransactionId,
}

/// A request that passed authentication.
struct Auth {
    user: String,
    key: Key,
    kind: IntegrityKind,
}

impl Auth {
    fn signer(&self) -> Option<(&Key, IntegrityKind)> {
        Some((&self.key, self.kind))
    }
}

fn family_index(ip: IpAddr) -> usize {
    match ip {
        IpAddr::V4(_) => 0,
        IpAddr::V6(_) => 1,
    }
}

fn family_name(index: usize) -> &'static str {
    if index == 0 {
        "IPv4"
    } else {
        "IPv6"
    }
}

fn secs(d: Duration) -> u32 {
    u32::try_from(d.as_secs()).unwrap_or(u32::MAX)
}

/// Build a response: ERROR-CODE (if any), the method's attributes, SOFTWARE, integrity,
/// FINGERPRINT.
fn build_response(
    ctx: &Ctx,
    code: Option<u16>,
    software: Option<&str>,
    signer: Option<(&Key, IntegrityKind)>,
    attrs: impl FnOnce(MessageBuilder) -> MessageBuilder,
) -> Vec<u8> {
    let class = if code.is_some() {
        Class::Error
    } else {
        Class::Success
    };
    let mut b = MessageBuilder::response(ctx.method, class, ctx.txid);
    if let Some(c) = code {
        b = b.error_code(c, attr::error_name(c).unwrap_or(""));
    }
    b = attrs(b);
    if let Some(s) = software {
        b = b.software(s);
    }
    match signer {
        Some((key, IntegrityKind::Sha1)) => b = b.integrity(key),
        Some((key, IntegrityKind::Sha256)) => b = b.integrity_sha256(key),
        None => {}
    }
    b.fingerprint()
}

/// The sans-IO TURN server.
pub struct Server {
    config: Config,
    creds: Credentials,
    nonces: Box<dyn NonceSource>,
    allocations: HashMap<u64, Allocation>,
    by_five: HashMap<FiveTuple, u64>,
    by_relay: HashMap<SocketAddr, u64>,
    per_user: HashMap<String, u32>,
    ports: RelayPorts,
    timers: BinaryHeap<Reverse<(Time, u64)>>,
    reservations: HashMap<[u8; 8], Reservation>,
    reservation_timers: BinaryHeap<Reverse<(Time, [u8; 8])>>,
    out: VecDeque<Output>,
    next_id: u64,
    indications: u64,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("profile", &self.config.profile)
            .field("realm", &self.config.realm)
            .field("allocations", &self.allocations.len())
            .finish()
    }
}

impl Server {
    /// A server with `config`, issuing and checking nonces with `nonces`.
    pub fn new(config: Config, nonces: Box<dyn NonceSource>) -> Server {
        let creds = Credentials::new(&config.realm, &config.credentials);
        let ports = RelayPorts::new(config.relay_ports.clone(), config.port_seed);
        Server {
            creds,
            nonces,
            allocations: HashMap::new(),
            by_five: HashMap::new(),
            by_relay: HashMap::new(),
            per_user: HashMap::new(),
            ports,
            timers: BinaryHeap::new(),
            reservations: HashMap::new(),
            reservation_timers: BinaryHeap::new(),
            out: VecDeque::new(),
            next_id: 1,
            indications: config.port_seed,
            config,
        }
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The next thing to do, in order. Call until `None` after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Everything queued, at once.
    pub fn drain_outputs(&mut self) -> impl Iterator<Item = Output> + '_ {
        self.out.drain(..)
    }

    /// When `handle_timeout` next has work (expiries), if ever.
    pub fn poll_timeout(&self) -> Option<Time> {
        let a = self.timers.peek().map(|Reverse((t, _))| *t);
        let r = self.reservation_timers.peek().map(|Reverse((t, _))| *t);
        match (a, r) {
            (Some(a), Some(r)) => Some(a.min(r)),
            (a, r) => a.or(r),
        }
    }

    /// Let a reservation be redeemed with another token (replay: the captured server issued
    /// `theirs` where the core issued `ours`). False if `ours` is not a live reservation.
    pub fn rename_reservation(&mut self, ours: [u8; 8], theirs: [u8; 8]) -> bool {
        let Some(r) = self.reservations.remove(&ours) else {
            return false;
        };
        self.reservations.insert(theirs, r);
        self.reservation_timers.push(Reverse((r.expires, theirs)));
        true
    }

    /// Ports held by EVEN-PORT reservations.
    pub fn reservation_count(&self) -> usize {
        self.reservations.len()
    }

    /// Allocations held now (those still binding included).
    pub fn allocation_count(&self) -> usize {
        self.allocations.len()
    }

    fn info(a: &Allocation) -> AllocationInfo {
        let mut permissions: Vec<(IpAddr, Time)> =
            a.permissions.iter().map(|(ip, t)| (*ip, *t)).collect();
        permissions.sort();
        let mut channels: Vec<(u16, SocketAddr, Time)> = a
            .channels
            .iter()
            .map(|(n, c)| (*n, c.peer, c.expires))
            .collect();
        channels.sort_by_key(|c| c.0);
        AllocationInfo {
            client: a.five,
            user: a.user.clone(),
            relay: a.relay,
            active: a.is_active(),
            expires: a.expires,
            permissions,
            channels,
        }
    }

    /// Every allocation (live or not yet swept).
    pub fn allocations(&self) -> Vec<AllocationInfo> {
        self.allocations.values().map(Self::info).collect()
    }

    /// The allocation on relayed address `relay`, if any.
    pub fn allocation_by_relay(&self, relay: SocketAddr) -> Option<AllocationInfo> {
        let id = self.by_relay.get(&relay)?;
        self.allocations.get(id).map(Self::info)
    }

    /// The allocation of the client 5-tuple `client`, if any.
    pub fn allocation_by_client(&self, client: &FiveTuple) -> Option<AllocationInfo> {
        let id = self.by_five.get(client)?;
        self.allocations.get(id).map(Self::info)
    }

    /// True when data from `peer` would be relayed by the allocation on `relay` at `now`.
    pub fn has_permission(&self, relay: SocketAddr, peer: IpAddr, now: Time) -> bool {
        self.by_relay
            .get(&relay)
            .and_then(|id| self.allocations.get(id))
            .is_some_and(|a| a.is_active() && now < a.expires && a.permitted(peer, now))
    }

    // ----- inputs ------------------------------------------------------------------------

    /// A datagram (UDP) or one framed message (TCP) from a client to the server address
    /// `server`, received at `now`.
    pub fn handle_client(
        &mut self,
        now: Time,
        transport: Transport,
        client: SocketAddr,
        server: SocketAddr,
        bytes: &[u8],
    ) -> Handled {
        let five = FiveTuple {
            transport,
            client,
            server,
        };
        match bytes.first() {
            Some(0..=3) => self.client_stun(now, five, bytes),
            Some(0x40..=0x7F) => self.client_channel_data(now, five, bytes),
            _ => Handled::Dropped(DropReason::NotTurn),
        }
    }

    /// A datagram from `peer` arriving on the relay socket `relay` at `now`.
    pub fn handle_peer(
        &mut self,
        now: Time,
        relay: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
    ) -> Handled {
        let Some(&id) = self.by_relay.get(&relay) else {
            return Handled::Dropped(DropReason::NoAllocation);
        };
        if !self.is_live(id, now) {
            return Handled::Dropped(DropReason::NoAllocation);
        }
        let Some(a) = self.allocations.get(&id) else {
            return Handled::Dropped(DropReason::NoAllocation);
        };
        if !a.is_active() {
            return Handled::Dropped(DropReason::NoAllocation);
        }
        if !a.permitted(peer.ip(), now) {
            return Handled::Dropped(DropReason::NoPermission(peer.ip()));
        }
        let bytes = if let Some(channel) = a.channel_for(peer, now) {
            if data.len() > usize::from(u16::MAX) {
                return Handled::Dropped(DropReason::TooLarge);
            }
            channel_data(channel, data, a.five.transport == Transport::Tcp)
        } else {
            // Header 20, XOR-PEER-ADDRESS up to 24, DATA header 4, padding 3.
            if data.len() + 51 > usize::from(u16::MAX) {
                return Handled::Dropped(DropReason::TooLarge);
            }
            self.indications = self.indications.wrapping_add(1);
            let mut id = [0u8; 12];
            id[..8].copy_from_slice(&self.indications.to_be_bytes());
            id[8..].copy_from_slice(b"tsdi");
            MessageBuilder::new(Method::DATA, Class::Indication, TransactionId::new(id))
                .xor_address(attr::XOR_PEER_ADDRESS, peer)
                .data(data)
                .build()
        };
        self.out.push_back(Output::ToClient { to: a.five, bytes });
        Handled::Relayed
    }

    /// The I/O layer's answer to [`Output::BindRelay`]: the socket is bound (`ok`) or not
    /// (as [`Server::relay_bind_failed`] with [`BindFailure::Other`]).
    /// Returns the Allocate's answer once there is one.
    pub fn relay_bound(&mut self, now: Time, relay: SocketAddr, ok: bool) -> Option<Answer> {
        let Some(&id) = self.by_relay.get(&relay) else {
            if ok {
                // The allocation went away meanwhile: the socket is nobody's.
                self.out.push_back(Output::ReleaseRelay { relay });
            }
            return None;
        };
        let software = self.config.software.clone();
        let a = self.allocations.get_mut(&id)?;
        let State::Binding {
            additional_family_error,
            token,
            ..
        } = a.state
        else {
            return None;
        };
        let ctx = Ctx {
            five: a.five,
            method: Method::ALLOCATE,
            txid: a.allocate_txid,
        };
        if ok {
            a.state = State::Active;
            a.expires = now + Duration::from_secs(u64::from(a.lifetime));
            let (client, lifetime) = (a.five.client, a.lifetime);
            let bytes = build_response(
                &ctx,
                None,
                software.as_deref(),
                Some((&a.key, a.kind)),
                |b| {
                    let b = b
                        .xor_address(attr::XOR_RELAYED_ADDRESS, relay)
                        .lifetime(lifetime)
                        .xor_address(attr::XOR_MAPPED_ADDRESS, client);
                    let b = match token {
                        Some(t) => b.attr(attr::RESERVATION_TOKEN, &t),
                        None => b,
                    };
                    if additional_family_error {
                        let mut v = vec![0x02, 0, 4, 40];
                        v.extend_from_slice(b"Address Family not Supported");
                        b.attr(attr::ADDRESS_ERROR_CODE, &v)
                    } else {
                        b
                    }
                },
            );
            a.allocate_response = bytes.clone();
            let user = a.user.clone();
            self.out.push_back(Output::ToClient {
                to: ctx.five,
                bytes,
            });
            self.out.push_back(Output::Event(Event::Allocated {
                client: ctx.five,
                user: user.clone(),
                relay,
                lifetime,
            }));
            self.schedule(id);
            return Some(Answer {
                method: Method::ALLOCATE,
                code: None,
                reason: Reason::Authenticated { user },
            });
        }
        self.relay_bind_failed(now, relay, BindFailure::Other)
    }

    /// The I/O layer could not bind the relay socket on `relay`, for the reason given. A port
    /// in use (or failing for an unknown reason) is skipped for a while and another is tried,
    /// a few times; when the process has no descriptor left, no port is to blame: the port is
    /// released, not blocked, and the Allocate is answered 508 at once (other ports would fail
    /// the same way). Returns the Allocate's answer once there is one.
    pub fn relay_bind_failed(
        &mut self,
        now: Time,
        relay: SocketAddr,
        why: BindFailure,
    ) -> Option<Answer> {
        let &id = self.by_relay.get(&relay)?;
        let a = self.allocations.get(&id)?;
        let State::Binding {
            even,
            attempts,
            additional_family_error,
            token,
        } = a.state
        else {
            return None;
        };
        let ctx = Ctx {
            five: a.five,
            method: Method::ALLOCATE,
            txid: a.allocate_txid,
        };
        let family = a.family;
        self.by_relay.remove(&relay);
        if why == BindFailure::NoDescriptors {
            self.ports.release(family, relay.port());
        } else {
            self.ports.block(family, relay.port(), now);
        }
        if why != BindFailure::NoDescriptors && attempts < BIND_ATTEMPTS {
            if let Some(port) = self.ports.acquire(family, even, now) {
                let new_relay = SocketAddr::new(relay.ip(), port);
                if let Some(a) = self.allocations.get_mut(&id) {
                    a.relay = new_relay;
                    a.state = State::Binding {
                        even,
                        attempts: attempts + 1,
                        additional_family_error,
                        token,
                    };
                }
                self.by_relay.insert(new_relay, id);
                self.out.push_back(Output::BindRelay { relay: new_relay });
                return None;
            }
        }
        let a = self.remove(id)?;
        let reason = match why {
            BindFailure::NoDescriptors => Reason::NoDescriptors,
            BindFailure::PortInUse | BindFailure::Other => Reason::BindFailed,
        };
        let h = self.respond(&ctx, Some(508), reason, Some((&a.key, a.kind)), |b| b);
        h.answer().cloned()
    }

    /// The client's TCP connection closed: its allocation goes with it.
    pub fn handle_disconnect(&mut self, _now: Time, client: FiveTuple) {
        if let Some(&id) = self.by_five.get(&client) {
            self.delete(id, DeleteReason::Disconnected);
        }
    }

    /// End every allocation (the server is stopping): each is released and logged.
    pub fn shutdown(&mut self, _now: Time) {
        let mut ids: Vec<u64> = self.allocations.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            self.delete(id, DeleteReason::Shutdown);
        }
        for (_, r) in self.reservations.drain() {
            self.ports.release(r.family, r.relay.port());
        }
    }

    /// Expire what is due at `now`.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some(Reverse((t, token))) = self.reservation_timers.peek().copied() {
            if t > now {
                break;
            }
            self.reservation_timers.pop();
            if let Some(r) = self.reservations.get(&token).copied() {
                if r.expires <= now {
                    self.reservations.remove(&token);
                    self.ports.release(r.family, r.relay.port());
                }
            }
        }
        let quarantine = self.config.channel_quarantine;
        while let Some(Reverse((t, id))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(a) = self.allocations.get_mut(&id) else {
                continue;
            };
            if a.scheduled != Some(t) {
                continue;
            }
            a.scheduled = None;
            if a.expires <= now {
                self.delete(id, DeleteReason::Expired);
                continue;
            }
            a.sweep(now, quarantine);
            self.schedule(id);
        }
    }

    // ----- bookkeeping -------------------------------------------------------------------

    fn schedule(&mut self, id: u64) {
        let quarantine = self.config.channel_quarantine;
        let Some(a) = self.allocations.get_mut(&id) else {
            return;
        };
        let next = a.next_deadline(quarantine);
        if !matches!(a.scheduled, Some(s) if s <= next) {
            a.scheduled = Some(next);
            self.timers.push(Reverse((next, id)));
        }
    }

    /// False (and the allocation deleted) when its lifetime is over.
    fn is_live(&mut self, id: u64, now: Time) -> bool {
        match self.allocations.get(&id) {
            None => false,
            Some(a) if a.expires <= now => {
                self.delete(id, DeleteReason::Expired);
                false
            }
            Some(_) => true,
        }
    }

    /// The live allocation on a 5-tuple.
    fn live(&mut self, five: &FiveTuple, now: Time) -> Option<u64> {
        let id = *self.by_five.get(five)?;
        self.is_live(id, now).then_some(id)
    }

    /// Take an allocation out of every index and give its port back.
    fn remove(&mut self, id: u64) -> Option<Allocation> {
        let a = self.allocations.remove(&id)?;
        if self.by_five.get(&a.five) == Some(&id) {
            self.by_five.remove(&a.five);
        }
        if self.by_relay.get(&a.relay) == Some(&id) {
            self.by_relay.remove(&a.relay);
        }
        if let Some(n) = self.per_user.get_mut(&a.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_user.remove(&a.user);
            }
        }
        self.ports.release(a.family, a.relay.port());
        Some(a)
    }

    fn delete(&mut self, id: u64, reason: DeleteReason) {
        if let Some(a) = self.remove(id) {
            if a.is_active() {
                self.out.push_back(Output::ReleaseRelay { relay: a.relay });
                self.out.push_back(Output::Event(Event::Deleted {
                    client: a.five,
                    user: a.user,
                    relay: a.relay,
                    reason,
                }));
            }
        }
    }

    fn lifetime(&self, requested: Option<u32>) -> u32 {
        let default = secs(self.config.default_lifetime);
        let max = secs(self.config.max_lifetime);
        match requested {
            Some(r) if r.min(max) > default => r.min(max),
            _ => default,
        }
    }

    // ----- responses ---------------------------------------------------------------------

    fn respond(
        &mut self,
        ctx: &Ctx,
        code: Option<u16>,
        reason: Reason,
        signer: Option<(&Key, IntegrityKind)>,
        attrs: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) -> Handled {
        let bytes = build_response(ctx, code, self.config.software.as_deref(), signer, attrs);
        self.out.push_back(Output::ToClient {
            to: ctx.five,
            bytes,
        });
        if let Some(c) = code {
            // Challenges and nonce rotation are routine; malformed input and non-TURN methods
            // are no allocation event (and would let spoofed garbage flood the log).
            let routine = matches!(
                reason,
                Reason::Challenge
                    | Reason::Nonce(_)
                    | Reason::Malformed(_)
                    | Reason::UnknownMethod(_)
            ) || ctx.method == Method::BINDING;
            if !routine {
                self.out.push_back(Output::Event(Event::Refused {
                    client: ctx.five,
                    method: ctx.method,
                    code: c,
                    reason: reason.to_string(),
                }));
            }
        }
        Handled::Answered(Answer {
            method: ctx.method,
            code,
            reason,
        })
    }

    fn error(&mut self, ctx: &Ctx, code: u16, reason: Reason, auth: Option<&Auth>) -> Handled {
        self.respond(ctx, Some(code), reason, auth.and_then(Auth::signer), |b| b)
    }

    /// 401 / 431 / 438: REALM and a fresh NONCE for this 5-tuple, no integrity.
    fn challenge(&mut self, now: Time, ctx: &Ctx, code: u16, reason: Reason) -> Handled {
        let nonce = self.nonces.issue(now, &ctx.five);
        let realm = self.config.realm.clone();
        self.respond(ctx, Some(code), reason, None, |b| {
            b.realm(&realm).nonce(nonce.as_bytes())
        })
    }

    /// A STUN request header whose body does not parse: 400 if it can be answered at all.
    fn malformed(&mut self, five: FiveTuple, bytes: &[u8], err: String) -> Handled {
        let (Some(typ), Some(cookie), Some(id)) =
            (bytes.get(0..2), bytes.get(4..8), bytes.get(8..20))
        else {
            return Handled::Dropped(DropReason::Malformed);
        };
        let (method, class) = split_type(u16::from_be_bytes([typ[0], typ[1]]));
        if class != Class::Request || cookie != MAGIC_COOKIE.to_be_bytes() {
            return Handled::Dropped(DropReason::Malformed);
        }
        let mut txid = [0u8; 12];
        txid.copy_from_slice(id);
        let ctx = Ctx {
            five,
            method,
            txid: TransactionId::new(txid),
        };
        self.error(&ctx, 400, Reason::Malformed(err), None)
    }

    // ----- client STUN -------------------------------------------------------------------

    fn client_stun(&mut self, now: Time, five: FiveTuple, bytes: &[u8]) -> Handled {
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => return self.malformed(five, bytes, e.to_string()),
        };
        if msg.is_rfc3489() {
            if msg.method() == Method::BINDING && msg.class() == Class::Request {
                let out =
                    MessageBuilder::new(Method::BINDING, Class::Success, msg.transaction_id())
                        .address(attr::MAPPED_ADDRESS, five.client)
                        .build();
                self.out.push_back(Output::ToClient {
                    to: five,
                    bytes: out,
                });
                return Handled::Answered(Answer {
                    method: Method::BINDING,
                    code: None,
                    reason: Reason::Binding,
                });
            }
            return Handled::Dropped(DropReason::Ignored);
        }
        if matches!(
            msg.verify_fingerprint(),
            FingerprintVerdict::Invalid { .. } | FingerprintVerdict::Misplaced
        ) {
            return Handled::Dropped(DropReason::BadFingerprint);
        }
        match msg.class() {
            // Only what the integrity covers counts (RFC 8489 section 14.5): an attribute
            // appended to a signed request must not steer it (a peer, a lifetime of 0).
            Class::Request => self.request(now, five, &msg.protected()),
            Class::Indication if msg.method() == Method::SEND => {
                self.send_indication(now, five, &msg)
            }
            _ => Handled::Dropped(DropReason::Ignored),
        }
    }

    fn request(&mut self, now: Time, five: FiveTuple, msg: &Message<'_>) -> Handled {
        let ctx = Ctx {
            five,
            method: msg.method(),
            txid: msg.transaction_id(),
        };
        match ctx.method {
            Method::BINDING => {
                let unknown = unknown_required(msg);
                if !unknown.is_empty() {
                    return self.respond(
                        &ctx,
                        Some(420),
                        Reason::UnknownAttributes(unknown.clone()),
                        None,
                        |b| b.unknown_attributes(&unknown),
                    );
                }
                self.respond(&ctx, None, Reason::Binding, None, |b| {
                    b.xor_address(attr::XOR_MAPPED_ADDRESS, five.client)
                })
            }
            Method::ALLOCATE
            | Method::REFRESH
            | Method::CREATE_PERMISSION
            | Method::CHANNEL_BIND => {
                if ctx.method == Method::ALLOCATE {
                    if let Some(h) = self.allocate_retransmission(now, &ctx) {
                        return h;
                    }
                }
                let auth = match self.authenticate(now, &ctx, msg) {
                    Ok(a) => a,
                    Err(h) => return h,
                };
                let unknown = unknown_required(msg);
                if !unknown.is_empty() {
                    return self.respond(
                        &ctx,
                        Some(420),
                        Reason::UnknownAttributes(unknown.clone()),
                        auth.signer(),
                        |b| b.unknown_attributes(&unknown),
                    );
                }
                match ctx.method {
                    Method::ALLOCATE => self.allocate(now, &ctx, msg, auth),
                    Method::REFRESH => self.refresh(now, &ctx, msg, auth),
                    Method::CREATE_PERMISSION => self.create_permission(now, &ctx, msg, auth),
                    _ => self.channel_bind(now, &ctx, msg, auth),
                }
            }
            m => self.error(&ctx, 400, Reason::UnknownMethod(m), None),
        }
    }

    /// RFC 8489 section 9.2.4, in its order: integrity present, USERNAME / REALM / NONCE
    /// present, user known, integrity verifies, nonce valid.
    fn authenticate(&mut self, now: Time, ctx: &Ctx, msg: &Message<'_>) -> Result<Auth, Handled> {
        let Some((_, kind)) = msg.integrity_attribute() else {
            return Err(self.challenge(now, ctx, 401, Reason::Challenge));
        };
        let user = match text_attr(msg, attr::USERNAME) {
            Err(r) => return Err(self.error(ctx, 400, r, None)),
            Ok(u) => u,
        };
        let realm = match text_attr(msg, attr::REALM) {
            Err(r) => return Err(self.error(ctx, 400, r, None)),
            Ok(r) => r,
        };
        let Some(nonce) = msg.nonce() else {
            return Err(self.error(ctx, 400, Reason::MissingAttribute("NONCE"), None));
        };
        let Some(key) = self.creds.key(user).cloned() else {
            return Err(self.challenge(now, ctx, 401, Reason::UnknownUser(user.to_string())));
        };
        if !matches!(
            msg.verify_integrity(&key),
            crate::wire::IntegrityVerdict::Verified(_)
        ) {
            let code = self.config.profile.integrity_failure_code();
            let reason = if realm != self.config.realm {
                Reason::RealmMismatch {
                    user: user.to_string(),
                    realm: realm.to_string(),
                    expected: self.config.realm.clone(),
                }
            } else {
                Reason::IntegrityFailed {
                    user: user.to_string(),
                }
            };
            return Err(self.challenge(now, ctx, code, reason));
        }
        match self.nonces.check(nonce, now, &ctx.five) {
            NonceCheck::Valid => Ok(Auth {
                user: user.to_string(),
                key,
                kind,
            }),
            other => Err(self.challenge(now, ctx, 438, Reason::Nonce(other))),
        }
    }

    // ----- Allocate ----------------------------------------------------------------------

    fn allocate_retransmission(&mut self, now: Time, ctx: &Ctx) -> Option<Handled> {
        let id = self.live(&ctx.five, now)?;
        let a = self.allocations.get(&id)?;
        if a.allocate_txid != ctx.txid {
            return None;
        }
        if !a.is_active() {
            return Some(Handled::Dropped(DropReason::InProgress));
        }
        let bytes = a.allocate_response.clone();
        self.out.push_back(Output::ToClient {
            to: ctx.five,
            bytes,
        });
        Some(Handled::Answered(Answer {
            method: Method::ALLOCATE,
            code: None,
            reason: Reason::Retransmission,
        }))
    }

    fn allocate(&mut self, now: Time, ctx: &Ctx, msg: &Message<'_>, auth: Auth) -> Handled {
        let a = Some(&auth);
        if self.live(&ctx.five, now).is_some() {
            return self.error(ctx, 437, Reason::AllocationExists, a);
        }
        match msg.raw_attribute(attr::REQUESTED_TRANSPORT) {
            None => {
                return self.error(ctx, 400, Reason::MissingAttribute("REQUESTED-TRANSPORT"), a)
            }
            Some(_) => match msg.requested_transport() {
                None => {
                    return self.error(ctx, 400, Reason::BadAttribute("REQUESTED-TRANSPORT"), a)
                }
                Some(UDP) => {}
                Some(p) => return self.error(ctx, 442, Reason::UnsupportedTransport(p), a),
            },
        }
        let (even, reserve) = match decoded(msg, attr::EVEN_PORT) {
            Err(()) => return self.error(ctx, 400, Reason::BadAttribute("EVEN-PORT"), a),
            Ok(Some(Attribute::EvenPort { reserve })) => (true, reserve),
            Ok(_) => (false, false),
        };
        let requested_family = match decoded(msg, attr::REQUESTED_ADDRESS_FAMILY) {
            Err(()) => {
                return self.error(
                    ctx,
                    400,
                    Reason::BadAttribute("REQUESTED-ADDRESS-FAMILY"),
                    a,
                )
            }
            Ok(Some(Attribute::RequestedAddressFamily(f))) => Some(f),
            Ok(_) => None,
        };
        let additional_family = match decoded(msg, attr::ADDITIONAL_ADDRESS_FAMILY) {
            Err(()) => {
                return self.error(
                    ctx,
                    400,
                    Reason::BadAttribute("ADDITIONAL-ADDRESS-FAMILY"),
                    a,
                )
            }
            Ok(Some(Attribute::AdditionalAddressFamily(f))) => Some(f),
            Ok(_) => None,
        };
        let token = match msg.raw_attribute(attr::RESERVATION_TOKEN) {
            None => None,
            Some(raw) => match <[u8; 8]>::try_from(raw.value) {
                Ok(t) => Some(t),
                Err(_) => {
                    return self.error(ctx, 400, Reason::BadAttribute("RESERVATION-TOKEN"), a)
                }
            },
        };
        if token.is_some() && (even || requested_family.is_some()) {
            return self.error(
                ctx,
                400,
                Reason::Conflict("RESERVATION-TOKEN with EVEN-PORT or REQUESTED-ADDRESS-FAMILY"),
                a,
            );
        }
        if requested_family.is_some() && additional_family.is_some() {
            return self.error(
                ctx,
                400,
                Reason::Conflict("both REQUESTED- and ADDITIONAL-ADDRESS-FAMILY"),
                a,
            );
        }
        let family = match requested_family {
            None | Some(Family::V4) => 0,
            Some(Family::V6) => 1,
            Some(other) => {
                return self.error(ctx, 440, Reason::AddressFamily(other.to_string()), a)
            }
        };
        let additional_family_error = match additional_family {
            None => false,
            Some(Family::V6) => true,
            Some(_) => {
                return self.error(
                    ctx,
                    400,
                    Reason::Conflict("ADDITIONAL-ADDRESS-FAMILY must be IPv6"),
                    a,
                )
            }
        };
        let relay_ip = if family == 0 {
            self.config.relay_v4
        } else {
            self.config.relay_v6
        };
        let Some(relay_ip) = relay_ip else {
            return self.error(
                ctx,
                440,
                Reason::AddressFamily(family_name(family).to_string()),
                a,
            );
        };
        if let Some(quota) = self.config.user_quota {
            let held = self.per_user.get(&auth.user).copied().unwrap_or(0);
            if held >= quota {
                let reason = Reason::UserQuota {
                    user: auth.user.clone(),
                    held,
                    quota,
                };
                return self.error(ctx, 486, reason, a);
            }
        }
        if let Some(cap) = self.config.max_allocations {
            if self.allocations.len() >= cap as usize {
                return self.error(ctx, 508, Reason::Capacity { cap }, a);
            }
        }
        let exhausted = |s: &Self| Reason::PortsExhausted {
            min: *s.config.relay_ports.start(),
            max: *s.config.relay_ports.end(),
        };
        let mut new_token = None;
        let (family, relay) = if let Some(t) = token {
            match self.reservations.remove(&t) {
                Some(r) if now < r.expires => (r.family, r.relay),
                Some(r) => {
                    self.ports.release(r.family, r.relay.port());
                    return self.error(ctx, 508, Reason::NoReservation, a);
                }
                None => return self.error(ctx, 508, Reason::NoReservation, a),
            }
        } else if reserve {
            let Some(port) = self.ports.acquire_pair(family, now) else {
                let reason = exhausted(self);
                return self.error(ctx, 508, reason, a);
            };
            let t = self.ports.token();
            let expires = now + self.config.reservation_lifetime;
            let held = SocketAddr::new(relay_ip, port + 1);
            self.reservations.insert(
                t,
                Reservation {
                    relay: held,
                    family,
                    expires,
                },
            );
            self.reservation_timers.push(Reverse((expires, t)));
            new_token = Some(t);
            (family, SocketAddr::new(relay_ip, port))
        } else {
            let Some(port) = self.ports.acquire(family, even, now) else {
                let reason = exhausted(self);
                return self.error(ctx, 508, reason, a);
            };
            (family, SocketAddr::new(relay_ip, port))
        };
        let lifetime = self.lifetime(msg.lifetime());
        let id = self.next_id;
        self.next_id += 1;
        *self.per_user.entry(auth.user.clone()).or_insert(0) += 1;
        self.allocations.insert(
            id,
            Allocation {
                five: ctx.five,
                user: auth.user,
                key: auth.key,
                kind: auth.kind,
                relay,
                family,
                state: State::Binding {
                    even,
                    attempts: 1,
                    additional_family_error,
                    token: new_token,
                },
                expires: now + Duration::from_secs(u64::from(lifetime)),
                lifetime,
                permissions: HashMap::new(),
                channels: HashMap::new(),
                peer_channels: HashMap::new(),
                allocate_txid: ctx.txid,
                allocate_response: Vec::new(),
                scheduled: None,
            },
        );
        self.by_five.insert(ctx.five, id);
        self.by_relay.insert(relay, id);
        self.schedule(id);
        self.out.push_back(Output::BindRelay { relay });
        Handled::Pending
    }

    /// The live, active allocation on the request's 5-tuple, owned by the requester; or the
    /// 437 / 441 answer.
    fn owned(&mut self, now: Time, ctx: &Ctx, auth: &Auth) -> Result<u64, Handled> {
        let id = match self.live(&ctx.five, now) {
            Some(id) if self.allocations.get(&id).is_some_and(Allocation::is_active) => id,
            _ => return Err(self.error(ctx, 437, Reason::NoAllocation, Some(auth))),
        };
        let owner = self
            .allocations
            .get(&id)
            .map(|a| a.user.clone())
            .unwrap_or_default();
        if owner != auth.user {
            let reason = Reason::WrongCredentials {
                user: auth.user.clone(),
                owner,
            };
            return Err(self.error(ctx, 441, reason, Some(auth)));
        }
        Ok(id)
    }

    // ----- Refresh -----------------------------------------------------------------------

    fn refresh(&mut self, now: Time, ctx: &Ctx, msg: &Message<'_>, auth: Auth) -> Handled {
        let id = match self.owned(now, ctx, &auth) {
            Ok(id) => id,
            Err(h) => return h,
        };
        let family = self.allocations.get(&id).map_or(0, |a| a.family);
        match decoded(msg, attr::REQUESTED_ADDRESS_FAMILY) {
            Err(()) => {
                return self.error(
                    ctx,
                    400,
                    Reason::BadAttribute("REQUESTED-ADDRESS-FAMILY"),
                    Some(&auth),
                )
            }
            Ok(Some(Attribute::RequestedAddressFamily(f))) => {
                let matches = matches!((f, family), (Family::V4, 0) | (Family::V6, 1));
                if !matches {
                    return self.error(
                        ctx,
                        443,
                        Reason::Conflict("REQUESTED-ADDRESS-FAMILY differs from the allocation's"),
                        Some(&auth),
                    );
                }
            }
            Ok(_) => {}
        }
        let requested = msg.lifetime();
        let reason = Reason::Authenticated {
            user: auth.user.clone(),
        };
        if requested == Some(0) {
            self.delete(id, DeleteReason::Refresh);
            return self.respond(ctx, None, reason, auth.signer(), |b| b.lifetime(0));
        }
        let lifetime = self.lifetime(requested);
        if let Some(a) = self.allocations.get_mut(&id) {
            a.expires = now + Duration::from_secs(u64::from(lifetime));
            a.lifetime = lifetime;
            let ev = Event::Refreshed {
                client: a.five,
                user: a.user.clone(),
                relay: a.relay,
                lifetime,
            };
            self.out.push_back(Output::Event(ev));
        }
        self.schedule(id);
        self.respond(ctx, None, reason, auth.signer(), |b| b.lifetime(lifetime))
    }

    // ----- CreatePermission / ChannelBind ------------------------------------------------

    /// 443 / 403 for a peer this allocation may not name.
    fn check_peer(
        &mut self,
        ctx: &Ctx,
        auth: &Auth,
        family: usize,
        peer: SocketAddr,
    ) -> Result<(), Handled> {
        if family_index(peer.ip()) != family {
            return Err(self.error(ctx, 443, Reason::PeerFamilyMismatch(peer), Some(auth)));
        }
        if let Err(rule) = self.config.peer_policy.check(peer.ip()) {
            let reason = Reason::PeerDenied {
                peer: peer.ip(),
                rule,
            };
            return Err(self.error(ctx, 403, reason, Some(auth)));
        }
        Ok(())
    }

    fn create_permission(
        &mut self,
        now: Time,
        ctx: &Ctx,
        msg: &Message<'_>,
        auth: Auth,
    ) -> Handled {
        let id = match self.owned(now, ctx, &auth) {
            Ok(id) => id,
            Err(h) => return h,
        };
        let raw = msg
            .attributes()
            .filter_map(Result::ok)
            .filter(|a| a.typ == attr::XOR_PEER_ADDRESS)
            .count();
        let peers: Vec<SocketAddr> = msg.xor_peer_addresses().collect();
        if raw == 0 {
            return self.error(
                ctx,
                400,
                Reason::MissingAttribute("XOR-PEER-ADDRESS"),
                Some(&auth),
            );
        }
        if peers.len() != raw {
            return self.error(
                ctx,
                400,
                Reason::BadAttribute("XOR-PEER-ADDRESS"),
                Some(&auth),
            );
        }
        let family = self.allocations.get(&id).map_or(0, |a| a.family);
        for p in &peers {
            if let Err(h) = self.check_peer(ctx, &auth, family, *p) {
                return h;
            }
        }
        let max = self.config.max_permissions;
        let expires = now + self.config.permission_lifetime;
        let Some(a) = self.allocations.get_mut(&id) else {
            return self.error(ctx, 437, Reason::NoAllocation, Some(&auth));
        };
        let mut fresh: Vec<IpAddr> = peers
            .iter()
            .map(|p| p.ip())
            .filter(|ip| !a.permitted(*ip, now))
            .collect();
        fresh.sort();
        fresh.dedup();
        let live = a.permissions.values().filter(|t| now < **t).count();
        if live + fresh.len() > max as usize {
            return self.error(ctx, 508, Reason::TooManyPermissions { max }, Some(&auth));
        }
        for p in &peers {
            a.permissions.insert(p.ip(), expires);
        }
        let (five, relay) = (a.five, a.relay);
        for peer in fresh {
            self.out.push_back(Output::Event(Event::Permission {
                client: five,
                relay,
                peer,
            }));
        }
        self.schedule(id);
        let reason = Reason::Authenticated {
            user: auth.user.clone(),
        };
        self.respond(ctx, None, reason, auth.signer(), |b| b)
    }

    fn channel_bind(&mut self, now: Time, ctx: &Ctx, msg: &Message<'_>, auth: Auth) -> Handled {
        let id = match self.owned(now, ctx, &auth) {
            Ok(id) => id,
            Err(h) => return h,
        };
        let au = Some(&auth);
        let channel = match decoded(msg, attr::CHANNEL_NUMBER) {
            Err(()) => return self.error(ctx, 400, Reason::BadAttribute("CHANNEL-NUMBER"), au),
            Ok(Some(Attribute::ChannelNumber(c))) => c,
            Ok(_) => return self.error(ctx, 400, Reason::MissingAttribute("CHANNEL-NUMBER"), au),
        };
        if !crate::wire::channel::is_channel_number(channel) {
            return self.error(ctx, 400, Reason::BadChannelNumber(channel), au);
        }
        let peer = match decoded(msg, attr::XOR_PEER_ADDRESS) {
            Err(()) => return self.error(ctx, 400, Reason::BadAttribute("XOR-PEER-ADDRESS"), au),
            Ok(Some(Attribute::XorPeerAddress(p))) => p,
            Ok(_) => return self.error(ctx, 400, Reason::MissingAttribute("XOR-PEER-ADDRESS"), au),
        };
        let family = self.allocations.get(&id).map_or(0, |a| a.family);
        if let Err(h) = self.check_peer(ctx, &auth, family, peer) {
            return h;
        }
        let max = self.config.max_channels;
        let max_permissions = self.config.max_permissions;
        let channel_expires = now + self.config.channel_lifetime;
        let permission_expires = now + self.config.permission_lifetime;
        let Some(a) = self.allocations.get_mut(&id) else {
            return self.error(ctx, 437, Reason::NoAllocation, au);
        };
        if let Some(c) = a.channels.get(&channel) {
            if c.peer != peer {
                let reason = Reason::ChannelInUse {
                    channel,
                    peer: c.peer,
                };
                return self.error(ctx, 400, reason, au);
            }
        }
        if let Some(&n) = a.peer_channels.get(&peer) {
            if n != channel {
                let reason = Reason::PeerHasChannel { peer, channel: n };
                return self.error(ctx, 400, reason, au);
            }
        }
        let new_channel = !a.channels.contains_key(&channel);
        if new_channel && a.channels.len() >= max as usize {
            return self.error(ctx, 508, Reason::TooManyChannels { max }, au);
        }
        let new_permission = !a.permitted(peer.ip(), now);
        if new_permission {
            let live = a.permissions.values().filter(|t| now < **t).count();
            if live >= max_permissions as usize {
                let reason = Reason::TooManyPermissions {
                    max: max_permissions,
                };
                return self.error(ctx, 508, reason, au);
            }
        }
        let was_live = a.channel_peer(channel, now).is_some();
        a.channels.insert(
            channel,
            Channel {
                peer,
                expires: channel_expires,
            },
        );
        a.peer_channels.insert(peer, channel);
        a.permissions.insert(peer.ip(), permission_expires);
        let (five, relay) = (a.five, a.relay);
        if new_permission {
            self.out.push_back(Output::Event(Event::Permission {
                client: five,
                relay,
                peer: peer.ip(),
            }));
        }
        if !was_live {
            self.out.push_back(Output::Event(Event::Channel {
                client: five,
                relay,
                channel,
                peer,
            }));
        }
        self.schedule(id);
        let reason = Reason::Authenticated {
            user: auth.user.clone(),
        };
        self.respond(ctx, None, reason, auth.signer(), |b| b)
    }

    // ----- data --------------------------------------------------------------------------

    fn send_indication(&mut self, now: Time, five: FiveTuple, msg: &Message<'_>) -> Handled {
        let Some(id) = self.live(&five, now) else {
            return Handled::Dropped(DropReason::NoAllocation);
        };
        let (Some(peer), Some(data)) = (msg.xor_peer_addresses().next(), msg.data()) else {
            return Handled::Dropped(DropReason::BadIndication);
        };
        let Some(a) = self.allocations.get(&id) else {
            return Handled::Dropped(DropReason::NoAllocation);
        };
        if !a.is_active() {
            return Handled::Dropped(DropReason::NoAllocation);
        }
        if family_index(peer.ip()) != a.family {
            return Handled::Dropped(DropReason::PeerFamilyMismatch);
        }
        if !a.permitted(peer.ip(), now) {
            return Handled::Dropped(DropReason::NoPermission(peer.ip()));
        }
        self.out.push_back(Output::ToPeer {
            relay: a.relay,
            peer,
            bytes: data.to_vec(),
        });
        Handled::Relayed
    }

    fn client_channel_data(&mut self, now: Time, five: FiveTuple, bytes: &[u8]) -> Handled {
        let Ok(cd) = ChannelData::parse(bytes, five.transport == Transport::Tcp) else {
            return Handled::Dropped(DropReason::Malformed);
        };
        let Some(&id) = self.by_five.get(&five) else {
            return Handled::Dropped(DropReason::NoAllocation);
        };
        if !self.is_live(id, now) {
            return Handled::Dropped(DropReason::NoAllocation);
        }
        let Some(a) = self.allocations.get(&id) else {
            return Handled::Dropped(DropReason::NoAllocation);
        };
        let Some(peer) = a.channel_peer(cd.channel, now) else {
            return Handled::Dropped(DropReason::NoChannel(cd.channel));
        };
        if !a.is_active() || !a.permitted(peer.ip(), now) {
            return Handled::Dropped(DropReason::NoPermission(peer.ip()));
        }
        self.out.push_back(Output::ToPeer {
            relay: a.relay,
            peer,
            bytes: cd.data.to_vec(),
        });
        Handled::Relayed
    }
}

/// A text attribute (USERNAME, REALM): missing or not UTF-8 is a 400.
fn text_attr<'a>(msg: &Message<'a>, typ: u16) -> Result<&'a str, Reason> {
    let name = attr::name(typ).unwrap_or("attribute");
    let raw = msg
        .raw_attribute(typ)
        .ok_or(Reason::MissingAttribute(name))?;
    std::str::from_utf8(raw.value).map_err(|_| Reason::BadAttribute(name))
}

/// The first attribute of a type, decoded: `Ok(None)` absent, `Err` malformed.
fn decoded<'a>(msg: &Message<'a>, typ: u16) -> Result<Option<Attribute<'a>>, ()> {
    match msg.attribute(typ) {
        None => Ok(None),
        Some(Ok(a)) => Ok(Some(a)),
        Some(Err(_)) => Err(()),
    }
}

/// Comprehension-required attribute types the server does not understand, each once.
fn unknown_required(msg: &Message<'_>) -> Vec<u16> {
    let mut v: Vec<u16> = Vec::new();
    for a in msg.attributes().filter_map(Result::ok) {
        if attr::is_comprehension_required(a.typ) && !KNOWN.contains(&a.typ) && !v.contains(&a.typ)
        {
            v.push(a.typ);
        }
    }
    v
}
