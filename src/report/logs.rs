//! The documents of a case in the report: what each gave, their events on the captures'
//! timeline (UTC where the log says its zone, else the local time moved by the clock offset
//! its links estimate), the links to packets, and the clocks.

use serde::Serialize;

use crate::diagnose::logs::{on_capture_clock, LogClock, LogLink};
use crate::diagnose::Evidence;
use crate::flow::Case;
use crate::sources::cmslog::{CmsWhat, Level};
use crate::sources::expressway::LogWhat;
use crate::sources::{DocKind, Document, LogTime, Model};
use crate::timeline::{DocumentEvent, EntryKind};

/// Most events listed (the rest are counted in [`LogsInfo::events_not_listed`]).
const MAX_LISTED: usize = 5000;

/// What a document gave.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentInfo {
    pub path: String,
    pub kind: DocKind,
    pub lines: u64,
    /// Events or settings kept.
    pub kept: usize,
    /// Lines not understood.
    pub unread: u64,
}

/// A typed event, as the source says it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventWhat {
    Cms(CmsWhat),
    Expressway(LogWhat),
}

/// One event on the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct LogEventInfo {
    pub document: String,
    pub line: u64,
    /// As written: UTC when the log says its zone, else local.
    pub time: String,
    /// On the captures' clock (seconds since the epoch), when known or estimated.
    pub ts: Option<f64>,
    /// `ts` comes from the log's local time moved by an estimated clock offset.
    pub estimated: bool,
    pub level: Option<String>,
    pub what: EventWhat,
    pub text: String,
}

/// A link between a line and packets.
#[derive(Debug, Clone, Serialize)]
pub struct LinkInfo {
    pub name: &'static str,
    pub document: String,
    pub line: u64,
    pub summary: String,
    pub packets: Vec<Evidence>,
}

/// The `logs` field of the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogsInfo {
    pub documents: Vec<DocumentInfo>,
    pub events: Vec<LogEventInfo>,
    pub events_not_listed: usize,
    pub links: Vec<LinkInfo>,
    pub clocks: Vec<LogClock>,
}

impl LogsInfo {
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
            name: l.name,
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
        Model::Dump(_) | Model::WebrtcDump(_) => {}
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
