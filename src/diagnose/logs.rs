//! Logs on the packets' timeline: each log line that a packet explains is linked to those
//! packets ([`link`]), the clock of each log is placed against the captures' from its links
//! ([`clocks`]), and every ICE failure the CMS logged becomes a finding with the linked
//! packets as its evidence ([`findings`]).
//!
//! Links, by name:
//! - `ice_failure_unauthorized`: the CMS's `ICE failure 4 (unauthorized - check
//!   credentials)` -> the allocation whose authenticated Allocate was rejected (401, or 431
//!   on Expressway): its challenge and rejection frames;
//! - `ice_failure_relay_timeout`: the CMS's `ICE failure; relay candidate creation timeout`
//!   -> the allocation whose Allocate requests got no answer: those requests;
//! - `media_route_allocation`: the Expressway's `Route: Creating … Txd on ADDR` -> the
//!   allocation granted that relay port.
//!
//! The CMS writes local time without a zone. A line is linked to the candidate whose packets
//! it follows by a whole number of quarter hours (a zone offset) plus a short delay (the CMS
//! logs the failure after its attempts); the zone and the delay are the clock estimate.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use crate::flow::{AllocOutcome, Allocation, Case};
use crate::sources::cmslog::{CmsWhat, IceCause};
use crate::sources::expressway::LogWhat;
use crate::sources::{Document, LineRef, LogTime, Model};

use super::{Finding, Sink};

const SECOND: i64 = 1_000_000_000;
/// Zone offsets are whole quarter hours.
const QUARTER_HOUR: i64 = 900 * SECOND;
/// How long after its packets a line may be written (the CMS gives up on a relay
/// candidate after a few seconds; a rejection is logged at once), and how much before
/// (clocks a little apart).
const MAX_DELAY: i64 = 120 * SECOND;
const MAX_EARLY: i64 = 5 * SECOND;

/// A frame of a capture of the case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PacketRef {
    /// Index into the case's captures.
    pub cap: usize,
    /// The frame, 1-based.
    pub frame: u32,
    /// Time on the capture's own clock (nanoseconds since the epoch).
    #[serde(skip)]
    pub ts: i64,
}

/// A log line and the packets that explain it.
#[derive(Debug, Clone, Serialize)]
pub struct LogLink {
    /// What links them (see the module's list).
    pub name: &'static str,
    /// The line.
    pub line: LineRef,
    /// One sentence on the link.
    pub summary: String,
    /// The packets the line follows from.
    pub packets: Vec<PacketRef>,
    /// The line's time minus the time of the packet it follows (nanoseconds; for a line
    /// without zone, the zone offset included).
    #[serde(skip)]
    pub delta_ns: i64,
    /// Whether the line's time has a zone (UTC known).
    #[serde(skip)]
    pub zoned: bool,
}

/// Where a log's clock stands against the captures'.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogClock {
    /// The document as given.
    pub document: String,
    /// The log's time minus the captures' (reference clock) for the same moment, in ms,
    /// including the delay with which lines follow their packets.
    pub offset_ms: f64,
    /// The zone offset this suggests for a log in local time (`+01:00`), or `UTC`.
    pub zone: String,
    /// How long after their packets the linked lines were written: least and most, in ms.
    pub delay_ms: (f64, f64),
    /// Lines tied to packets that the offset rests on.
    pub links: usize,
    /// How the offset was found (UTC times against the linked packets, or the nearest quarter hour for local times).
    pub method: Cow<'static, str>,
}

/// Every link between the documents' lines and the case's packets.
pub fn link(case: &Case, documents: &[Document]) -> Vec<LogLink> {
    let allocs = allocations(case);
    let mut out = Vec::new();
    for doc in documents {
        match &doc.model {
            Model::CmsLog(log) => {
                for e in &log.events {
                    if let CmsWhat::IceFailure { cause, .. } = &e.what {
                        let at = LineRef {
                            document: doc.name.clone(),
                            line: e.line,
                        };
                        out.extend(ice_failure(case, &allocs, at, e.time, cause, &e.text));
                    }
                }
            }
            Model::ExpresswayLog(log) => {
                for e in &log.events {
                    let at = LineRef {
                        document: doc.name.clone(),
                        line: e.line,
                    };
                    out.extend(media_route(case, &allocs, at, e.time, &e.what));
                }
            }
            // Configuration is the server profile; a browser dump is joined by diagnose::browser.
            Model::Dump(_) | Model::WebrtcDump(_) => {}
        }
    }
    out
}

/// An allocation of the case with its capture index.
struct CaseAlloc<'c> {
    cap: usize,
    alloc: &'c Allocation,
}

fn allocations(case: &Case) -> Vec<CaseAlloc<'_>> {
    case.captures
        .iter()
        .enumerate()
        .flat_map(|(cap, c)| {
            c.allocations
                .iter()
                .map(move |alloc| CaseAlloc { cap, alloc })
        })
        .collect()
}

/// The frames of an allocation's transactions: requests (at most `requests` of each) and
/// responses, in time order.
fn alloc_frames(case: &Case, a: &CaseAlloc<'_>, requests: usize) -> Vec<PacketRef> {
    let c = &case.captures[a.cap];
    let mut out = Vec::new();
    for &ti in &a.alloc.transactions {
        let Some(t) = c.transactions.get(ti as usize) else {
            continue;
        };
        for &m in t
            .requests
            .iter()
            .take(requests)
            .chain(t.responses.iter().take(2))
        {
            let msg = c.msg(m);
            out.push(PacketRef {
                cap: a.cap,
                frame: msg.frame,
                ts: msg.ts.0,
            });
        }
    }
    out.sort_by_key(|p| (p.ts, p.frame));
    out.dedup();
    out
}

/// How well a line at `line_ns` follows packets at `packet_ns`: the delay after the
/// nearest whole quarter hour of difference (for a line without zone), if plausible.
fn fit(line: LogTime, packet_ns: i64) -> Option<(i64, i64)> {
    let line = line.placed_near(packet_ns);
    let (delta, zone) = match line.utc_ns() {
        Some(utc) => (utc - packet_ns, 0),
        None => {
            let d = line.wall_ns - packet_ns;
            let zone = (d as f64 / QUARTER_HOUR as f64).round() as i64 * QUARTER_HOUR;
            (d, zone)
        }
    };
    let delay = delta - zone;
    (-MAX_EARLY..=MAX_DELAY)
        .contains(&delay)
        .then_some((delta, delay))
}

/// The best candidate for a line: the one it follows with the shortest plausible delay.
fn best<T>(line: LogTime, candidates: impl Iterator<Item = (T, i64)>) -> Option<(T, i64)> {
    candidates
        .filter_map(|(c, packet_ns)| fit(line, packet_ns).map(|(delta, delay)| (c, delta, delay)))
        .min_by_key(|(_, _, delay)| delay.abs())
        .map(|(c, delta, _)| (c, delta))
}

fn ice_failure(
    case: &Case,
    allocs: &[CaseAlloc<'_>],
    at: LineRef,
    time: LogTime,
    cause: &IceCause,
    text: &str,
) -> Option<LogLink> {
    let (name, wanted): (&'static str, fn(&AllocOutcome) -> bool) = match cause {
        IceCause::Unauthorized { .. } => ("ice_failure_unauthorized", |o| {
            matches!(
                o,
                AllocOutcome::Error {
                    code: 401 | 431,
                    ..
                }
            )
        }),
        IceCause::RelayCandidateTimeout => ("ice_failure_relay_timeout", |o| {
            matches!(o, AllocOutcome::NoResponse)
        }),
        IceCause::Other { .. } => return None,
    };
    // The line follows the last packet of the failed attempt.
    let candidates = allocs
        .iter()
        .filter(|a| wanted(&a.alloc.outcome))
        .filter_map(|a| {
            let frames = alloc_frames(case, a, 8);
            let last = frames.last()?.ts;
            Some(((a, frames), case.to_reference(a.cap, last)))
        });
    let ((a, packets), delta) = best(time, candidates)?;
    let summary = format!(
        "\"{text}\" follows {} of {} -> {}/{} ({}){}",
        match cause {
            IceCause::Unauthorized { .. } => "the rejected Allocate",
            _ => "the unanswered Allocate requests",
        },
        a.alloc.client,
        a.alloc.server,
        a.alloc.transport.as_str(),
        case.name(a.cap),
        a.alloc
            .username
            .as_deref()
            .map(|u| format!(", user \"{u}\""))
            .unwrap_or_default(),
    );
    Some(LogLink {
        name,
        line: at,
        summary,
        packets,
        delta_ns: delta,
        zoned: time.offset_secs.is_some(),
    })
}

fn media_route(
    case: &Case,
    allocs: &[CaseAlloc<'_>],
    at: LineRef,
    time: LogTime,
    what: &LogWhat,
) -> Option<LogLink> {
    let LogWhat::MediaRoute {
        action,
        sent_on: Some(relay),
        ..
    } = what
    else {
        return None;
    };
    if !action.eq_ignore_ascii_case("creating") {
        return None;
    }
    // The relay port; the address may be the private one while the allocation shows the
    // static NAT address.
    let candidates = allocs
        .iter()
        .filter(|a| a.alloc.relayed.is_some_and(|r| r.port() == relay.port()))
        .filter_map(|a| {
            let AllocOutcome::Success { msg } = a.alloc.outcome else {
                return None;
            };
            let m = case.captures[a.cap].msg(msg);
            let p = PacketRef {
                cap: a.cap,
                frame: m.frame,
                ts: m.ts.0,
            };
            Some(((a, p), case.to_reference(a.cap, m.ts.0)))
        });
    let ((a, packet), delta) = best(time, candidates)?;
    let summary = format!(
        "the Expressway's media route for relay {relay} is the allocation of {} granted {} ({})",
        a.alloc.client,
        a.alloc.relayed.map(|r| r.to_string()).unwrap_or_default(),
        case.name(a.cap)
    );
    Some(LogLink {
        name: "media_route_allocation",
        line: at,
        summary,
        packets: vec![packet],
        delta_ns: delta,
        zoned: time.offset_secs.is_some(),
    })
}

fn zone_text(zone_ns: i64) -> String {
    let minutes = zone_ns / (60 * SECOND);
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

/// The clock of each linked log against the captures'.
pub fn clocks(links: &[LogLink]) -> Vec<LogClock> {
    let mut docs: Vec<&str> = links.iter().map(|l| l.line.document.as_str()).collect();
    docs.sort_unstable();
    docs.dedup();
    docs.into_iter()
        .filter_map(|doc| {
            let mine: Vec<&LogLink> = links.iter().filter(|l| l.line.document == doc).collect();
            let zoned = mine.first()?.zoned;
            let mut deltas: Vec<i64> = mine.iter().map(|l| l.delta_ns).collect();
            deltas.sort_unstable();
            let median = *deltas.get(deltas.len() / 2)?;
            let zone = if zoned {
                0
            } else {
                (median as f64 / QUARTER_HOUR as f64).round() as i64 * QUARTER_HOUR
            };
            let delays: Vec<i64> = deltas.iter().map(|d| d - zone).collect();
            let ms = |ns: i64| ns as f64 / 1e6;
            Some(LogClock {
                document: doc.to_string(),
                offset_ms: ms(median),
                zone: if zoned {
                    "UTC".into()
                } else {
                    zone_text(zone)
                },
                delay_ms: (
                    ms(delays.iter().copied().min().unwrap_or(0)),
                    ms(delays.iter().copied().max().unwrap_or(0)),
                ),
                links: mine.len(),
                method: if zoned {
                    "log time in UTC against the linked packets".into()
                } else {
                    "local time without zone: nearest quarter hour to the linked packets, the rest is the delay".into()
                },
            })
        })
        .collect()
}

/// The time of a line on the captures' (reference) clock, when known or estimated.
pub fn on_capture_clock(time: LogTime, clock: Option<&LogClock>) -> Option<i64> {
    if let Some(utc) = time.utc_ns() {
        return Some(utc);
    }
    let clock = clock?;
    let zone_ns =
        (clock.offset_ms * 1e6) as i64 - ((clock.delay_ms.0 + clock.delay_ms.1) / 2.0 * 1e6) as i64;
    Some(time.wall_ns - zone_ns)
}

/// A finding per kind of ICE failure the CMS logged, with the linked packets as evidence.
pub fn findings(case: &Case, documents: &[Document], links: &[LogLink]) -> Vec<Finding> {
    let mut sink = Sink::new(case);
    for doc in documents {
        let Model::CmsLog(log) = &doc.model else {
            continue;
        };
        for e in &log.events {
            let CmsWhat::IceFailure { cause, .. } = &e.what else {
                continue;
            };
            let linked = links
                .iter()
                .find(|l| l.line.document == doc.name && l.line.line == e.line);
            let (key, remedy) = ice_remedy(cause);
            let d = sink.entry("log.ice_failure", key, || {
                (
                    format!(
                        "the CMS logged \"{}\" ({} line {}, {})",
                        e.text,
                        doc.name,
                        e.line,
                        e.time.display()
                    ),
                    remedy.to_string(),
                )
            });
            d.count += 1;
            match linked {
                Some(l) => {
                    for p in &l.packets {
                        d.frame(case, p.cap, p.frame, p.ts);
                    }
                    if d.count == 1 {
                        d.summary.push_str(&format!(": {}", l.summary));
                    }
                }
                None if d.count == 1 => d.summary.push_str(
                    ": no packet of the case explains it (capture the CMS leg: the CMS and the \
                     Expressway-E's internal interface)",
                ),
                None => {}
            }
        }
    }
    for d in sink.drafts_mut("log.ice_failure") {
        if d.count > 1 {
            d.summary.push_str(&format!(" ({} such lines)", d.count));
        }
    }
    sink.finish()
}

fn ice_remedy(cause: &IceCause) -> (&'static str, &'static str) {
    match cause {
        IceCause::Unauthorized { .. } => (
            "unauthorized",
            "The TURN credentials the CMS uses (CMS API turnServers username and password) \
             differ from the Expressway-E local authentication database: make them the same.",
        ),
        IceCause::RelayCandidateTimeout => (
            "relay_timeout",
            "The CMS's Allocate requests got no answer: let UDP 3478 from the CMS to the \
             Expressway-E's internal address through the internal firewall, and check that \
             TURN is on (with its option key) on the Expressway-E.",
        ),
        IceCause::Other { .. } => (
            "other",
            "See the CMS log around this line and the TURN findings of the captures.",
        ),
    }
}
