//! Stats objects of a peer connection, reduced to what ICE diagnosis needs: the last value of
//! each property of candidates, candidate pairs and transports. Both the standard stats
//! (`candidate-pair`, `local-candidate`, `remote-candidate`, `transport`; long ids such as
//! `RTCIceCandidatePair_xxx` in older Chromes, short ones such as `CPxxx_yyy` in newer) and the
//! legacy Google stats (`googCandidatePair`, `localcandidate`, `remotecandidate`) are read.

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{
    Candidate, CandidatePair, CandidateType, PairState, RelayProtocol, TransportProtocol,
};
use super::time::UtcTime;

/// Stats objects kept per peer connection (only the ICE ones count).
pub const MAX_STATS_OBJECTS: usize = 4096;

/// The properties kept; every other one is skipped unread.
const KEPT: &[&str] = &[
    // candidate-pair
    "state",
    "nominated",
    "selected",
    "bytesSent",
    "bytesReceived",
    "requestsSent",
    "requestsReceived",
    "responsesSent",
    "responsesReceived",
    "localCandidateId",
    "remoteCandidateId",
    // local-candidate / remote-candidate
    "address",
    "ip",
    "port",
    "protocol",
    "candidateType",
    "relayProtocol",
    "url",
    "relatedAddress",
    "relatedPort",
    "networkType",
    // transport
    "selectedCandidatePairId",
    "iceState",
    // legacy (googCandidatePair, localcandidate, remotecandidate)
    "googActiveConnection",
    "googLocalAddress",
    "googRemoteAddress",
    "googLocalCandidateType",
    "googRemoteCandidateType",
    "googTransportType",
    "ipAddress",
    "portNumber",
    "transport",
];

/// True for a property [`StatsStore::put`] keeps.
pub fn is_kept(property: &str) -> bool {
    KEPT.contains(&property)
}

/// The types of stats objects kept. A legacy dump without `statsType` keeps everything whose
/// properties are kept, and the type is inferred.
fn is_ice_type(stats_type: &str) -> bool {
    matches!(
        stats_type,
        "candidate-pair"
            | "local-candidate"
            | "remote-candidate"
            | "transport"
            | "googCandidatePair"
            | "localcandidate"
            | "remotecandidate"
    )
}

#[derive(Debug, Default)]
struct StatsObject {
    stats_type: Option<String>,
    last: BTreeMap<String, Value>,
    last_sample: Option<UtcTime>,
}

/// The ICE stats objects of one peer connection, by id.
#[derive(Debug, Default)]
pub struct StatsStore {
    objects: BTreeMap<String, StatsObject>,
    /// Objects not kept because of [`MAX_STATS_OBJECTS`].
    pub dropped: u64,
}

impl StatsStore {
    /// Record the last value of one property of one stats object.
    pub fn put(
        &mut self,
        id: &str,
        stats_type: Option<&str>,
        property: &str,
        value: Value,
        at: Option<UtcTime>,
    ) {
        if stats_type.is_some_and(|t| !is_ice_type(t)) || !is_kept(property) {
            return;
        }
        if !self.objects.contains_key(id) && self.objects.len() >= MAX_STATS_OBJECTS {
            self.dropped += 1;
            return;
        }
        let object = self.objects.entry(id.to_string()).or_default();
        if object.stats_type.is_none() {
            object.stats_type = stats_type.map(str::to_string);
        }
        object.last.insert(property.to_string(), value);
        if at.is_some() && at > object.last_sample {
            object.last_sample = at;
        }
    }

    /// The candidates (local and remote) and pairs the stats describe, and the selected pair.
    pub fn finish(self) -> StatsPicture {
        let mut picture = StatsPicture::default();
        for (id, object) in &self.objects {
            match object.kind() {
                ObjectKind::LocalCandidate => picture.local.push(object.candidate(id)),
                ObjectKind::RemoteCandidate => picture.remote.push(object.candidate(id)),
                ObjectKind::Pair => {
                    if object.bool("googActiveConnection") == Some(true)
                        || object.bool("selected") == Some(true)
                    {
                        picture.selected_pair_id = Some(id.clone());
                    }
                    picture.pairs.push(self.pair(id, object));
                }
                ObjectKind::Transport => {
                    if let Some(sel) = object.text("selectedCandidatePairId") {
                        picture.selected_pair_id = Some(sel.to_string());
                    }
                }
                ObjectKind::Unknown => {}
            }
        }
        picture
    }

    fn pair(&self, id: &str, object: &StatsObject) -> CandidatePair {
        let linked = |key: &str| {
            let other = object.text(key)?;
            Some(self.objects.get(other)?.candidate(other))
        };
        CandidatePair {
            stats_id: id.to_string(),
            state: object.text("state").map(PairState::parse),
            nominated: object.bool("nominated"),
            bytes_sent: object.count("bytesSent"),
            bytes_received: object.count("bytesReceived"),
            requests_sent: object.count("requestsSent"),
            requests_received: object.count("requestsReceived"),
            responses_sent: object.count("responsesSent"),
            responses_received: object.count("responsesReceived"),
            local: linked("localCandidateId").or_else(|| object.legacy_end("Local")),
            remote: linked("remoteCandidateId").or_else(|| object.legacy_end("Remote")),
            last_sample: object.last_sample,
        }
    }
}

/// What the stats say, ready to merge into a peer connection.
#[derive(Debug, Default)]
pub struct StatsPicture {
    pub local: Vec<Candidate>,
    pub remote: Vec<Candidate>,
    pub pairs: Vec<CandidatePair>,
    pub selected_pair_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObjectKind {
    LocalCandidate,
    RemoteCandidate,
    Pair,
    Transport,
    Unknown,
}

impl StatsObject {
    fn kind(&self) -> ObjectKind {
        match self.stats_type.as_deref() {
            Some("local-candidate" | "localcandidate") => ObjectKind::LocalCandidate,
            Some("remote-candidate" | "remotecandidate") => ObjectKind::RemoteCandidate,
            Some("candidate-pair" | "googCandidatePair") => ObjectKind::Pair,
            Some("transport") => ObjectKind::Transport,
            // Legacy dumps without statsType: the properties tell.
            _ if self.last.contains_key("googActiveConnection") => ObjectKind::Pair,
            _ if self.last.contains_key("selectedCandidatePairId") => ObjectKind::Transport,
            _ => ObjectKind::Unknown,
        }
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.last.get(key)?.as_str()
    }

    /// Booleans are `true` in standard stats and `"true"` in legacy ones.
    fn bool(&self, key: &str) -> Option<bool> {
        match self.last.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// Counters are numbers, or strings in legacy stats.
    fn count(&self, key: &str) -> Option<u64> {
        match self.last.get(key)? {
            Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
            Value::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    fn candidate(&self, id: &str) -> Candidate {
        let address = self
            .text("address")
            .or_else(|| self.text("ip"))
            .or_else(|| self.text("ipAddress"))
            .unwrap_or("");
        let port = self.count("port").or_else(|| self.count("portNumber"));
        Candidate {
            candidate_type: CandidateType::parse(self.text("candidateType").unwrap_or("")),
            protocol: self
                .text("protocol")
                .or_else(|| self.text("transport"))
                .map(TransportProtocol::parse),
            address: address.to_string(),
            port: port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
            relay_protocol: self.text("relayProtocol").map(RelayProtocol::parse),
            url: self.text("url").map(str::to_string),
            related_address: self.text("relatedAddress").map(str::to_string),
            related_port: self
                .count("relatedPort")
                .and_then(|p| u16::try_from(p).ok()),
            network_type: self.text("networkType").map(str::to_string),
            seen_at: None,
            stats_id: Some(id.to_string()),
        }
    }

    /// A legacy pair's end from `goog<Side>Address` (`ip:port`) and `goog<Side>CandidateType`.
    fn legacy_end(&self, side: &str) -> Option<Candidate> {
        let address = self.text(&format!("goog{side}Address"))?;
        let (ip, port) = address.rsplit_once(':')?;
        Some(Candidate {
            candidate_type: CandidateType::parse(
                self.text(&format!("goog{side}CandidateType")).unwrap_or(""),
            ),
            protocol: self.text("googTransportType").map(TransportProtocol::parse),
            address: ip.trim_matches(['[', ']']).to_string(),
            port: port.parse().unwrap_or(0),
            relay_protocol: None,
            url: None,
            related_address: None,
            related_port: None,
            network_type: None,
            seen_at: None,
            stats_id: None,
        })
    }
}
