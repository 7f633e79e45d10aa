//! `turnscope replay`: feed the client requests of captures into the TURN server core, with
//! their captured times, and compare each predicted answer with the captured one.
//!
//! Each capture is replayed through its own core (a capture is one vantage point: its 5-tuples
//! are consistent with each other, not with another capture's, which may sit behind a NAT).
//! A transaction seen in several captures is counted once.
//!
//! Nonces: the core accepts the nonces the captured server issued. How long a nonce lives is the
//! captured server's policy, which no capture can predict: a nonce is valid for a request unless
//! the captured server answered that request 438, in which case it is stale for the core too.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::turn::{
    Answer, Config, FiveTuple, Handled, NonceCheck, NonceSource, Output, PeerPolicy, Profile,
    Reason, Server, Time, Transport,
};
use crate::wire::{attr, Class, Credential, IntegrityVerdict, Key, Message, Method};

/// One STUN message from a capture, as replay needs it (independent of the capture reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedMessage {
    /// The capture's path as given.
    pub capture: String,
    /// 1-based frame number (the frame that completes it, for TCP).
    pub frame: u32,
    /// Nanoseconds since the epoch.
    pub ts_nanos: i64,
    /// UDP, TCP or TLS (the core answers each as it would there).
    pub transport: Transport,
    /// Source address of the message as captured.
    pub src: SocketAddr,
    /// Destination address of the message as captured.
    pub dst: SocketAddr,
    /// One STUN message (or anything else, which is skipped).
    pub bytes: Vec<u8>,
}

/// How to configure the core.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// user -> password, as `--credential USER:PASSWORD`.
    pub credentials: Vec<Credential>,
    /// The server realm; `None`: the REALM the captured server issued, else the profile's.
    pub realm: Option<String>,
    /// Which server the core plays: `rfc` (401 on bad integrity) or `expressway` (431, realm TANDBERG).
    pub profile: Profile,
    /// A per-user allocation quota, if the captured server is known to have one (486).
    pub user_quota: Option<u32>,
}

/// The contract's `replay --format json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Client requests replayed (one per transaction).
    pub requests: usize,
    /// Requests whose predicted answer is the captured one.
    pub agree: usize,
    /// Requests answered otherwise than captured.
    pub differ: usize,
    /// Each disagreement, in capture order.
    pub differences: Vec<Difference>,
}

/// One request the core answers otherwise than the captured server did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// The capture of the request, as given.
    pub capture: String,
    /// The request's frame, 1-based.
    pub frame: u32,
    /// Lower-case method name (`allocate`, `refresh`...).
    pub method: String,
    /// `success`, `error NNN` or `none`.
    pub captured: String,
    /// `success`, `error NNN` or `none`.
    pub predicted: String,
    /// Why the core answers as it does (the check that decided it).
    pub why: String,
}

/// An answer, captured or predicted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Error(u16),
    None,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Success => f.write_str("success"),
            Outcome::Error(c) => write!(f, "error {c}"),
            Outcome::None => f.write_str("none"),
        }
    }
}

fn code_name(c: u16) -> String {
    match attr::error_name(c) {
        Some(n) => format!("{c} ({n})"),
        None => c.to_string(),
    }
}

/// Nonces for replay: anything the captured server issued is valid, unless the captured server
/// called it stale for the request at hand.
#[derive(Clone, Default)]
struct ReplayNonces {
    stale: Arc<Mutex<HashSet<Vec<u8>>>>,
    issued: u64,
}

impl NonceSource for ReplayNonces {
    fn issue(&mut self, _now: Time, _five: &FiveTuple) -> String {
        self.issued += 1;
        format!("turnscope-replay-{}", self.issued)
    }

    /// The captured server's nonces are judged by what it answered, on whatever 5-tuple the
    /// capture shows them (a capture behind a NAT shows another address than the server saw).
    fn check(&self, nonce: &[u8], _now: Time, _five: &FiveTuple) -> NonceCheck {
        let stale = self
            .stale
            .lock()
            .map(|s| s.contains(nonce))
            .unwrap_or(false);
        if stale {
            NonceCheck::Stale {
                age: std::time::Duration::ZERO,
            }
        } else {
            NonceCheck::Valid
        }
    }
}

/// Captured answers by transaction id: (message index, outcome, RESERVATION-TOKEN).
type Answers = HashMap<Vec<u8>, Vec<(usize, Outcome, Option<[u8; 8]>)>>;

/// A request picked for replay, with its captured answer.
struct Picked<'a> {
    msg: &'a CapturedMessage,
    parsed: Message<'a>,
    captured: Outcome,
    /// RESERVATION-TOKEN in the captured answer.
    captured_token: Option<[u8; 8]>,
}

/// The result of one request, before merging across captures.
struct Row {
    capture: String,
    frame: u32,
    txid: Vec<u8>,
    method: Method,
    captured: Outcome,
    predicted: Outcome,
    why: Option<String>,
}

fn is_turn_method(m: Method) -> bool {
    matches!(
        m,
        Method::ALLOCATE | Method::REFRESH | Method::CREATE_PERMISSION | Method::CHANNEL_BIND
    )
}

/// Binding requests with ICE attributes are connectivity checks between agents, not requests
/// to the TURN server.
fn is_ice_check(m: &Message<'_>) -> bool {
    m.has(attr::PRIORITY)
        || m.has(attr::ICE_CONTROLLING)
        || m.has(attr::ICE_CONTROLLED)
        || m.has(attr::USE_CANDIDATE)
}

/// The realm the captured server issued (first REALM in a response), if any.
fn captured_realm(messages: &[CapturedMessage]) -> Option<String> {
    messages.iter().find_map(|m| {
        let p = Message::parse(&m.bytes).ok()?;
        matches!(p.class(), Class::Error | Class::Success)
            .then(|| p.realm().map(str::to_string))
            .flatten()
    })
}

/// Replay `messages` (any order, any number of captures) through the core.
pub fn run(messages: &[CapturedMessage], options: &ReplayOptions) -> ReplayReport {
    let realm = options
        .realm
        .clone()
        .or_else(|| captured_realm(messages))
        .unwrap_or_else(|| options.profile.default_realm().to_string());
    let mut captures: Vec<&str> = Vec::new();
    for m in messages {
        if !captures.contains(&m.capture.as_str()) {
            captures.push(&m.capture);
        }
    }
    let mut rows: Vec<Row> = Vec::new();
    for cap in captures {
        let mut msgs: Vec<&CapturedMessage> =
            messages.iter().filter(|m| m.capture == cap).collect();
        msgs.sort_by_key(|m| (m.ts_nanos, m.frame));
        rows.extend(replay_capture(&msgs, options, &realm));
    }
    // One row per transaction: prefer a capture that saw the answer.
    let mut merged: Vec<Row> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    for r in rows {
        match index.get(&r.txid) {
            Some(&i) => {
                if merged[i].captured == Outcome::None && r.captured != Outcome::None {
                    merged[i] = r;
                }
            }
            None => {
                index.insert(r.txid.clone(), merged.len());
                merged.push(r);
            }
        }
    }
    let mut report = ReplayReport {
        requests: merged.len(),
        ..ReplayReport::default()
    };
    for r in merged {
        if r.captured == r.predicted {
            report.agree += 1;
        } else {
            report.differ += 1;
            report.differences.push(Difference {
                capture: r.capture,
                frame: r.frame,
                method: r.method.to_string(),
                captured: r.captured.to_string(),
                predicted: r.predicted.to_string(),
                why: r.why.unwrap_or_default(),
            });
        }
    }
    report
}

fn replay_capture(msgs: &[&CapturedMessage], options: &ReplayOptions, realm: &str) -> Vec<Row> {
    let parsed: Vec<Option<Message<'_>>> = msgs
        .iter()
        .map(|m| Message::parse(&m.bytes).ok().filter(|p| !p.is_rfc3489()))
        .collect();
    // The server's endpoints: where TURN requests go and TURN responses come from.
    let mut servers: HashSet<(Transport, SocketAddr)> = HashSet::new();
    for (m, p) in msgs.iter().zip(&parsed) {
        let Some(p) = p else { continue };
        if is_turn_method(p.method()) || p.method() == Method::SEND {
            match p.class() {
                Class::Request | Class::Indication => servers.insert((m.transport, m.dst)),
                _ => servers.insert((m.transport, m.src)),
            };
        }
    }
    // Answers by transaction id (the first one after its request).
    let mut answers: Answers = HashMap::new();
    for (i, p) in parsed.iter().enumerate() {
        let Some(p) = p else { continue };
        let o = match p.class() {
            Class::Success => Outcome::Success,
            Class::Error => Outcome::Error(p.error_code().map_or(0, |e| e.0)),
            _ => continue,
        };
        let token = p
            .raw_attribute(attr::RESERVATION_TOKEN)
            .and_then(|a| <[u8; 8]>::try_from(a.value).ok());
        answers
            .entry(p.transaction_id().as_bytes().to_vec())
            .or_default()
            .push((i, o, token));
    }
    let mut picked: Vec<Picked<'_>> = Vec::new();
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    for (i, (m, p)) in msgs.iter().zip(&parsed).enumerate() {
        let Some(p) = p else { continue };
        if p.class() != Class::Request {
            continue;
        }
        let to_server =
            servers.contains(&(m.transport, m.dst)) || (servers.is_empty() && m.dst.port() == 3478);
        let wanted = is_turn_method(p.method())
            || (p.method() == Method::BINDING && to_server && !is_ice_check(p));
        if !wanted {
            continue;
        }
        let txid = p.transaction_id().as_bytes().to_vec();
        if !seen.insert(txid.clone()) {
            continue; // a retransmission
        }
        let answer = answers
            .get(&txid)
            .and_then(|v| v.iter().find(|(j, _, _)| *j > i).or_else(|| v.first()));
        picked.push(Picked {
            msg: m,
            parsed: *p,
            captured: answer.map_or(Outcome::None, |(_, o, _)| *o),
            captured_token: answer.and_then(|(_, _, t)| *t),
        });
    }
    if picked.is_empty() {
        return Vec::new();
    }

    let nonces = ReplayNonces::default();
    let stale = nonces.stale.clone();
    let mut config = Config::new(options.profile);
    config.realm = realm.to_string();
    config.credentials = options.credentials.clone();
    config.software = None;
    config.user_quota = options.user_quota;
    config.peer_policy = PeerPolicy {
        allow_loopback: false,
        allow_private: true,
        allow_multicast: false,
        ..PeerPolicy::permissive()
    };
    let first = picked.first().map(|p| p.msg.dst.ip());
    config.relay_v4 = first.filter(|ip| ip.is_ipv4()).or(config.relay_v4);
    let v6_relay = parsed
        .iter()
        .flatten()
        .find_map(|p| p.xor_relayed_address().filter(|a| a.is_ipv6()));
    config.relay_v6 = v6_relay.map(|a| a.ip());
    let mut server = Server::new(config, Box::new(nonces));
    let mut last_allocate: HashMap<(Transport, SocketAddr, SocketAddr), (u32, Outcome)> =
        HashMap::new();

    let mut rows = Vec::new();
    for p in picked {
        let now = Time::from_nanos(p.msg.ts_nanos);
        server.handle_timeout(now);
        drain(&mut server, now);
        if let Some(n) = p.parsed.nonce() {
            if let Ok(mut s) = stale.lock() {
                if p.captured == Outcome::Error(438) {
                    s.insert(n.to_vec());
                } else {
                    s.remove(n);
                }
            }
        }
        let handled =
            server.handle_client(now, p.msg.transport, p.msg.src, p.msg.dst, &p.msg.bytes);
        let (pending, token) = drain(&mut server, now);
        let answer = match &handled {
            Handled::Answered(a) => Some(a.clone()),
            Handled::Pending => pending,
            _ => None,
        };
        // The client will redeem the captured server's token: make the core's answer to it.
        if let (Some(ours), Some(theirs)) = (token, p.captured_token) {
            server.rename_reservation(ours, theirs);
        }
        let predicted = match &answer {
            None => Outcome::None,
            Some(a) => a.code.map_or(Outcome::Success, Outcome::Error),
        };
        let key = (p.msg.transport, p.msg.src, p.msg.dst);
        let why = (predicted != p.captured).then(|| {
            explain(
                &p,
                predicted,
                answer.as_ref(),
                &handled,
                options,
                realm,
                last_allocate.get(&key).copied(),
            )
        });
        if p.parsed.method() == Method::ALLOCATE && p.parsed.has_integrity() {
            last_allocate.insert(key, (p.msg.frame, predicted));
        }
        rows.push(Row {
            capture: p.msg.capture.clone(),
            frame: p.msg.frame,
            txid: p.parsed.transaction_id().as_bytes().to_vec(),
            method: p.parsed.method(),
            captured: p.captured,
            predicted,
            why,
        });
    }
    rows
}

/// Run the I/O side: confirm relay binds, discard the rest. Returns an Allocate's answer and
/// the RESERVATION-TOKEN the core issued, if any.
fn drain(server: &mut Server, now: Time) -> (Option<Answer>, Option<[u8; 8]>) {
    let mut answer = None;
    let mut token = None;
    while let Some(o) = server.poll_output() {
        match o {
            Output::BindRelay { relay } => {
                if let Some(a) = server.relay_bound(now, relay, true) {
                    answer = Some(a);
                }
            }
            Output::ToClient { bytes, .. } => {
                if let Ok(m) = Message::parse(&bytes) {
                    if let Some(t) = m
                        .raw_attribute(attr::RESERVATION_TOKEN)
                        .and_then(|a| <[u8; 8]>::try_from(a.value).ok())
                    {
                        token = Some(t);
                    }
                }
            }
            _ => {}
        }
    }
    (answer, token)
}

/// What the given credentials say about an authenticated request, independently of the core.
struct Offline {
    user: String,
    password: Option<String>,
    /// Verifies with the given password under the request's own REALM.
    verifies: bool,
}

fn offline(msg: &Message<'_>, options: &ReplayOptions) -> Option<Offline> {
    if !msg.has_integrity() {
        return None;
    }
    let user = msg.username()?.to_string();
    let realm = msg.realm().map(str::to_string);
    let password = options
        .credentials
        .iter()
        .find(|c| c.user == user)
        .map(|c| c.password.clone());
    let verifies = match (&password, &realm) {
        (Some(pw), Some(r)) => matches!(
            msg.verify_integrity(&Key::long_term(&user, r, pw)),
            IntegrityVerdict::Verified(_)
        ),
        _ => false,
    };
    Some(Offline {
        user,
        password,
        verifies,
    })
}

fn explain(
    p: &Picked<'_>,
    predicted: Outcome,
    answer: Option<&Answer>,
    handled: &Handled,
    options: &ReplayOptions,
    realm: &str,
    last_allocate: Option<(u32, Outcome)>,
) -> String {
    let captured = p.captured;
    let reason = answer.map(|a| a.reason.clone());
    let off = offline(&p.parsed, options);
    let core_says = match (&reason, handled) {
        (Some(r), _) => r.to_string(),
        (None, Handled::Dropped(d)) => format!("the core drops it ({d})"),
        (None, _) => "the core does not answer it".to_string(),
    };
    if captured == Outcome::None {
        return format!(
            "no answer was captured (the request or its answer was lost, or the server stayed \
             silent); the core answers {predicted}: {core_says}"
        );
    }
    if predicted == Outcome::None {
        return format!("{core_says}; the captured server answered {captured}");
    }
    let profile = options.profile;
    match (captured, predicted, &reason) {
        // The core accepts what the captured server refused as an authentication failure.
        (Outcome::Error(c @ (401 | 431)), Outcome::Success, _) => match &off {
            Some(o) => format!(
                "the request verifies with the given password for {:?}; the captured server \
                 refused it with {}: its stored password for {:?} differs (or it does not \
                 know the user)",
                o.user,
                code_name(c),
                o.user
            ),
            None => format!(
                "the core accepts it ({core_says}); the captured server refused it with {}",
                code_name(c)
            ),
        },
        (Outcome::Error(438), Outcome::Success, _) => {
            format!("{core_says}; the captured server found its NONCE stale (438)")
        }
        (Outcome::Error(437), _, _) => format!(
            "the core answers {predicted} ({core_says}); the captured server answered 437 \
             (Allocation Mismatch): its allocation state on this 5-tuple differs (an Allocate \
             outside the capture, a retransmission it did not recognise, or a NAT rebinding)"
        ),
        (Outcome::Error(486), Outcome::Success, _) => {
            "the captured server enforces a per-user allocation quota (486 Allocation Quota \
             Reached) the core is not configured with"
                .to_string()
        }
        (Outcome::Error(508), Outcome::Success, _) => {
            "the captured server was out of capacity (508 Insufficient Capacity: relay ports or \
             licences); the core had room"
                .to_string()
        }
        (Outcome::Error(403), Outcome::Success, _) => format!(
            "the captured server's peer policy forbids a peer of this request (403); the core's \
             allows it ({core_says})"
        ),
        // The core refuses what the captured server accepted.
        (Outcome::Success, Outcome::Error(_), Some(Reason::IntegrityFailed { user })) => {
            let pw = match off.as_ref().and_then(|o| o.password.as_deref()) {
                Some(_) => "the given password",
                None => "any given password",
            };
            format!(
                "the request does not verify with {pw} for {user:?}; the captured server \
                 accepted it: the password the client and the server share differs from the \
                 one given"
            )
        }
        (Outcome::Success, Outcome::Error(_), Some(Reason::RealmMismatch { realm: r, .. })) => {
            let also = if off.as_ref().is_some_and(|o| o.verifies) {
                " (it verifies with the given password under its own realm)"
            } else {
                ""
            };
            format!(
                "the request's REALM {r:?} is not the realm {realm:?} the core uses{also}; the \
                 captured server accepted it: replay with --realm {r:?}"
            )
        }
        (Outcome::Success, Outcome::Error(_), Some(Reason::UnknownUser(u))) => format!(
            "USERNAME {u:?} is not among the given credentials; the captured server accepted \
             it: give its password with --credential {u}:PASSWORD"
        ),
        (Outcome::Success, Outcome::Error(_), Some(Reason::Challenge)) => {
            "the request carries no MESSAGE-INTEGRITY; the captured server answered it without \
             authentication"
                .to_string()
        }
        (Outcome::Success, Outcome::Error(437), Some(Reason::NoAllocation)) => {
            match last_allocate {
                Some((frame, o)) if o != Outcome::Success => format!(
                    "the core holds no allocation on this 5-tuple: it answered the Allocate in \
                     frame {frame} with {o}; the captured server had one"
                ),
                _ => "the core holds no allocation on this 5-tuple (its Allocate is not in the \
                     capture, or expired by the core's clock); the captured server had one"
                    .to_string(),
            }
        }
        (Outcome::Error(c), Outcome::Error(437), Some(Reason::AllocationExists)) => {
            match last_allocate {
                Some((frame, Outcome::Success)) => format!(
                    "the core already holds an allocation on this 5-tuple from the Allocate in \
                     frame {frame}, which the captured server refused; the captured server \
                     answered {}",
                    code_name(c)
                ),
                _ => format!("{core_says}; the captured server answered {}", code_name(c)),
            }
        }
        // Both refuse, with different codes.
        (Outcome::Error(c), Outcome::Error(pc), Some(Reason::IntegrityFailed { user }))
            if matches!(c, 401 | 431) =>
        {
            let other = if c == 431 { "expressway" } else { "rfc" };
            format!(
                "both refuse it: the request does not verify with the given password for \
                 {user:?}; the captured server answers integrity failures with {c}, the {profile} \
                 profile with {pc} (replay with --profile {other})"
            )
        }
        (Outcome::Error(c), Outcome::Error(401 | 431), Some(Reason::UnknownUser(u))) => format!(
            "USERNAME {u:?} is not among the given credentials, so the core challenges it; the \
             captured server answered {}",
            code_name(c)
        ),
        _ => format!(
            "the core answers {predicted}: {core_says}; the captured server answered {}",
            match captured {
                Outcome::Error(c) => format!("error {}", code_name(c)),
                o => o.to_string(),
            }
        ),
    }
}

/// The report as a table (the default `--format`).
pub fn render_table(report: &ReplayReport) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{} requests replayed: {} agree, {} differ\n",
        report.requests, report.agree, report.differ
    ));
    if report.differences.is_empty() {
        return out;
    }
    let mut table = prettytable::Table::new();
    table.set_format(*prettytable::format::consts::FORMAT_NO_BORDER_LINE_SEPARATOR);
    table.set_titles(prettytable::row![
        "capture",
        "frame",
        "method",
        "captured",
        "predicted",
        "why"
    ]);
    for d in &report.differences {
        // Capture names and user names come from the input: escaped for the terminal.
        table.add_row(prettytable::row![
            crate::escape::terminal(&d.capture),
            d.frame,
            crate::escape::terminal(&d.method),
            d.captured,
            d.predicted,
            wrap(&crate::escape::terminal(&d.why), 70)
        ]);
    }
    out.push_str(&table.to_string());
    out
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}
