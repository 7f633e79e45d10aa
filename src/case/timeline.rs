//! One case, one timeline: the case's packets of interest and its documents' events (log
//! lines, browser events) in one time order, on the reference capture's clock.
//!
//! Packets are summarised, never listed one by one: the transactions of one kind between the
//! same two addresses (method, client, server, transport, ICE check or not, outcome) form a
//! run with its first and last time and its count, so that a retransmitted Allocate that
//! never got an answer is one entry, the 401 challenges another, the 401s to requests with
//! credentials (rejections) a third, the successes a fourth.
//! Document events come as they are ([`DocumentEvent`]): whatever the documents' readers put on
//! the case's clock (the time of a line without a zone is placed by the estimated clock
//! offset, and marked `estimated`); events that cannot be placed are counted, not guessed.
//!
//! Bounded: at most [`MAX_PACKET_RUNS`] runs and [`MAX_ENTRIES`] entries in all; the rest is
//! counted in [`Timeline::not_listed`].

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::flow::{Case, CaseTx};

/// Most runs of transactions listed.
pub const MAX_PACKET_RUNS: usize = 2_000;
/// Most entries listed in all.
pub const MAX_ENTRIES: usize = 5_000;

/// Where an entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Transactions of the captures.
    Packets,
    /// A line of a server or CMS log.
    Log,
    /// An event of a browser's webrtc-internals dump.
    Browser,
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Seconds since the epoch on the reference capture's clock.
    pub ts: f64,
    /// For a run of transactions: the time of its last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<f64>,
    /// Packets, a log line or a browser event.
    pub kind: EntryKind,
    /// The capture (the piece, for a rotated one) or the document.
    pub source: String,
    /// The frame of the first transaction (in `source`), for packets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<u32>,
    /// The line, for a document event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Transactions in the run (1 for a document event).
    pub count: usize,
    /// One line: what happened.
    pub what: String,
    /// The time comes from a local time moved by an estimated clock offset.
    pub estimated: bool,
}

/// An event of a document, as the caller placed it on the case's clock.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentEvent {
    /// A log line or a browser event.
    pub kind: EntryKind,
    /// The document as given.
    pub document: String,
    /// The line, 1-based (0 for a dump).
    pub line: u64,
    /// Reference clock, seconds since the epoch; `None` when it could not be placed.
    pub ts: Option<f64>,
    /// The time comes from a local time moved by an estimated clock offset.
    pub estimated: bool,
    /// The line's level (`error`, `warning`...), when it has one.
    pub level: Option<String>,
    /// The message as written.
    pub text: String,
}

/// The timeline of a case.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// The entries in time order, at most [`MAX_ENTRIES`].
    pub entries: Vec<Entry>,
    /// Entries beyond the limits, counted only.
    pub not_listed: usize,
    /// Document events whose time could not be placed on the case's clock.
    pub not_placed: usize,
}

/// What makes transactions one run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RunKey {
    method: String,
    client: SocketAddr,
    server: SocketAddr,
    transport: &'static str,
    ice_check: bool,
    /// The request carried credentials: a 401 to it is a rejection, not the challenge.
    authenticated: bool,
    outcome: String,
}

/// A run being gathered.
struct Run {
    first_ns: i64,
    last_ns: i64,
    count: usize,
    source: String,
    frame: u32,
}

/// The runs of transactions of the case, in time order (at most [`MAX_PACKET_RUNS`], the
/// earliest), and how many were left out.
pub fn packet_runs(case: &Case) -> (Vec<Entry>, usize) {
    let mut runs: HashMap<RunKey, Run> = HashMap::new();
    for t in &case.txs {
        let Some((key, first)) = run_of(case, t) else {
            continue;
        };
        let weight = case.weight(t).max(1);
        runs.entry(key)
            .and_modify(|r| {
                if first.first_ns < r.first_ns {
                    r.first_ns = first.first_ns;
                    r.source.clone_from(&first.source);
                    r.frame = first.frame;
                }
                r.last_ns = r.last_ns.max(first.first_ns);
                r.count += weight;
            })
            .or_insert(Run {
                count: weight,
                ..first
            });
    }
    let mut entries: Vec<Entry> = runs.into_iter().map(|(k, r)| run_entry(&k, r)).collect();
    entries.sort_by(|a, b| a.ts.total_cmp(&b.ts).then_with(|| a.what.cmp(&b.what)));
    let left_out = entries.len().saturating_sub(MAX_PACKET_RUNS);
    entries.truncate(MAX_PACKET_RUNS);
    (entries, left_out)
}

/// The key of a transaction's run, and the run it starts.
fn run_of(case: &Case, t: &CaseTx) -> Option<(RunKey, Run)> {
    let request = case.any_request(t);
    let (s0, m0) = request.or_else(|| case.any_response(t))?;
    let (client, server) = if request.is_some() {
        (m0.src, m0.dst)
    } else {
        (m0.dst, m0.src)
    };
    let outcome = match case.any_response(t) {
        Some((_, r)) => r.outcome(),
        None => "unanswered".to_string(),
    };
    let c = case.captures.get(s0.cap)?;
    let at = c.frame_ref(m0.frame);
    let ts = case.to_reference(s0.cap, m0.ts.0);
    let key = RunKey {
        method: t.method.to_string(),
        client,
        server,
        transport: m0.transport.as_str(),
        ice_check: m0.is_ice_check(),
        authenticated: request.is_some_and(|(_, q)| q.is_authenticated()),
        outcome,
    };
    let run = Run {
        first_ns: ts,
        last_ns: ts,
        count: 1,
        source: at.capture.to_string(),
        frame: at.frame,
    };
    Some((key, run))
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

fn run_entry(k: &RunKey, r: Run) -> Entry {
    let what = format!(
        "{}{}{} {} -> {}/{}: {}{}",
        k.method,
        if k.ice_check { " (ICE check)" } else { "" },
        if k.authenticated {
            " with credentials"
        } else {
            ""
        },
        k.client,
        k.server,
        k.transport,
        k.outcome,
        if r.count > 1 {
            format!(" ({} transactions)", r.count)
        } else {
            String::new()
        }
    );
    Entry {
        ts: secs(r.first_ns),
        until: (r.last_ns > r.first_ns).then(|| secs(r.last_ns)),
        kind: EntryKind::Packets,
        source: r.source,
        frame: Some(r.frame),
        line: None,
        count: r.count,
        what,
        estimated: false,
    }
}

/// The timeline: the case's runs of transactions and the documents' events, merged in time
/// order (ties: packets first, then by source and line).
pub fn build(case: &Case, events: impl IntoIterator<Item = DocumentEvent>) -> Timeline {
    let (mut entries, mut not_listed) = packet_runs(case);
    let mut not_placed = 0;
    for e in events {
        let Some(ts) = e.ts else {
            not_placed += 1;
            continue;
        };
        let what = match &e.level {
            Some(level) => format!("{level}: {}", e.text),
            None => e.text,
        };
        entries.push(Entry {
            ts,
            until: None,
            kind: e.kind,
            source: e.document,
            frame: None,
            line: Some(e.line),
            count: 1,
            what,
            estimated: e.estimated,
        });
    }
    let rank = |k: EntryKind| match k {
        EntryKind::Packets => 0,
        EntryKind::Log => 1,
        EntryKind::Browser => 2,
    };
    entries.sort_by(|a, b| {
        a.ts.total_cmp(&b.ts)
            .then_with(|| rank(a.kind).cmp(&rank(b.kind)))
            .then_with(|| a.source.cmp(&b.source))
            .then_with(|| a.line.cmp(&b.line))
    });
    not_listed += entries.len().saturating_sub(MAX_ENTRIES);
    entries.truncate(MAX_ENTRIES);
    Timeline {
        entries,
        not_listed,
        not_placed,
    }
}

/// `2026-11-29 16:04:19.441` (UTC) for seconds since the epoch, rounded to the millisecond.
pub fn utc_text(ts: f64) -> String {
    let ms = (ts * 1000.0).round() as i64;
    crate::sources::clock::format_ns(ms.saturating_mul(1_000_000))
}

/// One line for an entry, in the reader's words: time, source, what.
pub fn entry_text(e: &Entry) -> String {
    // Line 0: an event of a document without lines (a dump's JSON).
    let at = match (e.frame, e.line) {
        (Some(f), _) => format!(" frame {f}"),
        (None, Some(l)) if l > 0 => format!(" line {l}"),
        (None, _) => String::new(),
    };
    let until = e
        .until
        .map(|u| format!(", until +{:.3} s", u - e.ts))
        .unwrap_or_default();
    let kind = match e.kind {
        EntryKind::Packets => "packets",
        EntryKind::Log => "log",
        EntryKind::Browser => "browser",
    };
    format!(
        "{}{} {kind} {}{at}: {}{until}",
        utc_text(e.ts),
        if e.estimated { " ~" } else { "" },
        short_source(&e.source),
        e.what
    )
}

/// A source's last component (`bundle!eth1_…pcap` -> `eth1_…pcap`): the full name is in JSON.
fn short_source(s: &str) -> &str {
    s.rsplit(['/', '!']).next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_is_the_calendar_time() {
        assert_eq!(utc_text(0.0), "1970-01-01 00:00:00.000");
        // 2026-11-29 16:04:19.441 UTC
        assert_eq!(utc_text(1_795_968_259.441), "2026-11-29 16:04:19.441");
        assert_eq!(utc_text(951_782_400.0), "2000-02-29 00:00:00.000");
    }

    #[test]
    fn document_events_are_merged_in_time_order_and_unplaced_ones_counted() {
        let case = Case::build(Vec::new(), &[], Default::default());
        let ev = |ts: Option<f64>, line: u64| DocumentEvent {
            kind: EntryKind::Log,
            document: "cms.log".into(),
            line,
            ts,
            estimated: ts.is_some(),
            level: Some("warning".into()),
            text: format!("line {line}"),
        };
        let t = build(&case, [ev(Some(20.0), 2), ev(None, 3), ev(Some(10.0), 1)]);
        let lines: Vec<Option<u64>> = t.entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, [Some(1), Some(2)]);
        assert_eq!(t.not_placed, 1);
        assert_eq!(t.entries[0].what, "warning: line 1");
        assert!(entry_text(&t.entries[0]).contains(" ~ log cms.log line 1: warning: line 1"));
    }
}
