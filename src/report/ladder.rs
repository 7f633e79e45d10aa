//! The ladder of a case: every transaction placed on the lanes it travelled (guest, NAT /
//! firewall, TURN server, relay, peer), how far its request and answer got (from the
//! correlated paths and the per-hop verdicts of the checks), repeated exchanges aggregated
//! into one step, and the documents' events on a lane per kind of source (browser, CMS log,
//! Expressway log) at their time on the captures' clock. The HTML draws it.

use std::collections::{BTreeSet, HashMap};

use super::{EventWhat, Report, TxInfo};
use crate::flow::Role;

/// Positions across the ladder. Halves are between two lanes (where a message was lost).
pub const GUEST: f32 = 0.0;
pub const NAT: f32 = 1.0;
pub const SERVER: f32 = 2.0;
pub const RELAY: f32 = 3.0;
pub const PEER: f32 = 4.0;
/// The first lane of documents' events; the others follow it ([`Ladder::event_lanes`]).
pub const LOGS: f32 = 5.0;
/// Lane titles of the packets. The first lane is the TURN client: the guest's browser, or the
/// CMS on its leg.
pub const LANES: [&str; 5] = [
    "guest / client",
    "NAT / firewall",
    "TURN server",
    "relay",
    "peer",
];

/// Where a document's events are drawn: one lane per kind of source, left to right in this
/// order, present only when one of its events is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventLane {
    /// A chrome://webrtc-internals dump: ICE and connection states, candidate errors.
    Browser,
    /// A CMS event log or syslog.
    CmsLog,
    /// The Expressway's loggingsnapshot (tvcs): media routes, alarms, markers.
    ExpresswayLog,
}

impl EventLane {
    /// The lane's title (short enough for a lane's width).
    pub fn title(self) -> &'static str {
        match self {
            EventLane::Browser => "browser",
            EventLane::CmsLog => "CMS log",
            EventLane::ExpresswayLog => "Expressway log",
        }
    }

    fn of(what: &EventWhat) -> EventLane {
        match what {
            EventWhat::Browser(_) => EventLane::Browser,
            EventWhat::Cms(_) => EventLane::CmsLog,
            EventWhat::Expressway(_) => EventLane::ExpresswayLog,
        }
    }
}

/// One arrow: from a lane to a position; `lost` when it stops there because it was lost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrow {
    pub from: f32,
    pub to: f32,
    pub lost: bool,
}

/// How one transaction travelled.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    what: String,
    request: Arrow,
    answer: Option<Arrow>,
    /// Where and why it stopped, in words (for the label).
    note: Option<&'static str>,
}

/// One row: a run of alike transactions (same kind, same route, same outcome).
#[derive(Debug, Clone)]
pub struct Step {
    pub first_ts: f64,
    pub last_ts: f64,
    /// Transactions, including those the memory budget counted into a kept one.
    pub count: u64,
    pub what: String,
    pub note: Option<&'static str>,
    pub request: Arrow,
    pub answer: Option<Arrow>,
    /// Distinct client -> server address pairs among them.
    pub pairs: usize,
    /// Most times one of them was sent (1 + retransmissions).
    pub sends: usize,
    /// The TURN server lane (an index into [`Ladder::servers`]) of the capture that saw them.
    pub server: usize,
}

/// One log line or browser event on its source's lane.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub ts: f64,
    pub source: String,
    pub text: String,
    pub lane: EventLane,
    /// The time comes from a local time moved by an estimated clock offset.
    pub estimated: bool,
}

#[derive(Debug, Clone)]
pub enum Row {
    Step(Step),
    Event(EventRow),
}

impl Row {
    pub fn ts(&self) -> f64 {
        match self {
            Row::Step(s) => s.first_ts,
            Row::Event(e) => e.ts,
        }
    }
}

/// The ladder: rows in time order, at most `max_rows`, and what was left out.
#[derive(Debug, Clone, Default)]
pub struct Ladder {
    pub rows: Vec<Row>,
    /// The time the relative times count from.
    pub t0: f64,
    pub steps_not_drawn: usize,
    pub transactions_not_drawn: u64,
    pub events_not_drawn: usize,
    pub transactions: u64,
    /// The TURN server's lanes: one per interface a server-side capture was taken on
    /// (`captures[].interface`), or one for the server as a whole.
    pub servers: Vec<String>,
    /// The lanes of the documents' events drawn, left to right.
    pub event_lanes: Vec<EventLane>,
}

impl Ladder {
    /// Lane titles, left to right.
    pub fn lanes(&self) -> Vec<String> {
        let mut out: Vec<String> = LANES.iter().take(2).map(|l| l.to_string()).collect();
        out.extend(self.servers.iter().cloned());
        out.extend(LANES.iter().skip(3).map(|l| l.to_string()));
        out.extend(self.event_lanes.iter().map(|l| l.title().to_string()));
        out
    }

    /// The position (as [`Ladder::drawn`] takes it) of an event lane: [`LOGS`] for the first.
    pub fn event_position(&self, lane: EventLane) -> f32 {
        let index = self.event_lanes.iter().position(|l| *l == lane);
        LOGS + index.unwrap_or(0) as f32
    }

    /// Where a route's position (GUEST ... LOGS) is drawn for a step on server lane `lane`:
    /// between the NAT and the server it is stretched to that lane; past the server, every
    /// position moves right by the extra server lanes.
    pub fn drawn(&self, pos: f32, lane: usize) -> f32 {
        let extra = self.servers.len().saturating_sub(1) as f32;
        if pos <= NAT {
            pos
        } else if pos <= SERVER {
            NAT + (pos - NAT) * (1.0 + lane as f32)
        } else {
            pos + extra
        }
    }
}

/// The interface part of an interface label ("Expressway eth1 = LAN2 (…)" -> "eth1 = LAN2").
fn interface_title(label: &str) -> String {
    let short = label.strip_prefix("Expressway ").unwrap_or(label);
    let short = short.split(" (").next().unwrap_or(short);
    format!("TURN server {short}")
}

/// The server lanes, and for each capture path (and rotated piece) its lane.
fn server_lanes(r: &Report) -> (Vec<String>, HashMap<&str, usize>) {
    let mut titles: Vec<String> = Vec::new();
    let mut lane_of = HashMap::new();
    for c in r.captures.iter().filter(|c| c.role == Role::Server) {
        let Some(label) = &c.interface else { continue };
        let title = interface_title(label);
        let lane = match titles.iter().position(|t| *t == title) {
            Some(i) => i,
            None => {
                titles.push(title);
                titles.len() - 1
            }
        };
        lane_of.insert(c.path.as_str(), lane);
        for p in &c.pieces {
            lane_of.insert(p.path.as_str(), lane);
        }
    }
    if titles.len() < 2 {
        return (vec![LANES[2].to_string()], HashMap::new());
    }
    (titles, lane_of)
}

/// The side each capture path (and rotated piece) was taken on.
fn roles(r: &Report) -> HashMap<&str, Role> {
    let mut out = HashMap::new();
    for c in &r.captures {
        out.insert(c.path.as_str(), c.role);
        for p in &c.pieces {
            out.insert(p.path.as_str(), c.role);
        }
    }
    out
}

fn arrow(from: f32, to: f32, lost: bool) -> Arrow {
    Arrow { from, to, lost }
}

/// A check's route from its per-hop verdict.
fn check_route(t: &TxInfo, roles: &HashMap<&str, Role>) -> Option<Route> {
    let c = t.check.as_ref()?;
    let at_server = c
        .last
        .as_ref()
        .is_some_and(|h| roles.get(h.capture.as_str()) == Some(&Role::Server));
    let last_leg = c.last.as_ref().map_or("", |h| &*h.leg);
    let (from, to) = match &*c.leg {
        "client to server (relayed data)" | "direct" => (GUEST, PEER),
        "server to client (relayed data)" => (RELAY, GUEST),
        "peer to relay" => (PEER, GUEST),
        "relay to peer" => (RELAY, PEER),
        _ => (RELAY, NAT),
    };
    let back = arrow(to, from, false);
    let (request, answer, note) = match (&*c.verdict, last_leg) {
        ("answered", _) => (arrow(from, to, false), Some(back), None),
        ("unanswered", "client to server (relayed data)") if !at_server => (
            arrow(from, 1.5, true),
            None,
            Some("never reached the TURN server"),
        ),
        ("unanswered", "client to server (relayed data)") => (
            arrow(from, RELAY, true),
            None,
            Some("reached the server, not relayed out"),
        ),
        ("unanswered", "peer to relay") if !at_server => (
            arrow(from, 3.5, true),
            None,
            Some("never reached the relay"),
        ),
        ("unanswered", "peer to relay") => (
            arrow(from, RELAY, true),
            None,
            Some("reached the relay, not passed to its client"),
        ),
        ("unanswered", "server to client (relayed data)") if from == PEER => (
            arrow(from, GUEST, false),
            None,
            Some("delivered, the guest never answered"),
        ),
        // Sent out of the relay to another relay's public address: lost past the relay.
        ("unanswered", "relay to relay") => (
            arrow(from, 3.5, true),
            None,
            Some("relay to relay: never came back through the firewall"),
        ),
        ("unanswered", _) if from == RELAY && to == GUEST => (
            arrow(from, GUEST, false),
            None,
            Some("the guest never answered"),
        ),
        ("unanswered", _) => (arrow(from, to, false), None, None),
        ("answer lost", "relay to peer") => (
            arrow(from, to, false),
            Some(arrow(RELAY, 3.5, true)),
            Some("answer sent out of the relay, lost on the way to the peer"),
        ),
        ("answer lost", "peer to relay") => (
            arrow(from, to, false),
            Some(arrow(PEER, RELAY, true)),
            Some("answer reached the relay, not passed on"),
        ),
        ("answer lost", _) if at_server && to == PEER => (
            arrow(from, to, false),
            Some(arrow(PEER, 1.5, true)),
            Some("answer lost between the TURN server and the guest"),
        ),
        _ => (
            arrow(from, to, false),
            Some(arrow(to, from, true)),
            Some("answer lost"),
        ),
    };
    let what = format!("ICE check {} {}", leg_words(&c.leg), c.verdict);
    Some(Route {
        what,
        request,
        answer,
        note,
    })
}

fn leg_words(leg: &str) -> &'static str {
    match leg {
        "client to server (relayed data)" => "through the relay",
        "server to client (relayed data)" => "from the relay to the guest",
        "peer to relay" => "from the peer to the relay",
        "relay to peer" => "from the relay to the peer",
        "relay to relay" => "relay to relay",
        _ => "direct",
    }
}

/// A plain request to the TURN server (or a STUN server): guest -> server and back.
fn server_route(t: &TxInfo) -> Route {
    let what = format!("{} {}", t.method, outcome_words(t));
    let done = |note| Route {
        what: what.clone(),
        request: arrow(GUEST, SERVER, false),
        answer: Some(arrow(SERVER, GUEST, false)),
        note,
    };
    match t.path.as_ref().map(|p| &*p.last_seen) {
        Some("client") => Route {
            what: what.clone(),
            request: arrow(GUEST, 1.5, true),
            answer: None,
            note: Some("never reached the server"),
        },
        Some("server") => Route {
            what: what.clone(),
            request: arrow(GUEST, SERVER, false),
            answer: None,
            note: Some("reached the server, never answered"),
        },
        Some("answered") => Route {
            what: what.clone(),
            request: arrow(GUEST, SERVER, false),
            answer: Some(arrow(SERVER, 1.5, true)),
            note: Some("answered, the answer never reached the guest"),
        },
        Some(_) => done(None),
        None if t.outcome == "none" => Route {
            what: what.clone(),
            request: arrow(GUEST, SERVER, false),
            answer: None,
            note: Some("no answer (where it was lost needs the other side's capture)"),
        },
        None => done(None),
    }
}

/// "unanswered", "success", "error 401 Unauthorized".
fn outcome_words(t: &TxInfo) -> String {
    match (t.outcome.as_str(), &t.reason) {
        ("none", _) => "unanswered".to_string(),
        (o, Some(reason)) if o.starts_with("error") => format!("{o} {reason}"),
        (o, _) => o.to_string(),
    }
}

fn route(t: &TxInfo, roles: &HashMap<&str, Role>) -> Route {
    if let Some(r) = check_route(t, roles) {
        return r;
    }
    if t.carried_in.is_some() {
        let answered = t.outcome != "none";
        return Route {
            what: format!("{} through the relay {}", t.method, outcome_words(t)),
            request: arrow(GUEST, PEER, false),
            answer: answered.then(|| arrow(PEER, GUEST, false)),
            note: (!answered).then_some("no answer"),
        };
    }
    server_route(t)
}

/// Most rows drawn: beyond this a page stops being read.
pub const MAX_ROWS: usize = 160;
/// Most log events drawn among them.
pub const MAX_EVENTS: usize = 60;

/// Build the ladder of a report.
pub fn ladder(r: &Report) -> Ladder {
    let roles = roles(r);
    let (servers, lane_of) = server_lanes(r);
    let mut steps: Vec<Step> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut pairs: Vec<BTreeSet<String>> = Vec::new();
    let mut total = 0;
    for t in &r.transactions {
        let rt = route(t, &roles);
        let weight = 1 + t.alike;
        total += weight;
        let server = t
            .seen
            .iter()
            .find_map(|x| lane_of.get(x.capture.as_str()))
            .copied()
            .unwrap_or(0);
        let key = format!(
            "{}|{:?}|{:?}|{:?}|{server}",
            rt.what, rt.request, rt.answer, rt.note
        );
        let i = *index.entry(key).or_insert_with(|| {
            steps.push(Step {
                first_ts: t.ts,
                last_ts: t.ts,
                count: 0,
                what: rt.what.clone(),
                note: rt.note,
                request: rt.request,
                answer: rt.answer,
                pairs: 0,
                sends: 0,
                server,
            });
            pairs.push(BTreeSet::new());
            steps.len() - 1
        });
        if let (Some(s), Some(p)) = (steps.get_mut(i), pairs.get_mut(i)) {
            s.count += weight;
            s.first_ts = s.first_ts.min(t.ts);
            s.last_ts = s.last_ts.max(t.ts);
            if p.len() < 1000 {
                p.insert(format!("{:?}>{:?}", t.client, t.server));
            }
            s.pairs = p.len();
            s.sends = s.sends.max(t.retransmissions + 1);
        }
    }
    let events: Vec<EventRow> = r
        .logs
        .events
        .iter()
        .filter_map(|e| {
            Some(EventRow {
                ts: e.ts?,
                source: e.document.clone(),
                text: e.text.clone(),
                lane: EventLane::of(&e.what),
                estimated: e.estimated,
            })
        })
        .collect();
    Ladder {
        servers,
        ..assemble(steps, events, total)
    }
}

/// Rows in time order within the limits, the rest counted.
fn assemble(mut steps: Vec<Step>, mut events: Vec<EventRow>, total: u64) -> Ladder {
    steps.sort_by(|a, b| a.first_ts.total_cmp(&b.first_ts));
    events.sort_by(|a, b| a.ts.total_cmp(&b.ts));
    let events_not_drawn = events.len().saturating_sub(MAX_EVENTS);
    events.truncate(MAX_EVENTS);
    let event_lanes: Vec<EventLane> = events
        .iter()
        .map(|e| e.lane)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let room = MAX_ROWS.saturating_sub(events.len());
    let steps_not_drawn = steps.len().saturating_sub(room);
    let transactions_not_drawn = steps.iter().skip(room).map(|s| s.count).sum();
    steps.truncate(room);
    let t0 = steps
        .iter()
        .map(|s| s.first_ts)
        .chain(events.iter().map(|e| e.ts))
        .fold(f64::INFINITY, f64::min);
    let mut rows: Vec<Row> = steps
        .into_iter()
        .map(Row::Step)
        .chain(events.into_iter().map(Row::Event))
        .collect();
    rows.sort_by(|a, b| a.ts().total_cmp(&b.ts()));
    Ladder {
        rows,
        t0: if t0.is_finite() { t0 } else { 0.0 },
        steps_not_drawn,
        transactions_not_drawn,
        events_not_drawn,
        transactions: total,
        servers: vec![LANES[2].to_string()],
        event_lanes,
    }
}

/// "×226 ICE check through the relay unanswered, 0.06–14.2 s" and its like.
pub fn step_label(s: &Step, t0: f64) -> String {
    let when = if s.count > 1 && s.last_ts > s.first_ts {
        format!("{}–{} s", secs(s.first_ts - t0), secs(s.last_ts - t0))
    } else {
        format!("at {} s", secs(s.first_ts - t0))
    };
    let times = if s.count > 1 {
        format!("×{} ", s.count)
    } else {
        String::new()
    };
    let pairs = if s.pairs > 1 {
        format!(" on {} address pairs", s.pairs)
    } else {
        String::new()
    };
    let note = s.note.map(|n| format!(": {n}")).unwrap_or_default();
    let sends = match (s.sends, s.count) {
        (0 | 1, _) => String::new(),
        (n, 1) => format!(" (sent {n} times)"),
        (n, _) => format!(" (each sent up to {n} times)"),
    };
    format!("{times}{}{pairs}{sends}{note}, {when}", s.what)
}

/// Seconds with a precision that suits them (milliseconds matter in the first second).
pub fn secs(s: f64) -> String {
    if s.abs() < 1.0 {
        format!("{s:.3}")
    } else if s.abs() < 10.0 {
        format!("{s:.2}")
    } else {
        format!("{s:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(ts: f64, count: u64) -> Step {
        Step {
            first_ts: ts,
            last_ts: ts + 1.0,
            count,
            what: format!("Binding at {ts}"),
            note: None,
            request: arrow(GUEST, SERVER, false),
            answer: None,
            pairs: 1,
            sends: 1,
            server: 0,
        }
    }

    #[test]
    fn what_is_not_drawn_is_counted() {
        let steps: Vec<Step> = (0..MAX_ROWS + 7).map(|i| step(i as f64, 3)).collect();
        let events: Vec<EventRow> = (0..MAX_EVENTS + 2)
            .map(|i| EventRow {
                ts: i as f64 + 0.5,
                source: "cms.log".into(),
                text: "line".into(),
                lane: EventLane::CmsLog,
                estimated: false,
            })
            .collect();
        let total = 3 * (MAX_ROWS as u64 + 7);
        let l = assemble(steps, events, total);
        assert_eq!(l.rows.len(), MAX_ROWS);
        assert_eq!(l.events_not_drawn, 2);
        let drawn_steps = MAX_ROWS - MAX_EVENTS;
        assert_eq!(l.steps_not_drawn, MAX_ROWS + 7 - drawn_steps);
        let drawn: u64 = l
            .rows
            .iter()
            .map(|r| match r {
                Row::Step(s) => s.count,
                Row::Event(_) => 0,
            })
            .sum();
        // Every transaction is drawn or counted as not drawn.
        assert_eq!(drawn + l.transactions_not_drawn, total);
        // Time runs down.
        assert!(l.rows.windows(2).all(|w| w[0].ts() <= w[1].ts()));
    }

    #[test]
    fn server_lanes_stretch_and_shift() {
        let mut l = assemble(Vec::new(), Vec::new(), 0);
        l.servers = vec![
            "TURN server eth0 = LAN1".into(),
            "TURN server eth1 = LAN2".into(),
        ];
        assert_eq!(l.lanes().len(), LANES.len() + 1);
        l.event_lanes = vec![EventLane::Browser, EventLane::CmsLog];
        assert_eq!(l.lanes().len(), LANES.len() + 3);
        assert_eq!(l.drawn(l.event_position(EventLane::CmsLog), 0), LOGS + 2.0);
        assert_eq!(l.drawn(GUEST, 1), GUEST);
        assert_eq!(l.drawn(SERVER, 0), SERVER);
        assert_eq!(l.drawn(SERVER, 1), SERVER + 1.0);
        assert_eq!(l.drawn(1.5, 1), 2.0);
        assert_eq!(l.drawn(RELAY, 0), RELAY + 1.0);
        assert_eq!(l.drawn(LOGS, 1), LOGS + 1.0);
        assert_eq!(
            interface_title("Expressway eth1 = LAN2 (external)"),
            "TURN server eth1 = LAN2"
        );
    }

    #[test]
    fn labels() {
        let mut s = step(10.0, 226);
        s.last_ts = 24.2;
        s.what = "ICE check through the relay unanswered".into();
        assert_eq!(
            step_label(&s, 9.94),
            "×226 ICE check through the relay unanswered, 0.060–14.3 s"
        );
        let one = step(10.0, 1);
        assert_eq!(step_label(&one, 10.0), "Binding at 10, at 0.000 s");
    }
}
