//! Flows -> findings. One file per family of finding ids (see `docs/findings.md`); ids
//! are stable and never renamed. Findings are ordered by severity, then time, then id.

mod alloc;
mod auth;
pub mod browser;
mod capacity;
mod dns;
#[cfg(feature = "testsupport")]
pub mod fuzzing;
mod healthy;
mod ice;
pub mod input;
pub mod logs;
mod nat;
mod perm;
mod proto;
mod reach;
mod relay;
mod tls;
mod transport;
mod version;
mod web;

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::flow::{Case, Credential, Sighting};

/// How bad a finding is: `error` blocks the call, `warning` degrades it or may, `info` is context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the call: media cannot flow as captured.
    Error,
    /// Degrades the call or may: worth fixing, not the cause of a failure alone.
    Warning,
    /// Context: what was seen, nothing to fix.
    Info,
}

impl Severity {
    /// `error`, `warning` or `info`, as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A capture file and a 1-based frame number, as Wireshark shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Evidence {
    /// The capture (or rotated piece) as the report names it.
    pub capture: String,
    /// The frame, 1-based as Wireshark numbers it.
    pub frame: u32,
}

/// A place in a document other than a capture that a finding rests on: for a
/// chrome://webrtc-internals dump, the peer connection, what in it (a candidate error with its
/// URL, code and text; a state change; a candidate) and when the dump says it happened.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DocumentEvidence {
    /// The document as given (`bundle!member` inside a bundle).
    pub document: String,
    /// A webrtc-internals dump's peer connection id (`pid-lid`); `None` for other documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_connection: Option<String>,
    /// As the document writes it (UTC for dumps of Chrome 78 and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// What the document says there: the event and its details.
    pub what: String,
}

/// At most this many document places per finding.
pub const MAX_DOCUMENT_EVIDENCE: usize = 8;

/// One thing wrong (or worth knowing) in a case, with where it shows and what to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id from `docs/findings.md` (`relay.unreachable`); never renamed. Compares with `&str`.
    pub id: Cow<'static, str>,
    /// How bad it is (the catalogue's severity for the id).
    pub severity: Severity,
    /// What was seen, in one or a few sentences, with counts and addresses.
    pub summary: String,
    /// Frames it rests on, at most [`MAX_EVIDENCE`], grouped by capture in the order cited.
    pub evidence: Vec<Evidence>,
    /// Places in documents (dumps) the finding rests on; absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentEvidence>,
    /// What to change (configuration, firewall, credentials), in words for the engineer.
    pub remedy: String,
    /// Earliest evidence time on the reference clock (nanoseconds), for ordering.
    #[serde(skip)]
    pub ts: i64,
}

/// Every finding id this crate can emit, with its severity (the catalogue's table).
pub const CATALOGUE: &[(&str, Severity)] = &[
    ("flow.healthy", Severity::Info),
    ("auth.rejected", Severity::Error),
    ("auth.password_mismatch", Severity::Error),
    ("auth.server_password_mismatch", Severity::Error),
    ("auth.unknown_user", Severity::Error),
    ("auth.realm_mismatch", Severity::Error),
    ("auth.no_credentials", Severity::Error),
    ("auth.stale_nonce", Severity::Info),
    ("auth.stale_nonce_unhandled", Severity::Warning),
    ("reach.no_response", Severity::Error),
    ("reach.inbound_blocked", Severity::Error),
    ("reach.response_lost", Severity::Error),
    ("reach.server_silent", Severity::Error),
    ("reach.port_unreachable", Severity::Error),
    ("reach.tcp_refused", Severity::Error),
    ("relay.unreachable", Severity::Error),
    ("relay.return_blocked", Severity::Error),
    ("relay.private_address", Severity::Warning),
    ("relay.one_way", Severity::Warning),
    ("capacity.quota_reached", Severity::Error),
    ("capacity.insufficient", Severity::Error),
    ("capacity.alternate_server", Severity::Info),
    ("alloc.mismatch", Severity::Warning),
    ("alloc.expired", Severity::Warning),
    ("alloc.release_failed", Severity::Warning),
    ("perm.forbidden", Severity::Warning),
    ("ice.check_failed", Severity::Error),
    ("ice.role_conflict", Severity::Warning),
    ("ice.consent_lost", Severity::Warning),
    ("proto.bad_fingerprint", Severity::Warning),
    ("proto.malformed", Severity::Warning),
    ("proto.unknown_attribute", Severity::Warning),
    ("proto.unprotected_attribute", Severity::Warning),
    ("transport.turn_tls", Severity::Info),
    ("version.cms_binding_only", Severity::Warning),
    ("nat.reflection_missing", Severity::Error),
    ("dns.join_url_unresolved", Severity::Error),
    ("dns.join_url_private", Severity::Error),
    ("dns.webbridge_unresolved", Severity::Error),
    ("dns.xmpp_srv_unresolved", Severity::Error),
    ("dns.turn_unresolved", Severity::Error),
    ("tls.san_mismatch", Severity::Error),
    ("tls.self_signed", Severity::Error),
    ("tls.certificate_expired", Severity::Error),
    ("tls.certificate_not_yet_valid", Severity::Error),
    ("tls.certificate_rejected", Severity::Error),
    ("tls.client_certificate_rejected", Severity::Error),
    ("tls.certificate_hidden", Severity::Info),
    ("web.tcp443_unanswered", Severity::Error),
    ("web.tcp443_refused", Severity::Error),
    ("web.http_redirect", Severity::Info),
    ("web.http_no_redirect", Severity::Warning),
    ("log.ice_failure", Severity::Error),
    ("browser.no_relay_candidate", Severity::Error),
    ("browser.turn_error", Severity::Error),
    ("browser.ice_failed", Severity::Error),
    ("browser.ice_disconnected", Severity::Warning),
    ("browser.ice_not_connected", Severity::Warning),
    ("browser.relay_tcp_only", Severity::Warning),
    ("browser.selected_pair", Severity::Info),
    ("input.no_stun", Severity::Warning),
    ("input.no_capture", Severity::Warning),
    ("input.empty_password", Severity::Warning),
    ("input.credential_unverified", Severity::Warning),
    ("input.role_contradicted", Severity::Warning),
    ("input.role_unknown", Severity::Info),
];

/// The catalogue severity of an id.
pub fn severity_of(id: &str) -> Severity {
    CATALOGUE
        .iter()
        .find(|(i, _)| *i == id)
        .map_or(Severity::Warning, |(_, s)| *s)
}

/// What diagnosis needs beyond the flows.
#[derive(Debug, Clone, Default)]
pub struct DiagnoseOptions {
    /// Credentials to verify the integrity of signed messages with.
    pub credentials: Vec<Credential>,
    /// The realm the credentials are for, when the traffic names none.
    pub realm: Option<String>,
    /// `--join-url`: the web bridge join URL (else inferred from the traffic, see `web.rs`).
    pub join_url: Option<String>,
    /// Public addresses of guest browsers, from their webrtc-internals dumps (srflx
    /// candidates, relay candidates' bases): a browser, not a CMS, sends what comes from them
    /// ([`browser::guest_public_ips`]).
    pub browsers: std::collections::BTreeSet<std::net::IpAddr>,
}

/// At most this many evidence frames per finding (the summary gives the full counts), or 4
/// per capture when more captures than 6 show it...
pub const MAX_EVIDENCE: usize = 24;

/// ...from at most this many captures (the first in the case's order).
pub const MAX_EVIDENCE_CAPTURES: usize = 16;

/// A draft's evidence list is cut down to what can still be shown when it grows this long, so
/// that a finding made of a million transactions holds a few hundred frames, not millions.
const EVIDENCE_COMPACT_AT: usize = 4 * MAX_EVIDENCE * MAX_EVIDENCE_CAPTURES;

/// Sort and dedup evidence by (capture, frame) and keep what [`Sink::finish`] can show: the
/// first [`MAX_EVIDENCE_CAPTURES`] captures, the first `per_cap` frames of each.
fn select_evidence(ev: &mut Vec<(usize, u32, i64)>, per_cap: impl Fn(usize) -> usize) {
    ev.sort_by_key(|(c, f, _)| (*c, *f));
    ev.dedup_by_key(|(c, f, _)| (*c, *f));
    let caps = {
        let mut c: Vec<usize> = ev.iter().map(|e| e.0).collect();
        c.dedup();
        c.len().clamp(1, MAX_EVIDENCE_CAPTURES)
    };
    let per_cap = per_cap(caps);
    let (mut cap, mut in_cap, mut caps_seen) = (usize::MAX, 0, 0);
    ev.retain(|(c, _, _)| {
        if *c != cap {
            (cap, in_cap) = (*c, 0);
            caps_seen += 1;
        }
        in_cap += 1;
        caps_seen <= MAX_EVIDENCE_CAPTURES && in_cap <= per_cap
    });
}

/// Collects findings; several observations with the same key merge into one finding.
pub(crate) struct Sink<'c> {
    pub case: &'c Case,
    /// Every connectivity check with its per-hop verdict (computed once for all rules).
    pub checks: Vec<crate::flow::CheckPath>,
    found: BTreeMap<(&'static str, String), Draft>,
}

/// A finding being assembled.
pub(crate) struct Draft {
    pub id: &'static str,
    pub summary: String,
    pub remedy: String,
    pub evidence: Vec<(usize, u32, i64)>,
    pub documents: Vec<DocumentEvidence>,
    pub count: usize,
    pub ts: i64,
}

impl<'c> Sink<'c> {
    fn new(case: &'c Case) -> Self {
        Sink {
            case,
            checks: crate::flow::hops::check_paths(case),
            found: BTreeMap::new(),
        }
    }

    /// Get or create the finding `id` for `key`; the closure sets summary and remedy the first
    /// time. Returns the draft so callers can add evidence and bump counts.
    pub fn entry(
        &mut self,
        id: &'static str,
        key: impl Into<String>,
        init: impl FnOnce() -> (String, String),
    ) -> &mut Draft {
        self.found.entry((id, key.into())).or_insert_with(|| {
            let (summary, remedy) = init();
            Draft {
                id,
                summary,
                remedy,
                evidence: Vec::new(),
                documents: Vec::new(),
                count: 0,
                ts: i64::MAX,
            }
        })
    }

    pub fn drafts_mut(&mut self, id: &'static str) -> Vec<&mut Draft> {
        self.found
            .iter_mut()
            .filter(|((i, _), _)| *i == id)
            .map(|(_, d)| d)
            .collect()
    }

    fn finish(self) -> Vec<Finding> {
        let case = self.case;
        let mut out: Vec<(Finding, usize)> = self
            .found
            .into_values()
            .map(|d| {
                let mut ev = d.evidence;
                let ts = ev.iter().map(|e| e.2).min().unwrap_or(d.ts).min(d.ts);
                // Every capture gets its share of the evidence.
                select_evidence(&mut ev, |caps| (MAX_EVIDENCE / caps).max(4));
                let evidence = ev
                    .into_iter()
                    .map(|(c, f, _)| {
                        // A capture read from rotated pieces: the piece and its own frame.
                        match case.captures.get(c) {
                            Some(cap) => {
                                let at = cap.frame_ref(f);
                                Evidence {
                                    capture: at.capture.to_string(),
                                    frame: at.frame,
                                }
                            }
                            None => Evidence {
                                capture: case.name(c).to_string(),
                                frame: f,
                            },
                        }
                    })
                    .collect();
                let finding = Finding {
                    id: Cow::Borrowed(d.id),
                    severity: severity_of(d.id),
                    summary: d.summary,
                    evidence,
                    documents: d.documents,
                    remedy: d.remedy,
                    ts,
                };
                (finding, d.count)
            })
            .collect();
        out.sort_by(|(a, _), (b, _)| {
            (a.severity, a.ts, &a.id, &a.summary).cmp(&(b.severity, b.ts, &b.id, &b.summary))
        });
        let mut out = at_most_per_id(out);
        out.sort_by(|a, b| {
            (a.severity, a.ts, &a.id, &a.summary).cmp(&(b.severity, b.ts, &b.id, &b.summary))
        });
        out
    }
}

/// Findings of one id listed one by one, at most (e.g. one per client address: a capture of a
/// hundred thousand clients would list a hundred thousand).
pub const MAX_FINDINGS_PER_ID: usize = 200;

/// The first [`MAX_FINDINGS_PER_ID`] findings of each id (in report order), and one finding
/// for the rest of each id that has more, counting them.
fn at_most_per_id(findings: Vec<(Finding, usize)>) -> Vec<Finding> {
    let mut listed: BTreeMap<Cow<'static, str>, usize> = BTreeMap::new();
    let mut rest: BTreeMap<Cow<'static, str>, (Finding, usize, usize)> = BTreeMap::new();
    let mut out = Vec::new();
    for (f, count) in findings {
        let n = listed.entry(f.id.clone()).or_default();
        if *n < MAX_FINDINGS_PER_ID {
            *n += 1;
            out.push(f);
            continue;
        }
        let (merged, findings, occurrences) = rest.entry(f.id.clone()).or_insert_with(|| {
            let empty = Finding {
                evidence: Vec::new(),
                ts: i64::MAX,
                ..f.clone()
            };
            (empty, 0, 0)
        });
        *findings += 1;
        *occurrences += count.max(1);
        merged.ts = merged.ts.min(f.ts);
        let room = MAX_EVIDENCE.saturating_sub(merged.evidence.len());
        merged
            .evidence
            .extend(f.evidence.into_iter().take(room.min(2)));
    }
    for (id, (mut merged, findings, occurrences)) in rest {
        merged.summary = format!(
            "{} more {id} findings like the ones listed ({occurrences} occurrences), not listed one by one (at most {MAX_FINDINGS_PER_ID} findings of one id are)",
            findings
        );
        out.push(merged);
    }
    out
}

impl Draft {
    /// Append `note` to the summary once: unless the summary already names `what`, and while
    /// it is shorter than `room` bytes. For the same problem seen under another address (the
    /// other side of a NAT, another interface of the same server).
    pub fn mention_once(&mut self, what: &str, note: &str, room: usize) {
        if !self.summary.contains(what) && self.summary.len() < room {
            self.summary.push_str(note);
        }
    }

    /// Add a frame of capture `cap` at capture time `ts` (nanoseconds, that capture's clock).
    pub fn frame(&mut self, case: &Case, cap: usize, frame: u32, ts: i64) -> &mut Self {
        let t = case.to_reference(cap, ts);
        self.evidence.push((cap, frame, t));
        self.ts = self.ts.min(t);
        if self.evidence.len() >= EVIDENCE_COMPACT_AT {
            // Keep what any final share could show (at most MAX_EVIDENCE frames a capture).
            select_evidence(&mut self.evidence, |_| MAX_EVIDENCE);
        }
        self
    }

    /// Add a place in a document (kept up to [`MAX_DOCUMENT_EVIDENCE`], duplicates once).
    pub fn document(&mut self, place: DocumentEvidence) -> &mut Self {
        if self.documents.len() < MAX_DOCUMENT_EVIDENCE && !self.documents.contains(&place) {
            self.documents.push(place);
        }
        self
    }

    /// Add a sighting placed on its hop (its time is already on the reference clock).
    pub fn hop(&mut self, h: &crate::flow::Hop) -> &mut Self {
        self.evidence.push((h.cap, h.frame, h.ts));
        self
    }

    /// Add the request and response frames of a transaction sighting.
    pub fn sighting(&mut self, case: &Case, s: Sighting) -> &mut Self {
        let c = &case.captures[s.cap];
        let t = case.tx(s);
        for &i in t.requests.iter().take(4) {
            let m = c.msg(i);
            self.frame(case, s.cap, m.frame, m.ts.0);
        }
        for &i in t.responses.iter().take(2) {
            let m = c.msg(i);
            self.frame(case, s.cap, m.frame, m.ts.0);
        }
        self
    }
}

/// Run every rule over the case.
pub fn diagnose(case: &Case, opts: &DiagnoseOptions) -> Vec<Finding> {
    let mut sink = Sink::new(case);
    auth::rules(&mut sink, opts);
    reach::rules(&mut sink);
    nat::rules(&mut sink);
    relay::rules(&mut sink);
    capacity::rules(&mut sink);
    alloc::rules(&mut sink);
    perm::rules(&mut sink);
    ice::rules(&mut sink);
    proto::rules(&mut sink);
    let web = web::Facts::new(case, opts);
    transport::rules(&mut sink, &web);
    dns::rules(&mut sink, &web);
    tls::rules(&mut sink, &web);
    web::rules(&mut sink, &web);
    version::rules(&mut sink, &opts.browsers);
    healthy::rules(&mut sink);
    input::rules(&mut sink, &opts.credentials);
    sink.finish()
}

/// "1 request" / "3 requests".
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Method name for summaries: "Allocate", "CreatePermission", ...
pub(crate) fn method_title(m: crate::wire::Method) -> String {
    use crate::wire::Method;
    match m {
        Method::BINDING => "Binding".into(),
        Method::ALLOCATE => "Allocate".into(),
        Method::REFRESH => "Refresh".into(),
        Method::SEND => "Send".into(),
        Method::DATA => "Data".into(),
        Method::CREATE_PERMISSION => "CreatePermission".into(),
        Method::CHANNEL_BIND => "ChannelBind".into(),
        Method::CONNECT => "Connect".into(),
        Method::CONNECTION_BIND => "ConnectionBind".into(),
        other => other.to_string(),
    }
}

/// One finding per error code answer: every transaction whose final answer carries `code`
/// (and whose method passes `method_ok`) adds its frames to the finding `id`, keyed by `key`.
pub(crate) fn by_error_code(
    sink: &mut Sink<'_>,
    code: u16,
    id: &'static str,
    method_ok: impl Fn(crate::wire::Method) -> bool,
    key: impl Fn(&crate::flow::Msg, &crate::flow::Msg) -> String,
    summary: impl Fn(&crate::flow::Msg, &crate::flow::Msg) -> String,
    remedy: &str,
) {
    let case = sink.case;
    for t in &case.txs {
        let Some((_, rs)) = case.any_response(t) else {
            continue;
        };
        if rs.class != crate::wire::Class::Error || rs.error != Some(code) || !method_ok(t.method) {
            continue;
        }
        let rq = case.any_request(t).map(|(_, m)| m).unwrap_or(rs);
        let d = sink.entry(id, key(rq, rs), || (summary(rq, rs), remedy.to_string()));
        d.count += case.weight(t);
        if d.evidence.len() < MAX_EVIDENCE {
            for &x in &t.sightings {
                d.sighting(case, x);
            }
        }
    }
    for d in sink.drafts_mut(id) {
        if d.count > 1 {
            d.summary.push_str(&format!(" ({} answers)", d.count));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evidence of 20 captures, frames in a scrambled order with repeats.
    fn evidence(n: usize) -> Vec<(usize, u32, i64)> {
        (0..n)
            .map(|i| {
                let cap = (i * 7) % 20;
                let frame = ((i * 7919) % 3001) as u32;
                (cap, frame, i64::from(frame) * 1000)
            })
            .collect()
    }

    #[test]
    fn compacting_while_collecting_keeps_what_is_shown() {
        let all = evidence(20_000);
        let final_share = |caps: usize| (MAX_EVIDENCE / caps).max(4);
        let mut at_once = all.clone();
        select_evidence(&mut at_once, final_share);
        let mut collected = Vec::new();
        for e in all {
            collected.push(e);
            if collected.len() >= EVIDENCE_COMPACT_AT {
                select_evidence(&mut collected, |_| MAX_EVIDENCE);
            }
        }
        select_evidence(&mut collected, final_share);
        assert_eq!(collected, at_once);
        // The first 16 captures, 4 frames each, the lowest frames.
        assert_eq!(at_once.len(), MAX_EVIDENCE_CAPTURES * 4);
        assert_eq!(at_once.first().map(|e| (e.0, e.1)), Some((0, 0)));
        assert_eq!(at_once.last().map(|e| e.0), Some(MAX_EVIDENCE_CAPTURES - 1));
    }
}
