//! The documents of a case in the report: what each gave, their events on the captures'
//! timeline (UTC where the log says its zone, else the local time moved by the clock offset
//! its links estimate), the links to packets, and the clocks.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::diagnose::logs::{on_capture_clock, LogClock, LogLink};
use crate::diagnose::Evidence;
use crate::flow::Case;
use crate::sources::cmslog::{CmsWhat, Level};
use crate::sources::expressway::LogWhat;
use crate::sources::webrtc::{
    CandidateType, ConnectionState, EventTime, IceConnectionState, RelayProtocol, WebrtcDump,
};
use crate::sources::{DocKind, Document, LogTime, Model};

use super::timeline::{DocumentEvent, EntryKind};

/// Most events listed (the rest are counted in [`LogsInfo::events_not_listed`]).
const MAX_LISTED: usize = 5000;

/// What a document gave.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DocumentInfo {
    /// The document as given (`bundle!member` inside a bundle).
    pub path: String,
    /// What kind of document it is.
    pub kind: DocKind,
    /// Lines read.
    pub lines: u64,
    /// Events or settings kept.
    pub kept: usize,
    /// Lines not understood.
    pub unread: u64,
}

/// A typed event, as the source says it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventWhat {
    /// A line of a CMS event log.
    Cms(CmsWhat),
    /// A line of the Expressway log.
    Expressway(LogWhat),
    /// An event of a chrome://webrtc-internals dump.
    Browser(BrowserEvent),
}

/// What a chrome://webrtc-internals dump logged, for the timeline (`kind` names it).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BrowserEvent {
    /// `iceconnectionstatechange`.
    BrowserIceState {
        /// The dump's peer connection id (`pid-lid`).
        peer_connection: String,
        /// The state it changed to.
        state: IceConnectionState,
    },
    /// `connectionstatechange`.
    BrowserConnectionState {
        /// The dump's peer connection id (`pid-lid`).
        peer_connection: String,
        /// The state it changed to.
        state: ConnectionState,
    },
    /// `icecandidateerror`: a STUN/TURN URL that gave no candidate (701, 401, 431...).
    BrowserCandidateError {
        /// The dump's peer connection id (`pid-lid`).
        peer_connection: String,
        /// The STUN or TURN URL that failed (`turn:198.51.100.10:3478?transport=udp`), credentials never included.
        url: String,
        /// The error code (701: no answer; otherwise the STUN error code).
        code: u16,
        /// The error text the browser gives.
        text: String,
        /// The local port the browser sent from, when the dump names it.
        port: Option<u16>,
    },
    /// A local candidate gathered (`icecandidate`).
    BrowserCandidate {
        /// The dump's peer connection id (`pid-lid`).
        peer_connection: String,
        /// Host, server-reflexive, peer-reflexive or relay.
        candidate_type: CandidateType,
        /// The candidate's address, `IP:PORT`.
        address: String,
        /// For a relay candidate: the transport of its allocation.
        relay_protocol: Option<RelayProtocol>,
        /// For a candidate from a server: the STUN or TURN URL it came from.
        url: Option<String>,
    },
    /// The pair ICE selected (at its last stats sample).
    BrowserSelectedPair {
        /// The dump's peer connection id (`pid-lid`).
        peer_connection: String,
        /// The local candidate, `IP:PORT` with its type.
        local: String,
        /// The remote candidate, `IP:PORT` with its type.
        remote: String,
    },
}

/// Events listed per dump: a dump of a long call holds thousands of state changes.
const MAX_DUMP_EVENTS: usize = 500;

/// One event on the timeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogEventInfo {
    /// The document as given.
    pub document: String,
    /// The line, 1-based (0 for a dump, which has no lines).
    pub line: u64,
    /// As written: UTC when the log says its zone, else local.
    pub time: String,
    /// On the captures' clock (seconds since the epoch), when known or estimated.
    pub ts: Option<f64>,
    /// `ts` comes from the log's local time moved by an estimated clock offset.
    pub estimated: bool,
    /// The level the log gives the line (`error`, `warning`...), when it gives one.
    pub level: Option<String>,
    /// What the line says, typed (its `kind` names the variant).
    pub what: EventWhat,
    /// The line's message as written, cut at a few hundred characters.
    pub text: String,
}

/// A link between a line and packets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkInfo {
    /// What links them: `ice_failure_unauthorized`, `ice_failure_relay_timeout`, `media_route_allocation`.
    pub name: Cow<'static, str>,
    /// The document of the line.
    pub document: String,
    /// The line, 1-based.
    pub line: u64,
    /// One sentence on the link.
    pub summary: String,
    /// The packets the line follows from.
    pub packets: Vec<Evidence>,
}

/// The `logs` field of the report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogsInfo {
    /// The documents read, in the order given.
    pub documents: Vec<DocumentInfo>,
    /// Their events in time order, at most 5,000.
    pub events: Vec<LogEventInfo>,
    /// Events beyond those listed, counted only.
    pub events_not_listed: usize,
    /// Lines tied to the packets they follow from.
    pub links: Vec<LinkInfo>,
    /// Each linked document's clock against the captures'.
    pub clocks: Vec<LogClock>,
}

impl LogsInfo {
    /// True when the case had no document.
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}

/// Build the `logs` field.
pub fn logs_info(
    case: &Case,
    documents: &[Document],
    links: &[LogLink],
    clocks: Vec<LogClock>,
) -> LogsInfo {
    let mut events = Vec::new();
    for doc in documents {
        let clock = clocks.iter().find(|c| c.document == doc.name);
        push_events(doc, clock, &mut events);
    }
    events.sort_by(|a, b| {
        let key = |e: &LogEventInfo| (e.ts.is_none(), e.ts.unwrap_or(0.0));
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let events_not_listed = events.len().saturating_sub(MAX_LISTED);
    events.truncate(MAX_LISTED);
    let links = links
        .iter()
        .map(|l| LinkInfo {
            name: l.name.into(),
            document: l.line.document.clone(),
            line: l.line.line,
            summary: l.summary.clone(),
            packets: l
                .packets
                .iter()
                .map(|p| {
                    let at = case.captures[p.cap].frame_ref(p.frame);
                    Evidence {
                        capture: at.capture.to_string(),
                        frame: at.frame,
                    }
                })
                .collect(),
        })
        .collect();
    LogsInfo {
        documents: documents
            .iter()
            .map(|d| {
                let c = d.counts();
                DocumentInfo {
                    path: d.name.clone(),
                    kind: d.kind,
                    lines: c.lines,
                    kept: c.kept,
                    unread: c.unread,
                }
            })
            .collect(),
        events,
        events_not_listed,
        links,
        clocks,
    }
}

fn event_info(
    doc: &Document,
    clock: Option<&LogClock>,
    line: u64,
    time: LogTime,
    level: Option<String>,
    what: EventWhat,
    text: &str,
) -> LogEventInfo {
    let ts = on_capture_clock(time, clock);
    LogEventInfo {
        document: doc.name.clone(),
        line,
        time: time.display(),
        ts: ts.map(|ns| ns as f64 / 1e9),
        estimated: ts.is_some() && time.utc_ns().is_none(),
        level,
        what,
        text: text.to_string(),
    }
}

fn push_events(doc: &Document, clock: Option<&LogClock>, out: &mut Vec<LogEventInfo>) {
    match &doc.model {
        Model::CmsLog(log) => {
            for e in &log.events {
                let level = e.level.map(level_name);
                let what = EventWhat::Cms(e.what.clone());
                out.push(event_info(doc, clock, e.line, e.time, level, what, &e.text));
            }
        }
        Model::ExpresswayLog(log) => {
            for e in &log.events {
                let what = EventWhat::Expressway(e.what.clone());
                out.push(event_info(doc, clock, e.line, e.time, None, what, &e.text));
            }
        }
        Model::WebrtcDump(Some(dump)) => {
            let mut events = dump_events(dump);
            events.sort_by_key(|e| e.0);
            for (at, what, text) in events.into_iter().take(MAX_DUMP_EVENTS) {
                out.push(dump_event_info(doc, clock, at, what, text));
            }
        }
        Model::Dump(_) | Model::WebrtcDump(None) => {}
    }
}

/// One dump event before it is placed: its time, the time as written, what, and a line of
/// text.
type DumpEvent = (Option<DumpInstant>, (String, BrowserEvent), String);

/// A dump event's time before it is placed on the captures' clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DumpInstant {
    /// UTC, microseconds since the epoch.
    Utc(i64),
    /// A local time without zone read as a wall clock (microseconds as if on UTC): placed
    /// only by a clock estimated against the captures, never taken for UTC.
    Local(i64),
}

fn at_parts(at: Option<&EventTime>) -> (Option<DumpInstant>, String) {
    let instant = at.and_then(|t| match t.utc() {
        Some(utc) => Some(DumpInstant::Utc(utc.micros)),
        None => t.wall_clock().map(|w| DumpInstant::Local(w.micros)),
    });
    (instant, at.map(ToString::to_string).unwrap_or_default())
}

/// The dump's state changes, candidate errors, local candidates and selected pairs.
fn dump_events(dump: &WebrtcDump) -> Vec<DumpEvent> {
    let mut out: Vec<DumpEvent> = Vec::new();
    for pc in &dump.peer_connections {
        let id = || pc.id.clone();
        let mut push = |at: Option<&EventTime>, what: BrowserEvent, text: String| {
            let (micros, written) = at_parts(at);
            out.push((micros, (written, what), text));
        };
        for c in &pc.ice_states {
            let text = format!("ICE connection state {}", state_text(&c.state));
            push(
                c.at.as_ref(),
                BrowserEvent::BrowserIceState {
                    peer_connection: id(),
                    state: c.state.clone(),
                },
                text,
            );
        }
        for c in &pc.connection_states {
            let text = format!("connection state {}", state_text(&c.state));
            push(
                c.at.as_ref(),
                BrowserEvent::BrowserConnectionState {
                    peer_connection: id(),
                    state: c.state.clone(),
                },
                text,
            );
        }
        for e in &pc.candidate_errors {
            let text = format!("icecandidateerror {} \"{}\" on {}", e.code, e.text, e.url);
            let what = BrowserEvent::BrowserCandidateError {
                peer_connection: id(),
                url: e.url.clone(),
                code: e.code,
                text: e.text.clone(),
                port: e.port,
            };
            push(e.at.as_ref(), what, text);
        }
        for c in pc.local_candidates.iter().filter(|c| c.seen_at.is_some()) {
            let text = format!("{} candidate {}", c.candidate_type.as_str(), c.endpoint());
            let what = BrowserEvent::BrowserCandidate {
                peer_connection: id(),
                candidate_type: c.candidate_type.clone(),
                address: c.endpoint(),
                relay_protocol: c.relay_protocol.clone(),
                url: c.url.clone(),
            };
            push(c.seen_at.as_ref(), what, text);
        }
        if let Some(p) = pc.selected_pair() {
            let end = |c: &Option<crate::sources::webrtc::Candidate>| {
                c.as_ref().map_or("?".to_string(), |c| c.endpoint())
            };
            let (local, remote) = (end(&p.local), end(&p.remote));
            let text = format!("selected pair {local} -> {remote}");
            let at = p.last_sample.map(EventTime::Utc);
            push(
                at.as_ref(),
                BrowserEvent::BrowserSelectedPair {
                    peer_connection: id(),
                    local,
                    remote,
                },
                text,
            );
        }
    }
    out
}

/// A state's name as the JSON writes it (`checking`), else its debug form.
fn state_text<S: Serialize + std::fmt::Debug>(state: &S) -> String {
    match serde_json::to_value(state) {
        Ok(serde_json::Value::String(name)) => name,
        _ => format!("{state:?}"),
    }
}

/// A dump event on the captures' clock: its UTC moved by the offset the join estimated
/// (`estimated`), or as it is when no allocation tied the clocks; a local time without zone
/// only by an estimated offset (else it is not placed).
fn dump_event_info(
    doc: &Document,
    clock: Option<&LogClock>,
    instant: Option<DumpInstant>,
    (time, what): (String, BrowserEvent),
    text: String,
) -> LogEventInfo {
    let micros = match instant {
        Some(DumpInstant::Utc(m)) => Some(m),
        Some(DumpInstant::Local(m)) if clock.is_some() => Some(m),
        Some(DumpInstant::Local(_)) | None => None,
    };
    let offset_ms = clock.map_or(0.0, |c| c.offset_ms);
    LogEventInfo {
        document: doc.name.clone(),
        line: 0,
        time,
        ts: micros.map(|m| (m as f64 / 1e3 - offset_ms) / 1e3),
        estimated: micros.is_some() && clock.is_some(),
        level: None,
        what: EventWhat::Browser(what),
        text,
    }
}

fn level_name(l: Level) -> String {
    match l {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
        Level::Info => "info",
        Level::Debug => "debug",
    }
    .to_string()
}

/// The events of `logs` as the timeline takes them: a webrtc-internals dump's are the
/// browser's, every other document's are log lines.
pub fn timeline_events(logs: &LogsInfo) -> impl Iterator<Item = DocumentEvent> + '_ {
    logs.events.iter().map(|e| {
        let browser = logs
            .documents
            .iter()
            .any(|d| d.path == e.document && d.kind == DocKind::WebrtcDump);
        DocumentEvent {
            kind: if browser {
                EntryKind::Browser
            } else {
                EntryKind::Log
            },
            document: e.document.clone(),
            line: e.line,
            ts: e.ts,
            estimated: e.estimated,
            level: e.level.clone(),
            text: e.text.clone(),
        }
    })
}
