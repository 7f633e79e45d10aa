//! One peer connection built up from its log entries and stats, whatever the dump format, with
//! every list capped.

use serde_json::Value;

use super::events::{self, Update};
use super::model::{Candidate, PeerConnection, StateChange, TimeRange};
use super::stats::StatsStore;
use super::time::{EventTime, UtcTime};

/// State changes, candidates and candidate errors kept per peer connection, each.
pub const MAX_EVENTS: usize = 1000;

/// A peer connection being read.
#[derive(Debug, Default)]
pub struct PcBuilder {
    pc: PeerConnection,
    stats: StatsStore,
    /// Entries beyond the caps.
    dropped_events: u64,
    /// ICE entries whose value no Chrome writes.
    unreadable: u64,
    /// The configuration in `pc` came from the log (`setConfiguration`, RTCStats `create`).
    config_from_log: bool,
}

impl PcBuilder {
    pub fn new(id: &str) -> PcBuilder {
        PcBuilder {
            pc: PeerConnection {
                id: id.to_string(),
                ..PeerConnection::default()
            },
            ..PcBuilder::default()
        }
    }

    /// The page's address without its query and fragment: they can carry secrets (tokens,
    /// passwords, as the lab's own page does), and the page is named without them.
    pub fn set_url(&mut self, url: &str) {
        let page = url.split(['?', '#']).next().unwrap_or("");
        if !page.is_empty() {
            self.pc.url = Some(page.to_string());
        }
    }

    /// The configuration the connection was created with (`rtcConfiguration`). A
    /// `setConfiguration` of the log, read before or after it, wins: it came later.
    pub fn set_initial_config(&mut self, value: &Value) {
        if !self.config_from_log {
            self.pc.config = super::config::parse_config(value);
        }
    }

    /// One log entry (`updateLog`, or an RTCStats event other than `getStats`).
    pub fn log(&mut self, event: &str, value: &Value, at: Option<EventTime>) {
        if let Some(t) = at.as_ref().and_then(EventTime::utc) {
            TimeRange::extend(&mut self.pc.time_range, t);
        }
        match events::interpret(event, value, at.clone()) {
            Ok(Some(update)) => self.apply(update, at),
            Ok(None) => {}
            Err(_) => self.unreadable += 1,
        }
    }

    fn apply(&mut self, update: Update, at: Option<EventTime>) {
        let pc = &mut self.pc;
        let dropped = &mut self.dropped_events;
        match update {
            Update::LocalCandidate(c) => push_capped(&mut pc.local_candidates, c, dropped),
            Update::RemoteCandidate(c) => push_capped(&mut pc.remote_candidates, c, dropped),
            Update::CandidateError(e) => push_capped(&mut pc.candidate_errors, e, dropped),
            Update::IceState(state) => {
                push_capped(&mut pc.ice_states, StateChange { at, state }, dropped)
            }
            Update::ConnectionState(state) => push_capped(
                &mut pc.connection_states,
                StateChange { at, state },
                dropped,
            ),
            Update::GatheringState(state) => {
                push_capped(&mut pc.gathering_states, StateChange { at, state }, dropped)
            }
            // The RTCStats dump's `create` repeats the configuration; a later setConfiguration
            // replaces it (the servers in force are the last ones given).
            Update::Config(config) => {
                pc.config = config;
                self.config_from_log = true;
            }
            Update::SelectedPairChange(_) => {}
            Update::Close => pc.closed = true,
        }
    }

    /// One sampled stats property (its last value).
    pub fn stat(
        &mut self,
        id: &str,
        stats_type: Option<&str>,
        property: &str,
        value: Value,
        at: Option<UtcTime>,
    ) {
        if let Some(t) = at {
            TimeRange::extend(&mut self.pc.time_range, t);
        }
        self.stats.put(id, stats_type, property, value, at);
    }

    /// The peer connection, its logged candidates completed from the stats.
    pub fn finish(self) -> Built {
        let mut pc = self.pc;
        let stats_dropped = self.stats.dropped;
        let picture = self.stats.finish();
        let mut dropped_events = self.dropped_events;
        merge_candidates(&mut pc.local_candidates, picture.local, &mut dropped_events);
        merge_candidates(
            &mut pc.remote_candidates,
            picture.remote,
            &mut dropped_events,
        );
        pc.pairs = picture.pairs;
        pc.selected_pair_id = picture.selected_pair_id;
        Built {
            pc,
            dropped_events,
            stats_dropped,
            unreadable: self.unreadable,
        }
    }
}

/// A finished peer connection and what was left out of it.
#[derive(Debug)]
pub struct Built {
    pub pc: PeerConnection,
    pub dropped_events: u64,
    pub stats_dropped: u64,
    pub unreadable: u64,
}

fn push_capped<T>(list: &mut Vec<T>, item: T, dropped: &mut u64) {
    if list.len() < MAX_EVENTS {
        list.push(item);
    } else {
        *dropped += 1;
    }
}

/// Stats candidates complete the logged ones (same type, address and port): relay protocol,
/// URL, network type, stats id. Candidates only the stats know (mDNS-hidden in the log, or a
/// log that was cut) are added.
fn merge_candidates(logged: &mut Vec<Candidate>, from_stats: Vec<Candidate>, dropped: &mut u64) {
    for s in from_stats {
        let same = logged.iter_mut().find(|c| {
            c.candidate_type == s.candidate_type && c.address == s.address && c.port == s.port
        });
        match same {
            Some(c) => {
                c.relay_protocol = c.relay_protocol.take().or(s.relay_protocol);
                c.url = c.url.take().or(s.url);
                c.network_type = c.network_type.take().or(s.network_type);
                c.stats_id = c.stats_id.take().or(s.stats_id);
                c.protocol = c.protocol.take().or(s.protocol);
            }
            None => push_capped(logged, s, dropped),
        }
    }
}
