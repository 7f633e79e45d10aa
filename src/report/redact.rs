//! `--redact` on the report model: every address, name and path of a [`Report`] rewritten once
//! with the case's [`Redactor`], before any renderer sees it, so the terminal table, JSON,
//! Markdown and HTML all show the same pseudonyms (and the terminal table still fits).
//!
//! Names are learned first (usernames and realms from the allocations and the server
//! profile), so free text that mentions them later gets the same pseudonym; then structured
//! addresses and file names; then free text (summaries, remedies, log lines, timeline).
//! Finding ids, severities, counts and times are untouched: the verdict reads the same.

use crate::diagnose::{DocumentEvidence, Evidence, Finding};
use crate::redact::Redactor;
use crate::sources::cmslog::{CmsWhat, IceCause};
use crate::sources::expressway::LogWhat;

use super::{AllocInfo, AnalyzeOptions, CaptureInfo, Correlation, Report, TxInfo};
use crate::case::{BrowserEvent, EventWhat, LogsInfo};

impl AnalyzeOptions {
    /// A redactor for the case these options describe, knowing the usernames of the
    /// credentials, the realm and the join URL's host as such (so they get `user-N`,
    /// `realm-N` and `host-N.example` wherever they show up).
    pub fn redactor(&self) -> Redactor {
        let mut r = Redactor::new();
        for c in &self.credentials {
            r.username(&c.user);
        }
        if let Some(realm) = &self.realm {
            r.realm(realm);
        }
        if let Some(url) = &self.join_url {
            r.host(url);
        }
        r
    }
}

impl Report {
    /// Replace the customer's addresses, usernames, realms, host names and directories with
    /// `r`'s pseudonyms everywhere in the report (see [`crate::redact`]).
    pub fn redact(&mut self, r: &mut Redactor) {
        self.learn_names(r);
        for c in &mut self.captures {
            redact_capture(c, r);
        }
        for a in &mut self.allocations {
            redact_allocation(a, r);
        }
        for t in &mut self.transactions {
            redact_transaction(t, r);
        }
        redact_correlation(&mut self.correlation, r);
        for f in &mut self.findings {
            redact_finding(f, r);
        }
        for e in &mut self.errors {
            e.path = r.file_name(&e.path);
            e.reason = r.text(&e.reason);
        }
        for p in &mut self.server_profile {
            p.value = r.text(&p.value);
            p.source = r.text(&p.source);
        }
        redact_logs(&mut self.logs, r);
        for b in &mut self.bundles {
            b.path = r.file_name(&b.path);
            b.notes = b.notes.iter().map(|n| r.text(n)).collect();
        }
        for e in &mut self.timeline {
            e.source = r.file_name(&e.source);
            e.what = r.text(&e.what);
        }
    }

    /// Usernames, realms and file labels the report holds as such, so free text naming them
    /// later gets the same pseudonyms.
    fn learn_names(&self, r: &mut Redactor) {
        for a in &self.allocations {
            if let Some(u) = &a.username {
                r.username(u);
            }
            if let Some(realm) = &a.realm {
                r.realm(realm);
            }
        }
        for p in self.server_profile.iter().filter(|p| p.item == "realm") {
            r.realm(&p.value);
        }
        // File labels before any text that quotes them.
        for c in &self.captures {
            r.file_name(&c.path);
            for p in &c.pieces {
                r.file_name(&p.path);
            }
        }
        for d in &self.logs.documents {
            r.file_name(&d.path);
        }
        for b in &self.bundles {
            r.file_name(&b.path);
        }
    }
}

fn redact_capture(c: &mut CaptureInfo, r: &mut Redactor) {
    c.path = r.file_name(&c.path);
    c.role_reason = r.text(&c.role_reason);
    c.interface = c.interface.as_deref().map(|i| r.text(i));
    for p in &mut c.pieces {
        p.path = r.file_name(&p.path);
    }
}

fn redact_allocation(a: &mut AllocInfo, r: &mut Redactor) {
    a.capture = r.file_name(&a.capture);
    a.client = r.socket(a.client);
    a.server = r.socket(a.server);
    a.username = a.username.as_deref().map(|u| r.username(u));
    a.realm = a.realm.as_deref().map(|x| r.realm(x));
    a.outcome = r.text(&a.outcome);
    a.challenge_capture = a.challenge_capture.as_deref().map(|c| r.file_name(c));
    a.relayed = a.relayed.map(|x| r.socket(x));
    a.mapped = a.mapped.map(|x| r.socket(x));
    for p in &mut a.permissions {
        *p = r.socket(*p);
    }
    for c in &mut a.channels {
        c.peer = r.socket(c.peer);
    }
}

fn redact_transaction(t: &mut TxInfo, r: &mut Redactor) {
    t.client = t.client.map(|x| r.socket(x));
    t.server = t.server.map(|x| r.socket(x));
    t.outcome = r.text(&t.outcome);
    t.reason = t.reason.as_deref().map(|x| r.text(x));
    for s in &mut t.seen {
        s.capture = r.file_name(&s.capture);
        s.src = r.socket(s.src);
        s.dst = r.socket(s.dst);
        s.response = s.response.as_deref().map(|x| r.text(x));
    }
    if let Some(hop) = t.check.as_mut().and_then(|c| c.last.as_mut()) {
        hop.capture = r.file_name(&hop.capture);
    }
}

fn redact_correlation(c: &mut Correlation, r: &mut Redactor) {
    c.reference = c.reference.as_deref().map(|x| r.file_name(x));
    for o in &mut c.clock_offsets {
        o.capture = r.file_name(&o.capture);
    }
    for n in &mut c.nat {
        n.client_src = r.socket(n.client_src);
        n.client_dst = r.socket(n.client_dst);
        n.server_src = r.socket(n.server_src);
        n.server_dst = r.socket(n.server_dst);
        n.client_capture = r.file_name(&n.client_capture);
        n.server_capture = r.file_name(&n.server_capture);
    }
    c.turn_servers = c.turn_servers.iter().map(|s| r.text(s)).collect();
}

fn redact_finding(f: &mut Finding, r: &mut Redactor) {
    f.summary = r.text(&f.summary);
    f.remedy = r.text(&f.remedy);
    for e in &mut f.evidence {
        redact_evidence(e, r);
    }
    for d in &mut f.documents {
        redact_document_evidence(d, r);
    }
}

fn redact_evidence(e: &mut Evidence, r: &mut Redactor) {
    e.capture = r.file_name(&e.capture);
}

fn redact_document_evidence(d: &mut DocumentEvidence, r: &mut Redactor) {
    d.document = r.file_name(&d.document);
    d.what = r.text(&d.what);
}

fn redact_logs(logs: &mut LogsInfo, r: &mut Redactor) {
    for d in &mut logs.documents {
        d.path = r.file_name(&d.path);
    }
    for e in &mut logs.events {
        e.document = r.file_name(&e.document);
        e.text = r.text(&e.text);
        redact_event(&mut e.what, r);
    }
    for l in &mut logs.links {
        l.document = r.file_name(&l.document);
        l.summary = r.text(&l.summary);
        for p in &mut l.packets {
            redact_evidence(p, r);
        }
    }
    for c in &mut logs.clocks {
        c.document = r.file_name(&c.document);
    }
}

fn redact_event(what: &mut EventWhat, r: &mut Redactor) {
    match what {
        EventWhat::Cms(c) => match c {
            CmsWhat::IceFailure {
                cause: IceCause::Other { detail, .. },
                ..
            } => *detail = r.text(detail),
            CmsWhat::WebBridgeConnectionFailed { host, reason, .. } => {
                *host = r.text(host);
                *reason = r.text(reason);
            }
            CmsWhat::NameResolutionFailed { name, .. } => *name = r.text(name),
            CmsWhat::WebBridgeLinkFailed { reason, .. } => *reason = r.text(reason),
            _ => {}
        },
        EventWhat::Expressway(LogWhat::MediaRoute {
            action,
            received_on,
            received_from,
            sent_on,
            sent_to,
        }) => {
            *action = r.text(action);
            for a in [received_on, received_from, sent_on, sent_to] {
                *a = a.map(|x| r.socket(x));
            }
        }
        EventWhat::Expressway(_) => {}
        EventWhat::Browser(b) => redact_browser(b, r),
    }
}

fn redact_browser(b: &mut BrowserEvent, r: &mut Redactor) {
    match b {
        BrowserEvent::BrowserIceState { .. } | BrowserEvent::BrowserConnectionState { .. } => {}
        BrowserEvent::BrowserCandidateError { url, text, .. } => {
            *url = r.text(url);
            *text = r.text(text);
        }
        BrowserEvent::BrowserCandidate { address, url, .. } => {
            *address = r.text(address);
            *url = url.as_deref().map(|u| r.text(u));
        }
        BrowserEvent::BrowserSelectedPair { local, remote, .. } => {
            *local = r.text(local);
            *remote = r.text(remote);
        }
    }
}
