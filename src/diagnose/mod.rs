//! Flows -> findings. One file per family of finding ids (see `docs/findings.md`); ids
//! are stable and never renamed. Findings are ordered by severity, then time, then id.

mod alloc;
mod auth;
mod capacity;
mod healthy;
mod ice;
pub mod logs;
mod nat;
mod perm;
mod proto;
mod reach;
mod relay;
mod transport;
mod version;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::flow::{Case, Credential, Sighting};

/// How bad a finding is: `error` blocks the call, `warning` degrades it or may, `info` is context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A capture file and a 1-based frame number, as Wireshark shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Evidence {
    pub capture: String,
    pub frame: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub summary: String,
    pub evidence: Vec<Evidence>,
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
    ("relay.private_address", Severity::Warning),
    ("relay.one_way", Severity::Warning),
    ("capacity.quota_reached", Severity::Error),
    ("capacity.insufficient", Severity::Error),
    ("capacity.alternate_server", Severity::Info),
    ("alloc.mismatch", Severity::Warning),
    ("alloc.expired", Severity::Warning),
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
    ("log.ice_failure", Severity::Error),
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
    pub credentials: Vec<Credential>,
    pub realm: Option<String>,
}

/// At most this many evidence frames per finding (the summary gives the full counts).
pub const MAX_EVIDENCE: usize = 24;

/// Collects findings; several observations with the same key merge into one finding.
pub(crate) struct Sink<'c> {
    pub case: &'c Case,
    /// (inside source IP, server public IP) legs explained by missing NAT reflection.
    pub reflected: Vec<(std::net::IpAddr, std::net::IpAddr)>,
    found: BTreeMap<(&'static str, String), Draft>,
}

/// A finding being assembled.
pub(crate) struct Draft {
    pub id: &'static str,
    pub summary: String,
    pub remedy: String,
    pub evidence: Vec<(usize, u32, i64)>,
    pub count: usize,
    pub ts: i64,
}

impl<'c> Sink<'c> {
    fn new(case: &'c Case) -> Self {
        Sink {
            case,
            reflected: Vec::new(),
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
        let mut out: Vec<Finding> = self
            .found
            .into_values()
            .map(|d| {
                let mut ev = d.evidence;
                ev.sort_by_key(|(c, f, _)| (*c, *f));
                ev.dedup_by_key(|(c, f, _)| (*c, *f));
                let ts = ev.iter().map(|e| e.2).min().unwrap_or(d.ts).min(d.ts);
                // Every capture gets its share of the evidence.
                let caps = {
                    let mut c: Vec<usize> = ev.iter().map(|e| e.0).collect();
                    c.dedup();
                    c.len().max(1)
                };
                let per_cap = (MAX_EVIDENCE / caps).max(4);
                let mut taken: Vec<usize> = Vec::new();
                let evidence = ev
                    .into_iter()
                    .filter(|(c, _, _)| {
                        if taken.len() <= *c {
                            taken.resize(*c + 1, 0);
                        }
                        let n = taken.get_mut(*c).map_or(usize::MAX, |n| {
                            *n += 1;
                            *n
                        });
                        n <= per_cap
                    })
                    .map(|(c, f, _)| {
                        // A capture read from rotated pieces: the piece and its own frame.
                        let at = case.captures[c].frame_ref(f);
                        Evidence {
                            capture: at.capture.to_string(),
                            frame: at.frame,
                        }
                    })
                    .collect();
                Finding {
                    id: d.id,
                    severity: severity_of(d.id),
                    summary: d.summary,
                    evidence,
                    remedy: d.remedy,
                    ts,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (a.severity, a.ts, a.id, &a.summary).cmp(&(b.severity, b.ts, b.id, &b.summary))
        });
        out
    }
}

impl Draft {
    /// Add a frame of capture `cap` at capture time `ts` (nanoseconds, that capture's clock).
    pub fn frame(&mut self, case: &Case, cap: usize, frame: u32, ts: i64) -> &mut Self {
        let t = case.to_reference(cap, ts);
        self.evidence.push((cap, frame, t));
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
    transport::rules(&mut sink);
    version::rules(&mut sink);
    healthy::rules(&mut sink);
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
        d.count += 1;
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
