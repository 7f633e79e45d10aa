//! browser.*: what a chrome://webrtc-internals dump says, alone (the verdicts of
//! [`crate::sources::webrtc::verdict`]) and joined with the Expressway-E's capture
//! ([`join`]): the guest's TURN attempts found (or not) among the server's allocations, its
//! failed pairs toward a relay checked at the relay. When the case has no guest-side capture
//! the dump stands in for it, and the join names the cause with the capture's ids
//! (`reach.inbound_blocked`, `reach.response_lost`, `relay.unreachable`,
//! `relay.return_blocked`).

pub mod join;
mod text;

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::flow::{Case, Role};
use crate::sources::webrtc::{self, PeerConnection, Verdict, VerdictKind, WebrtcDump};
use crate::sources::{Document, Model};

use super::logs::LogClock;
use super::{DocumentEvidence, Draft, Finding, Sink};
use join::{DumpJoin, RelayLegVerdict, TurnVerdict};
use text::*;

/// One dump's peer connection, its verdicts and its join, as the rules read them.
struct Subject<'a, 'c> {
    document: &'a str,
    pc: &'c PeerConnection,
    verdicts: Vec<Verdict>,
    join: Option<DumpJoin<'c>>,
}

impl Subject<'_, '_> {
    fn place(&self, at: Option<String>, what: String) -> DocumentEvidence {
        DocumentEvidence {
            document: self.document.to_string(),
            peer_connection: Some(self.pc.id.clone()),
            at,
            what,
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}|{}|{rest}", self.document, self.pc.id)
    }

    fn prefix(&self) -> String {
        format!("{}, peer connection {}", self.document, self.pc.id)
    }
}

/// What the case's dumps give: findings, and each joined dump's clock against the captures'.
#[derive(Debug, Default)]
pub struct BrowserOutcome {
    /// The `browser.*` findings of every dump.
    pub findings: Vec<Finding>,
    /// Each dump's clock against the captures' (only for dumps joined with a capture).
    pub clocks: Vec<LogClock>,
}

/// The public addresses the case's dumps show for their guests (srflx candidates, relay
/// candidates' bases, public host candidates).
pub fn guest_public_ips(documents: &[Document]) -> BTreeSet<IpAddr> {
    documents
        .iter()
        .filter_map(|d| match &d.model {
            Model::WebrtcDump(Some(dump)) => Some(dump.peer_connections.iter()),
            _ => None,
        })
        .flatten()
        .flat_map(|pc| join::guest_addresses(pc).1)
        .collect()
}

/// Every finding the case's dumps give, and their clocks.
pub fn diagnose(case: &Case, documents: &[Document]) -> BrowserOutcome {
    let dumps: Vec<(&str, &WebrtcDump)> = documents
        .iter()
        .filter_map(|d| match &d.model {
            Model::WebrtcDump(Some(dump)) => Some((d.name.as_str(), dump.as_ref())),
            _ => None,
        })
        .collect();
    if dumps.is_empty() {
        return BrowserOutcome::default();
    }
    let mut clocks = Vec::new();
    let mut sink = Sink::new(case);
    let checks = std::mem::take(&mut sink.checks);
    // With a capture of the guest's side, its own findings name the cause; the dump's join
    // raises the capture-level ids only where it stands in for that capture.
    let stands_in = case.with_role(Role::Client).is_empty();
    for (document, dump) in dumps {
        let all = webrtc::verdicts(dump);
        for pc in &dump.peer_connections {
            let s = Subject {
                document,
                pc,
                verdicts: all
                    .iter()
                    .filter(|v| v.peer_connection == pc.id)
                    .cloned()
                    .collect(),
                join: join::join(case, &checks, pc),
            };
            dump_rules(&mut sink, &s);
            if stands_in {
                joined_rules(&mut sink, &s);
            }
            if let Some(clock) = s.join.as_ref().and_then(|j| dump_clock(document, j)) {
                if !clocks.iter().any(|c: &LogClock| c.document == document) {
                    clocks.push(clock);
                }
            }
        }
    }
    BrowserOutcome {
        findings: sink.finish(),
        clocks,
    }
}

/// The dump's clock, when matched allocations estimated it.
fn dump_clock(document: &str, j: &DumpJoin<'_>) -> Option<LogClock> {
    (j.clock.ties > 0).then(|| LogClock {
        document: document.to_string(),
        offset_ms: j.clock.offset_ns as f64 / 1e6,
        zone: if j.clock.local {
            join::zone_of(j.clock.offset_ns)
        } else {
            "UTC".into()
        },
        delay_ms: (0.0, 0.0),
        links: j.clock.ties,
        method: if j.clock.local {
            "dump local time (no zone written) against the Expressway-E allocations matched by relay address or the guest's public address"
        } else {
            "dump UTC against the Expressway-E allocations matched by relay address or the guest's public address"
        }
        .into(),
    })
}

/// The browser.* findings of one peer connection, one per verdict.
fn dump_rules(sink: &mut Sink<'_>, s: &Subject<'_, '_>) {
    for v in &s.verdicts {
        match &v.kind {
            VerdictKind::TurnError(e) => turn_error(sink, s, e),
            VerdictKind::NoRelayCandidate { turn_urls, cause } => {
                no_relay(sink, s, turn_urls, cause)
            }
            VerdictKind::IceFailed { at, ever_connected } => {
                ice_failed(sink, s, at.as_ref(), *ever_connected)
            }
            VerdictKind::IceDisconnected { at, recovered } => {
                ice_disconnected(sink, s, at.as_ref(), *recovered)
            }
            VerdictKind::NeverConnected { last_state } => {
                let d = draft(sink, s, "browser.ice_not_connected", "", || {
                    (
                        format!(
                            "{}: ICE never connected by the time of the dump (last ICE state {})",
                            s.prefix(),
                            last_state.as_ref().map_or("none".into(), ice_state_name)
                        ),
                        REMEDY_NOT_CONNECTED.to_string(),
                    )
                });
                d.document(s.place(None, "ICE connection state timeline".into()));
            }
            VerdictKind::RelayOnlyOverTcp { protocols } if udp_turn_configured(s.pc) => {
                relay_tcp_only(sink, s, protocols)
            }
            VerdictKind::RelayOnlyOverTcp { .. } => {}
            VerdictKind::SelectedPair { .. } => selected_pair(sink, s, v),
        }
    }
}

/// A TURN URL without `?transport=tcp` and not `turns:` was configured: the browser tried TURN
/// over UDP (a relay over TCP or TLS only is then news; with TLS on 443 only it is the plan).
fn udp_turn_configured(pc: &PeerConnection) -> bool {
    pc.config
        .turn_servers()
        .any(|s| s.relay_protocol() == Some(webrtc::RelayProtocol::Udp))
}

fn draft<'s>(
    sink: &'s mut Sink<'_>,
    s: &Subject<'_, '_>,
    id: &'static str,
    key: &str,
    init: impl FnOnce() -> (String, String),
) -> &'s mut Draft {
    let d = sink.entry(id, s.key(key), init);
    d.count += 1;
    d
}

/// Order by the dump event's time on the capture clock (the dump's UTC if not joined).
fn at_time(d: &mut Draft, s: &Subject<'_, '_>, at: Option<&webrtc::EventTime>) {
    if let Some(t) = at.and_then(webrtc::EventTime::utc) {
        let ns = match &s.join {
            Some(j) => j.clock.to_capture(t),
            None => t.micros.saturating_mul(1000),
        };
        d.ts = d.ts.min(ns);
    }
}

fn turn_error(sink: &mut Sink<'_>, s: &Subject<'_, '_>, e: &webrtc::CandidateError) {
    let case = sink.case;
    let attempt = s
        .join
        .as_ref()
        .and_then(|j| j.turn.iter().find(|t| t.url == e.url).map(|t| (j, t)));
    let joined = attempt.map(|(j, t)| turn_join_text(case, j, &t.verdict));
    let key = format!("{}|{}", e.url, e.code);
    let d = draft(sink, s, "browser.turn_error", &key, || {
        let mut summary = format!("{}: {}", s.prefix(), candidate_error_text(e));
        if let Some(j) = &joined {
            summary.push_str("; ");
            summary.push_str(j);
        }
        (summary, remedy_for_code(e.code, &e.url))
    });
    d.document(s.place(
        e.at.as_ref().map(ToString::to_string),
        format!("icecandidateerror {} \"{}\" on {}", e.code, e.text, e.url),
    ));
    at_time(d, s, e.at.as_ref());
    if let Some((_, t)) = attempt {
        if let TurnVerdict::Refused { alloc, .. }
        | TurnVerdict::Unanswered { alloc }
        | TurnVerdict::AnswerLost { alloc, .. } = &t.verdict
        {
            alloc_frames(d, case, alloc);
        }
    }
}

/// The guest's allocation's frames: the challenge and the outcome (or first request).
fn alloc_frames(d: &mut Draft, case: &Case, g: &join::GuestAllocation<'_>) {
    let Some(c) = case.captures.get(g.cap) else {
        return;
    };
    if let Some(m) = g.alloc.challenge.and_then(|i| c.msgs.get(i as usize)) {
        d.frame(case, g.cap, m.frame, m.ts.0);
    }
    d.evidence.push((g.cap, g.frame, g.at_ns));
}

fn no_relay(
    sink: &mut Sink<'_>,
    s: &Subject<'_, '_>,
    urls: &[String],
    cause: &webrtc::verdict::NoRelayCause,
) {
    let note = s.join.as_ref().and_then(no_relay_join_note);
    let d = draft(sink, s, "browser.no_relay_candidate", "", || {
        (
            format!(
                "{}: TURN configured ({}) and no relay candidate gathered: {}{}",
                s.prefix(),
                urls.join(", "),
                no_relay_cause_text(cause),
                note.map_or(String::new(), |n| format!("; {n}"))
            ),
            remedy_no_relay(cause),
        )
    });
    let counts = s.pc.local_candidate_counts();
    d.document(s.place(
        None,
        format!(
            "local candidates: {} host, {} srflx, {} relay",
            counts.host, counts.srflx, counts.relay
        ),
    ));
    for e in s.pc.candidate_errors.iter().filter(|e| e.is_turn()) {
        at_time(d, s, e.at.as_ref());
    }
}

fn ice_failed(
    sink: &mut Sink<'_>,
    s: &Subject<'_, '_>,
    at: Option<&webrtc::EventTime>,
    ever_connected: bool,
) {
    let case = sink.case;
    let legs = s
        .join
        .as_ref()
        .map(|j| relay_legs_text(case, j))
        .filter(|t| !t.is_empty());
    let d = draft(sink, s, "browser.ice_failed", "", || {
        let mut summary = format!(
            "{}: ICE failed{}{}",
            s.prefix(),
            at.map_or(String::new(), |t| format!(" at {t}")),
            if ever_connected {
                " after having connected"
            } else {
                ", never connected"
            }
        );
        if let Some(l) = &legs {
            summary.push_str("; ");
            summary.push_str(l);
        }
        (summary, REMEDY_ICE_FAILED.to_string())
    });
    d.document(s.place(
        at.map(ToString::to_string),
        "ICE / connection state failed".into(),
    ));
    at_time(d, s, at);
    if let Some(j) = &s.join {
        for leg in &j.relay_legs {
            for h in &leg.hops {
                d.hop(h);
            }
        }
    }
}

fn ice_disconnected(
    sink: &mut Sink<'_>,
    s: &Subject<'_, '_>,
    at: Option<&webrtc::EventTime>,
    recovered: bool,
) {
    let key = at.map(ToString::to_string).unwrap_or_default();
    let d = draft(sink, s, "browser.ice_disconnected", &key, || {
        (
            format!(
                "{}: ICE went disconnected{} after having connected{}",
                s.prefix(),
                at.map_or(String::new(), |t| format!(" at {t}")),
                if recovered {
                    ", then connected again"
                } else {
                    ", and did not recover"
                }
            ),
            REMEDY_DISCONNECTED.to_string(),
        )
    });
    d.document(s.place(at.map(ToString::to_string), "ICE state disconnected".into()));
    at_time(d, s, at);
}

fn relay_tcp_only(sink: &mut Sink<'_>, s: &Subject<'_, '_>, protocols: &[webrtc::RelayProtocol]) {
    let names: Vec<&str> = protocols.iter().map(relay_protocol_name).collect();
    let d = draft(sink, s, "browser.relay_tcp_only", "", || {
        (
            format!(
                "{}: TURN over UDP is configured, yet every relay candidate was allocated over {} (none over UDP)",
                s.prefix(),
                names.join(" and ")
            ),
            REMEDY_TCP_ONLY.to_string(),
        )
    });
    for c in s.pc.relay_candidates() {
        d.document(s.place(
            c.seen_at.as_ref().map(ToString::to_string),
            format!("relay candidate {} over {}", c.endpoint(), names.join("/")),
        ));
    }
}

fn selected_pair(sink: &mut Sink<'_>, s: &Subject<'_, '_>, v: &Verdict) {
    let case = sink.case;
    let relay = s
        .join
        .as_ref()
        .and_then(|j| j.selected_relay.map(|r| (j, r)));
    let joined = relay.map(|(j, r)| selected_relay_text(case, j, &r));
    let d = draft(sink, s, "browser.selected_pair", "", || {
        let mut summary = format!("{}: {}", s.prefix(), verdict_body(v));
        if let Some(t) = &joined {
            summary.push_str("; ");
            summary.push_str(t);
        }
        (summary, REMEDY_SELECTED.to_string())
    });
    d.document(s.place(None, verdict_body(v)));
    if let Some((_, r)) = relay {
        if let crate::flow::AllocOutcome::Success { msg } = r.alloc.outcome {
            if let Some(m) = case
                .captures
                .get(r.cap)
                .and_then(|c| c.msgs.get(msg as usize))
            {
                d.frame(case, r.cap, m.frame, m.ts.0);
            }
        }
    }
}

/// The capture-level ids the join gives when the dump stands in for the guest's capture.
fn joined_rules(sink: &mut Sink<'_>, s: &Subject<'_, '_>) {
    let Some(j) = &s.join else {
        return;
    };
    for t in &j.turn {
        match &t.verdict {
            TurnVerdict::NeverArrived => never_arrived(sink, s, j, t),
            // The capture alone already raises reach.response_lost for it; the
            // browser.turn_error says whose it is.
            TurnVerdict::AnswerLost {
                alloc,
                retried_after_answer: false,
            } => answer_lost(sink, s, j, t, alloc),
            _ => {}
        }
    }
    for leg in &j.relay_legs {
        match leg.verdict {
            RelayLegVerdict::NeverArrived => relay_leg(sink, s, j, leg, "relay.unreachable"),
            RelayLegVerdict::ReturnBlocked => {
                relay_leg(sink, s, j, leg, "relay.return_blocked");
                relay_leg(sink, s, j, leg, "relay.unreachable");
            }
            RelayLegVerdict::ArrivedNotAnswered
            | RelayLegVerdict::GuestUnknown
            | RelayLegVerdict::NotCovered => {}
        }
    }
}

fn never_arrived(
    sink: &mut Sink<'_>,
    s: &Subject<'_, '_>,
    j: &DumpJoin<'_>,
    t: &join::TurnAttempt<'_>,
) {
    let case = sink.case;
    let d = draft(sink, s, "reach.inbound_blocked", &t.url, || {
        (
            format!(
                "the guest's TURN requests to {} never reached the Expressway-E: {} reports {}, and {} ({})",
                t.url,
                s.prefix(),
                errors_text(&t.errors),
                no_request_text(case, j),
                j.clock.describe()
            ),
            remedy_never_arrived(&t.url),
        )
    });
    for e in &t.errors {
        d.document(s.place(
            e.at.as_ref().map(ToString::to_string),
            format!("icecandidateerror {} \"{}\" on {}", e.code, e.text, e.url),
        ));
        at_time(d, s, e.at.as_ref());
    }
}

fn answer_lost(
    sink: &mut Sink<'_>,
    s: &Subject<'_, '_>,
    j: &DumpJoin<'_>,
    t: &join::TurnAttempt<'_>,
    alloc: &join::GuestAllocation<'_>,
) {
    let case = sink.case;
    let d = draft(sink, s, "reach.response_lost", &t.url, || {
        (
            format!(
                "the Expressway-E answered the guest's TURN requests ({}), but {} reports {}: the answers never reached the browser ({})",
                alloc_text(case, alloc),
                s.prefix(),
                errors_text(&t.errors),
                j.clock.describe()
            ),
            REMEDY_RESPONSE_LOST.to_string(),
        )
    });
    alloc_frames(d, case, alloc);
    for e in &t.errors {
        d.document(s.place(
            e.at.as_ref().map(ToString::to_string),
            format!("icecandidateerror {} \"{}\" on {}", e.code, e.text, e.url),
        ));
    }
}

fn relay_leg(
    sink: &mut Sink<'_>,
    s: &Subject<'_, '_>,
    j: &DumpJoin<'_>,
    leg: &join::RelayLeg<'_>,
    id: &'static str,
) {
    let case = sink.case;
    let range = case.relay_range();
    let d = sink.entry(id, leg.relay.to_string(), || {
        (
            relay_leg_summary(case, s, j, leg),
            remedy_relay_leg(leg.verdict, range),
        )
    });
    d.count += 1;
    let pair = leg.pair;
    d.document(s.place(
        pair.last_sample.map(|t| t.to_string()),
        format!(
            "candidate pair {}: {} requests sent, {} responses received",
            pair.stats_id,
            pair.requests_sent.unwrap_or(0),
            pair.responses_received.unwrap_or(0)
        ),
    ));
    if let Some((cap, a)) = leg.owner {
        if let Some(m) = alloc_success(case, cap, a) {
            d.frame(case, cap, m.0, m.1);
        }
    }
    for h in &leg.hops {
        d.hop(h);
    }
    if let Some(t) = pair.last_sample {
        d.ts = d.ts.min(j.clock.to_capture(t));
    }
}

/// The success frame and time of an allocation.
fn alloc_success(case: &Case, cap: usize, a: &crate::flow::Allocation) -> Option<(u32, i64)> {
    let crate::flow::AllocOutcome::Success { msg } = a.outcome else {
        return None;
    };
    let m = case.captures.get(cap)?.msgs.get(msg as usize)?;
    Some((m.frame, m.ts.0))
}
