//! auth.*: rejected credentials (told apart offline with `--credential`), missing credentials,
//! realm mismatch, nonce expiry. The first 401 challenge is the normal flow, never a finding.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};

use crate::capture::Timestamp;
use crate::flow::{
    CaptureFlows, Case, CaseTx, CredCheck, HashMap, Msg, Role, Sighting, Transaction,
};
use crate::wire::{Class, Method, TransactionId};

use crate::flow::servers::{node_of, server_addresses};

use super::{method_title, plural, DiagnoseOptions, Sink};

const REMEDY_REJECTED: &str = "Check that the TURN username and password configured on the client (CMS API /api/v1/turnServers object: username, password) match the credential in the Expressway-E local authentication database (Configuration > Traversal > TURN, \"Configure TURN client credentials on local database\"). Run again with --credential USER:PASSWORD to tell which side is wrong. CMS logs this as \"ICE failure 4 (unauthorized - check credentials)\".";
const REMEDY_PASSWORD: &str = "The client uses a different password than the one given: re-enter the TURN password on the client (CMS API turnServers object, password) so that it matches the Expressway-E local authentication database. CMS logs this as \"ICE failure 4 (unauthorized - check credentials)\" or \"ICE failure; relay candidate creation timeout\"; Expressway-E answers 431 Integrity Check Failure or 401.";
const REMEDY_SERVER_PASSWORD: &str = "The client's password is right; the password stored on the server differs: fix this user's entry in the Expressway-E local authentication database used for TURN (Configuration > Traversal > TURN, TURN client credentials on the local database).";
const REMEDY_UNKNOWN_USER: &str = "Create this user in the Expressway-E local authentication database used for TURN credentials, or fix the username on the client (CMS API turnServers object, username).";
const REMEDY_REALM: &str = "Keep the realm consistent: the client must answer the challenge with the REALM the server sent (Expressway-E Configuration > Traversal > TURN, Authentication realm; default \"TANDBERG\").";
const REMEDY_NO_CREDENTIALS: &str = "Configure TURN credentials on the client: in the CMS API turnServers object set username and password to an entry of the Expressway-E local authentication database.";
const REMEDY_STALE_OK: &str = "Healthy nonce rotation: nothing to fix.";
const REMEDY_STALE_BAD: &str = "The client does not handle nonce expiry (438 Stale Nonce): it must retry with the new NONCE. Upgrade the client software, or lengthen the nonce lifetime on the server.";

/// Codes a server answers bad credentials with.
fn is_auth_rejection(code: u16) -> bool {
    matches!(code, 401 | 431 | 441)
}

/// A challenge message: its time and index, and the highest index of the challenges to the
/// same client up to its time (the latest one sent by then).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Challenge {
    ts: Timestamp,
    msg: u32,
    latest: u32,
}

/// Lookups over one capture's messages that the rules ask for each rejected request, built
/// once per capture when first needed (a client looping on a wrong password makes thousands).
#[derive(Default)]
struct CaptureIndex {
    /// Challenges (401/438 on the wire) per (client, server), by time.
    challenges: HashMap<(SocketAddr, SocketAddr), Vec<Challenge>>,
    /// The latest successful request per (method, source, destination) on the wire.
    last_success: HashMap<(Method, SocketAddr, SocketAddr), Timestamp>,
    /// Transactions whose request (not Binding) carries a NONCE, per (source, destination),
    /// in capture order.
    nonced: HashMap<(SocketAddr, SocketAddr), Vec<u32>>,
}

impl CaptureIndex {
    fn build(c: &CaptureFlows) -> CaptureIndex {
        let mut index = CaptureIndex::default();
        for (i, m) in c.msgs.iter().enumerate() {
            if m.class == Class::Error
                && matches!(m.error, Some(401) | Some(438))
                && m.carried.is_none()
            {
                let list = index.challenges.entry((m.dst, m.src)).or_default();
                list.push(Challenge {
                    ts: m.ts,
                    msg: i as u32,
                    latest: 0,
                });
            }
        }
        for list in index.challenges.values_mut() {
            list.sort_unstable();
            let mut highest = 0;
            for entry in list.iter_mut() {
                highest = highest.max(entry.msg);
                entry.latest = highest;
            }
        }
        for (ti, t) in c.transactions.iter().enumerate() {
            if let Some(q) = c.request(t) {
                if q.method != Method::BINDING && q.nonce.is_some() {
                    let list = index.nonced.entry((q.src, q.dst)).or_default();
                    list.push(ti as u32);
                }
            }
            let Some(q) = c.request(t).filter(|q| q.carried.is_none()) else {
                continue;
            };
            if c.final_response(t)
                .is_some_and(|r| r.class == Class::Success)
            {
                let ts = index
                    .last_success
                    .entry((t.method, q.src, q.dst))
                    .or_insert(q.ts);
                *ts = (*ts).max(q.ts);
            }
        }
        index
    }
}

/// Per-capture indexes, made on first use.
struct Indexes<'c> {
    case: &'c Case,
    made: Vec<Option<CaptureIndex>>,
}

impl<'c> Indexes<'c> {
    fn new(case: &'c Case) -> Self {
        Indexes {
            case,
            made: (0..case.captures.len()).map(|_| None).collect(),
        }
    }

    fn of(&mut self, cap: usize) -> Option<&CaptureIndex> {
        let c = self.case.captures.get(cap)?;
        let slot = self.made.get_mut(cap)?;
        Some(slot.get_or_insert_with(|| CaptureIndex::build(c)))
    }

    /// The REALM of the latest challenge (401/438) the server sent to this request's source
    /// before it (the last such message in capture order).
    fn challenge_realm(&mut self, s: Sighting, rq: &Msg) -> Option<&'c str> {
        let case = self.case;
        let list = self.of(s.cap)?.challenges.get(&(rq.src, rq.dst))?;
        let upto = list.partition_point(|x| x.ts <= rq.ts);
        let latest = list.get(upto.checked_sub(1)?)?.latest;
        case.captures[s.cap]
            .msgs
            .get(latest as usize)?
            .realm
            .as_deref()
    }

    /// A retry of a request answered 438: the first later request on the same 5-tuple with
    /// another NONCE.
    fn retry(&mut self, s: Sighting, rq: &Msg) -> Option<&'c Transaction> {
        let c = self.case.captures.get(s.cap)?;
        let list = self.of(s.cap)?.nonced.get(&(rq.src, rq.dst))?;
        list.iter()
            .filter_map(|&i| c.transactions.get(i as usize))
            .find(|u| {
                c.request(u)
                    .is_some_and(|q| q.ts > rq.ts && q.nonce != rq.nonce)
            })
    }

    /// True if a later request of the same method on the same 5-tuple succeeded in this
    /// capture.
    fn later_success(&mut self, s: Sighting, rq: &Msg) -> bool {
        self.of(s.cap)
            .and_then(|x| x.last_success.get(&(rq.method, rq.src, rq.dst)))
            .is_some_and(|ts| *ts > rq.ts)
    }
}

/// Transaction ids of responses quoted by an ICMP error: the client's socket was gone.
fn refused_responses(case: &Case) -> HashSet<TransactionId> {
    case.captures
        .iter()
        .flat_map(|c| &c.unreachable)
        .filter_map(|u| u.stun)
        .filter(|(_, _, class)| *class != Class::Request)
        .map(|(id, _, _)| id)
        .collect()
}

/// Did the response of this sighting reach the client? Client captures show it; a server
/// capture tells by the client retransmitting after it left.
fn reached_client(case: &Case, refused: &HashSet<TransactionId>, s: Sighting) -> bool {
    let txid = case.tx(s).txid;
    let Some(t) = case.by_txid.get(&txid).and_then(|&i| case.txs.get(i)) else {
        return false;
    };
    // An ICMP error quoting the response: the client's socket was gone.
    if refused.contains(&txid) {
        return false;
    }
    let clients: Vec<_> = t
        .sightings
        .iter()
        .filter(|x| case.roles[x.cap] == Role::Client)
        .collect();
    if !clients.is_empty() {
        return clients.iter().any(|x| !case.tx(**x).responses.is_empty());
    }
    if case.roles[s.cap] == Role::Server {
        return case.captures[s.cap].requests_after_response(case.tx(s)) == 0;
    }
    true
}

/// The server's address as the server's own capture shows it (behind static NAT: its LAN2
/// address, the same for every client), else as the first capture saw it.
fn server_address(case: &Case, t: &CaseTx) -> Option<SocketAddr> {
    let on_server = t
        .sightings
        .iter()
        .find(|s| case.roles.get(s.cap) == Some(&Role::Server));
    on_server
        .or(t.sightings.first())
        .and_then(|&s| case.request(s))
        .map(|q| q.dst)
}

pub(super) fn rules(sink: &mut Sink<'_>, opts: &DiagnoseOptions) {
    let case = sink.case;
    let given: Vec<&str> = opts.credentials.iter().map(|c| c.user.as_str()).collect();
    let servers = server_addresses(case);
    let mut index = Indexes::new(case);
    for t in &case.txs {
        let Some((s, rq)) = case.any_request(t) else {
            continue;
        };
        if rq.is_ice_check() || !rq.is_authenticated() {
            continue;
        }
        let Some((_, rs)) = case.any_response(t) else {
            continue;
        };
        let Some(code) = rs.error.filter(|c| is_auth_rejection(*c)) else {
            continue;
        };
        if rs.class != Class::Error {
            continue;
        }
        // A rejected request with a stale cached nonce, answered by a fresh challenge and a
        // successful retry, is still the normal flow.
        if code == 401
            && t.sightings
                .iter()
                .any(|&x| case.request(x).is_some_and(|q| index.later_success(x, q)))
        {
            continue;
        }
        let user = rq.username.as_deref().unwrap_or("").to_string();
        let realm = rq.realm.as_deref().unwrap_or("").to_string();
        let challenge = index.challenge_realm(s, rq).map(str::to_string);
        let method = method_title(rq.method);
        let reason = rs.reason.as_deref().unwrap_or("");
        let what = format!("{code} {reason}").trim().to_string();
        let (id, key, summary, remedy): (&'static str, String, String, &str) =
            match (&rq.cred, code) {
                (CredCheck::Verified { .. }, 431) => (
                    "auth.server_password_mismatch",
                    user.clone(),
                    format!("{method} requests of user \"{user}\" (realm \"{realm}\") verify offline with the given password, yet the server rejects them with {what}: the server's stored password differs"),
                    REMEDY_SERVER_PASSWORD,
                ),
                (_, 431) => (
                    "auth.password_mismatch",
                    user.clone(),
                    format!("the server answers user \"{user}\"'s {method} with {what}: the MESSAGE-INTEGRITY does not match the server's password for \"{user}\""),
                    REMEDY_PASSWORD,
                ),
                (CredCheck::UnknownUser, _) => (
                    "auth.unknown_user",
                    user.clone(),
                    format!("{method} with username \"{user}\" rejected with {what}; \"{user}\" is not among the given credentials ({})", given.join(", ")),
                    REMEDY_UNKNOWN_USER,
                ),
                (CredCheck::VerifiedOtherRealm { realm: good, .. }, _) => (
                    "auth.realm_mismatch",
                    user.clone(),
                    format!("{method} of user \"{user}\" carries REALM \"{realm}\" but its MESSAGE-INTEGRITY verifies only with realm \"{good}\"; rejected with {what}"),
                    REMEDY_REALM,
                ),
                _ if challenge.as_deref().is_some_and(|c| c != realm) => (
                    "auth.realm_mismatch",
                    user.clone(),
                    format!("the server challenged with realm \"{}\" but user \"{user}\"'s retry carries REALM \"{realm}\"; rejected with {what}", challenge.clone().unwrap_or_default()),
                    REMEDY_REALM,
                ),
                (CredCheck::Verified { .. }, _) => (
                    "auth.server_password_mismatch",
                    user.clone(),
                    format!("{method} requests of user \"{user}\" (realm \"{realm}\") verify offline with the given password, yet the server rejects them with {what}: the server's stored password differs"),
                    REMEDY_SERVER_PASSWORD,
                ),
                (CredCheck::Failed { .. }, _) => (
                    "auth.password_mismatch",
                    user.clone(),
                    format!("MESSAGE-INTEGRITY of user \"{user}\"'s {method} (realm \"{realm}\") does not verify with the given password: the client uses another password; rejected with {what}"),
                    REMEDY_PASSWORD,
                ),
                _ => (
                    "auth.rejected",
                    user.clone(),
                    format!("authenticated {method} from {} as user \"{user}\" (realm \"{realm}\") rejected by {} with {what} after the challenge", rq.src, rq.dst),
                    REMEDY_REJECTED,
                ),
            };
        // A cluster has one TURN server per node, each with its own credentials: the same
        // user rejected by two nodes is two findings, each naming its server.
        let server = server_address(case, t).unwrap_or(rq.dst);
        let node = node_of(&servers, server.ip());
        let node_key = node.map_or(server.ip().to_string(), |n| {
            n.ips
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(",")
        });
        let d = sink.entry(id, format!("{node_key}|{key}"), || {
            (
                format!("TURN server {server}: {summary}"),
                remedy.to_string(),
            )
        });
        // The same node reached on its other interface: say so once.
        let also = format!(" (also reached at {server}, the same server)");
        d.mention_once(&server.to_string(), &also, 800);
        d.count += case.weight(t);
        for &x in &t.sightings {
            d.sighting(case, x);
        }
    }
    // Counts into the summaries.
    for id in [
        "auth.rejected",
        "auth.password_mismatch",
        "auth.server_password_mismatch",
        "auth.unknown_user",
        "auth.realm_mismatch",
    ] {
        for d in sink.drafts_mut(id) {
            if d.count > 1 {
                d.summary.push_str(&format!(
                    " ({} rejected)",
                    plural(d.count, "request", "requests")
                ));
            }
        }
    }
    let refused = refused_responses(case);
    no_credentials(sink, &refused);
    stale_nonce(sink, &mut index, &refused);
}

fn no_credentials(sink: &mut Sink<'_>, refused: &HashSet<TransactionId>) {
    let case = sink.case;
    // Per capture: the latest authenticated request from a client IP to a server address.
    let mut latest_authenticated: Option<Vec<HashMap<(IpAddr, SocketAddr), Timestamp>>> = None;
    for t in &case.txs {
        let Some((_, rs)) = case.any_response(t) else {
            continue;
        };
        if rs.class != Class::Error || rs.error != Some(401) {
            continue;
        }
        let Some((s, rq)) = case.any_request(t) else {
            continue;
        };
        if rq.is_authenticated() || rq.is_ice_check() || rq.carried.is_some() {
            continue;
        }
        if !reached_client(case, refused, s) {
            continue;
        }
        // Any authenticated request from this client address to this server afterwards, in
        // any capture where this transaction shows (each with its own view of the addresses)?
        let latest = latest_authenticated.get_or_insert_with(|| {
            case.captures
                .iter()
                .map(|c| {
                    let mut by_pair: HashMap<(IpAddr, SocketAddr), Timestamp> = HashMap::default();
                    for m in &c.msgs {
                        if m.class == Class::Request && m.is_authenticated() {
                            let ts = by_pair.entry((m.src.ip(), m.dst)).or_insert(m.ts);
                            *ts = (*ts).max(m.ts);
                        }
                    }
                    by_pair
                })
                .collect()
        });
        let came_back = t.sightings.iter().any(|&x| {
            let Some(q) = case.request(x) else {
                return false;
            };
            latest
                .get(x.cap)
                .and_then(|by_pair| by_pair.get(&(q.src.ip(), q.dst)))
                .is_some_and(|ts| *ts >= q.ts)
        });
        if came_back {
            continue;
        }
        let method = method_title(rq.method);
        let d = sink.entry("auth.no_credentials", rq.src.ip().to_string(), || {
            (
                format!(
                    "{} from {} to {} was challenged (401) and the client never sent USERNAME/MESSAGE-INTEGRITY",
                    method, rq.src, rq.dst
                ),
                REMEDY_NO_CREDENTIALS.to_string(),
            )
        });
        d.count += case.weight(t);
        for &x in &t.sightings {
            d.sighting(case, x);
        }
    }
}

fn stale_nonce(sink: &mut Sink<'_>, index: &mut Indexes<'_>, refused: &HashSet<TransactionId>) {
    let case = sink.case;
    for t in &case.txs {
        let Some((_, rs)) = case.any_response(t) else {
            continue;
        };
        if rs.class != Class::Error || rs.error != Some(438) {
            continue;
        }
        let Some((s, rq)) = case.any_request(t) else {
            continue;
        };
        if !reached_client(case, refused, s) {
            continue;
        }
        let c = &case.captures[s.cap];
        let retry = index.retry(s, rq);
        let user = rq.username.as_deref().unwrap_or("").to_string();
        match retry {
            Some(u) => {
                let ok = c
                    .final_response(u)
                    .is_some_and(|r| r.class == Class::Success);
                if !ok {
                    continue;
                }
                let d = sink.entry("auth.stale_nonce", user.clone(), || {
                    (
                        format!("438 Stale Nonce for user \"{user}\" answered by a retry with the new NONCE that succeeded"),
                        REMEDY_STALE_OK.to_string(),
                    )
                });
                d.count += case.weight(t);
                if d.evidence.len() < 8 {
                    for &x in &t.sightings {
                        d.sighting(case, x);
                    }
                    if let Some(q) = c.request(u) {
                        d.frame(case, s.cap, q.frame, q.ts.0);
                    }
                }
            }
            None => {
                let method = method_title(rq.method);
                let d = sink.entry("auth.stale_nonce_unhandled", user.clone(), || {
                    (
                        format!("{method} of user \"{user}\" from {} got 438 Stale Nonce and was never retried with the new NONCE", rq.src),
                        REMEDY_STALE_BAD.to_string(),
                    )
                });
                d.count += case.weight(t);
                for &x in &t.sightings {
                    d.sighting(case, x);
                }
            }
        }
    }
    for d in sink.drafts_mut("auth.stale_nonce") {
        if d.count > 1 {
            d.summary = d.summary.replacen(
                "438 Stale Nonce",
                &format!("{} 438 Stale Nonce answers", d.count),
                1,
            );
            d.summary = d
                .summary
                .replace("answered by a retry", "each answered by a retry");
        }
    }
}
