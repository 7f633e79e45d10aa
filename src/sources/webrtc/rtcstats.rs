//! The RTCStats dump that chrome://webrtc-internals of recent Chromes writes beside the classic
//! one (`rtcstats_dump.gz`; present in Chromium 156), in the RTCStats file format version 3:
//!
//! ```text
//! RTCStatsDump
//! {"fileFormat":3}
//! ["create",null,{...client...},1795972056642]                 first delta = absolute ms
//! ["create","8-1",{"iceServers":[...]},"https://page",1106.46]  then deltas to the previous
//! ["onicecandidate","8-1",{"candidate":"...","url":...},12.28]
//! ["getStats","8-1",{"<id>":{"type":"candidate-pair",...}},998.1]
//! ```
//!
//! Chrome writes method names and full stats reports. Other RTCStats writers may compress
//! method names to numbers, stats property names to table keys and stats to deltas: such lines
//! are counted as unreadable rather than guessed at (they are not Chrome's).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::builder::{Built, PcBuilder};
use super::stats::is_kept;
use super::time::{EventTime, UtcTime};
use super::{DumpError, MAX_PEER_CONNECTIONS};

/// The first line of every RTCStats dump.
pub const MAGIC: &[u8] = b"RTCStatsDump";

/// What an RTCStats dump gave.
#[derive(Debug, Default)]
pub struct RtcStatsDump {
    pub peer_connections: Vec<Built>,
    pub peer_connections_dropped: u64,
    pub user_agent: Option<String>,
    /// Lines that are not Chrome's RTCStats events.
    pub unreadable_lines: u64,
}

/// Distinct ids of dropped peer connections remembered (to count them once each); beyond it,
/// every further line of a dropped connection counts as one more.
const MAX_DROPPED_IDS: usize = 4096;

/// Peer connections being read, in order of appearance.
#[derive(Default)]
struct Connections {
    order: Vec<PcBuilder>,
    index: HashMap<String, usize>,
    dropped_ids: HashSet<String>,
    dropped_beyond: u64,
}

impl Connections {
    /// The connection's builder; `None` when it is beyond [`MAX_PEER_CONNECTIONS`].
    fn get(&mut self, id: &str) -> Option<&mut PcBuilder> {
        if let Some(&i) = self.index.get(id) {
            return self.order.get_mut(i);
        }
        if self.order.len() >= MAX_PEER_CONNECTIONS {
            if self.dropped_ids.len() < MAX_DROPPED_IDS {
                self.dropped_ids.insert(id.to_string());
            } else if !self.dropped_ids.contains(id) {
                self.dropped_beyond += 1;
            }
            return None;
        }
        self.index.insert(id.to_string(), self.order.len());
        self.order.push(PcBuilder::new(id));
        self.order.last_mut()
    }
}

pub fn parse(text: &[u8]) -> Result<RtcStatsDump, DumpError> {
    let mut lines = text.split(|b| *b == b'\n').enumerate();
    match lines.next() {
        Some((_, first)) if first.trim_ascii() == MAGIC => {}
        _ => {
            return Err(DumpError::NotADump {
                reason: "first line is not RTCStatsDump".into(),
            })
        }
    }
    let header = lines.next().map(|(_, l)| l).unwrap_or_default();
    check_header(header)?;
    let mut dump = RtcStatsDump::default();
    let mut conns = Connections::default();
    // The first event's delta is absolute (ms since the epoch); the others add to it.
    let mut clock_ms = 0f64;
    for (_, line) in lines {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let read = serde_json::from_slice::<Value>(line)
            .ok()
            .and_then(|v| event(&v, &mut clock_ms, &mut conns, &mut dump));
        if read.is_none() {
            dump.unreadable_lines += 1;
        }
    }
    dump.peer_connections_dropped = conns.dropped_ids.len() as u64 + conns.dropped_beyond;
    dump.peer_connections = conns.order.into_iter().map(PcBuilder::finish).collect();
    Ok(dump)
}

/// The metadata object of line 2: `{"fileFormat": 3, ...}`.
fn check_header(line: &[u8]) -> Result<(), DumpError> {
    let meta: Value = serde_json::from_slice(line).map_err(|e| DumpError::Header {
        reason: format!("line 2 is not JSON: {e}"),
    })?;
    match meta.get("fileFormat").and_then(Value::as_u64) {
        Some(3) => Ok(()),
        Some(n) => Err(DumpError::Header {
            reason: format!("file format {n} (only format 3, what Chrome writes, is read)"),
        }),
        None => Err(DumpError::Header {
            reason: "line 2 has no numeric fileFormat".into(),
        }),
    }
}

/// One event line `[method, connection id | null, value, ...extra, delta ms]`. `None`: the line
/// is not one of Chrome's events.
fn event(
    line: &Value,
    clock_ms: &mut f64,
    conns: &mut Connections,
    dump: &mut RtcStatsDump,
) -> Option<()> {
    let items = line.as_array()?;
    // The clock advances even on a line that is not read further: later times stay right.
    let delta = items.last()?.as_f64().filter(|d| d.is_finite())?;
    *clock_ms += delta;
    let method = items.first()?.as_str()?;
    if items.len() < 3 {
        return None;
    }
    let at = UtcTime::from_millis(*clock_ms);
    let value = items.get(2).unwrap_or(&Value::Null);
    let Some(id) = items.get(1).and_then(Value::as_str) else {
        // Not about a peer connection: the client's `create` names the browser.
        if method == "create" {
            dump.user_agent = value
                .get("userAgent")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        return Some(());
    };
    let Some(pc) = conns.get(id) else {
        // A connection beyond the cap: counted as dropped, not as unreadable.
        return Some(());
    };
    match method {
        "getStats" => get_stats(pc, value.as_object()?),
        "create" => {
            // ["create", id, configuration, page url, delta]
            if let Some(url) = items
                .get(3)
                .and_then(Value::as_str)
                .filter(|_| items.len() > 4)
            {
                pc.set_url(url);
            }
            pc.log(method, value, at.map(EventTime::Utc));
        }
        _ => pc.log(method, value, at.map(EventTime::Utc)),
    }
    Some(())
}

/// A full stats report: `{"<id>": {"type": ..., "timestamp": ms, "<property>": value, ...}}`.
fn get_stats(pc: &mut PcBuilder, report: &serde_json::Map<String, Value>) {
    for (id, stats) in report {
        let Some(fields) = stats.as_object() else {
            continue;
        };
        let stats_type = fields.get("type").and_then(Value::as_str);
        let at = fields
            .get("timestamp")
            .and_then(Value::as_f64)
            .and_then(UtcTime::from_millis);
        for (property, value) in fields.iter().filter(|(p, _)| is_kept(p)) {
            pc.stat(id, stats_type, property, value.clone(), at);
        }
    }
}
