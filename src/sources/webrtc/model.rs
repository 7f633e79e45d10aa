//! What a chrome://webrtc-internals dump says about each peer connection's ICE: the STUN/TURN
//! servers it was given, the candidates it gathered and why some could not be, the candidate
//! pairs and the one selected, and the ICE and connection state timelines. Everything is public
//! so that other layers (the join with an Expressway-E capture by relay address, TURN username
//! and time) can read it directly. No credential is ever part of it.

use serde::{Deserialize, Serialize};

use super::config::ConfigSyntax;
use super::time::{EventTime, UtcTime};

/// Which of Chrome's export files the dump is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DumpFormat {
    /// The "Create Dump" JSON (`webrtc_internals_dump.txt`, or `.gz` when compressed).
    WebrtcInternals,
    /// The RTCStats dump of newer Chromes (`rtcstats_dump.gz`): JSON lines after `RTCStatsDump`.
    RtcStats,
}

/// A parsed dump.
#[derive(Debug, Clone, Serialize)]
pub struct WebrtcDump {
    /// Which export file it was read from.
    pub format: DumpFormat,
    /// The bytes were gzip (the page's downloads are compressed by default in current Chromes,
    /// e.g. 156; the RTCStats dump always).
    pub gzipped: bool,
    /// The browser's user agent string, None when the dump does not give it.
    pub user_agent: Option<String>,
    /// When the dump was made (the top-level `timestamp` of newer "Create Dump" files).
    pub dumped_at: Option<UtcTime>,
    /// Peer connections in dump order, the first [`super::MAX_PEER_CONNECTIONS`].
    pub peer_connections: Vec<PeerConnection>,
    /// What the parser read but did not keep, so that a truncated picture says so.
    pub dropped: Dropped,
}

/// Counts of what was left out to keep memory bounded, or could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Peer connections beyond [`super::MAX_PEER_CONNECTIONS`].
    pub peer_connections: u64,
    /// State changes, candidates, errors beyond the per-connection caps.
    pub events: u64,
    /// Stats objects beyond [`super::MAX_STATS_OBJECTS`] per connection.
    pub stats_objects: u64,
    /// ICE server URLs beyond [`super::config::MAX_ICE_SERVERS`].
    pub ice_servers: u64,
    /// Log entries or RTCStats lines that are not what Chrome writes (skipped).
    pub unreadable: u64,
}

/// One RTCPeerConnection of the page (tab `pid-lid` or `rid-lid` of webrtc-internals).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerConnection {
    /// The webrtc-internals key of the connection (`pid-lid`, or `rid-lid`).
    pub id: String,
    /// The page that created it (the CMS web app's address, for a guest), without its query.
    pub url: Option<String>,
    /// The STUN/TURN servers and ICE transport policy it was created with.
    pub config: IceConfig,
    /// Candidates this browser gathered (`icecandidate` events, completed from local-candidate
    /// stats).
    pub local_candidates: Vec<Candidate>,
    /// Candidates of the other side (`addIceCandidate`, remote-candidate stats).
    pub remote_candidates: Vec<Candidate>,
    /// `icecandidateerror` events: a STUN or TURN server that did not give a candidate.
    pub candidate_errors: Vec<CandidateError>,
    /// Candidate pairs from the stats, with their last sampled values.
    pub pairs: Vec<CandidatePair>,
    /// The stats id of the pair ICE selected (transport stats, or the legacy active connection).
    pub selected_pair_id: Option<String>,
    /// ICE connection state changes (`iceconnectionstatechange`), in log order.
    pub ice_states: Vec<StateChange<IceConnectionState>>,
    /// Connection state changes (`connectionstatechange`), in log order.
    pub connection_states: Vec<StateChange<ConnectionState>>,
    /// ICE gathering state changes (`icegatheringstatechange`), in log order.
    pub gathering_states: Vec<StateChange<GatheringState>>,
    /// First and last absolute times of its log and stats, where the dump gives them.
    pub time_range: Option<TimeRange>,
    /// `close()` was called.
    pub closed: bool,
}

/// From when to when a peer connection's log and stats run (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeRange {
    /// Earliest time seen.
    pub first: UtcTime,
    /// Latest time seen.
    pub last: UtcTime,
}

impl TimeRange {
    /// Widen `range` to include `t` (start it when None).
    pub fn extend(range: &mut Option<TimeRange>, t: UtcTime) {
        *range = Some(match *range {
            None => TimeRange { first: t, last: t },
            Some(r) => TimeRange {
                first: r.first.min(t),
                last: r.last.max(t),
            },
        });
    }
}

/// The ICE part of an RTCConfiguration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IceConfig {
    /// `None` when the dump had no configuration for this connection.
    pub syntax: Option<ConfigSyntax>,
    /// The ICE server URLs, one entry per URL, the first
    /// [`MAX_ICE_SERVERS`](super::config::MAX_ICE_SERVERS).
    pub servers: Vec<IceServer>,
    /// URLs beyond [`MAX_ICE_SERVERS`](super::config::MAX_ICE_SERVERS), not kept.
    pub servers_dropped: u64,
    /// `None` when not written (Chrome's JSON omits the default `all`).
    pub transport_policy: Option<IceTransportPolicy>,
}

impl IceConfig {
    /// The `turn:` and `turns:` servers.
    pub fn turn_servers(&self) -> impl Iterator<Item = &IceServer> {
        self.servers.iter().filter(|s| s.scheme.is_turn())
    }

    /// The policy in force: an unwritten one is the default, `all`.
    pub fn effective_policy(&self) -> IceTransportPolicy {
        self.transport_policy
            .clone()
            .unwrap_or(IceTransportPolicy::All)
    }
}

/// One STUN or TURN server URL. The username is shown where a writer gave it; a credential never.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IceServer {
    /// The URL as written (any password in a user part removed).
    pub url: String,
    /// `stun:`, `stuns:`, `turn:` or `turns:`.
    pub scheme: IceServerScheme,
    /// Host name or address from the URL (IPv6 without brackets).
    pub host: String,
    /// Port from the URL, None when it gives none (see [`IceServer::port_or_default`]).
    pub port: Option<u16>,
    /// `?transport=` of a `turn:` URL.
    pub transport: Option<TransportProtocol>,
    /// The TURN username given with the URL, None when none was.
    pub username: Option<String>,
}

impl IceServer {
    /// The port used: the URL's, else 3478 (`stun:`, `turn:`) or 5349 (`stuns:`, `turns:`).
    pub fn port_or_default(&self) -> u16 {
        self.port.unwrap_or(match self.scheme {
            IceServerScheme::Stuns | IceServerScheme::Turns => 5349,
            _ => 3478,
        })
    }

    /// How the browser talks to this TURN server (`None` for STUN servers).
    pub fn relay_protocol(&self) -> Option<RelayProtocol> {
        match (&self.scheme, &self.transport) {
            (IceServerScheme::Turns, _) => Some(RelayProtocol::Tls),
            (IceServerScheme::Turn, Some(TransportProtocol::Tcp)) => Some(RelayProtocol::Tcp),
            (IceServerScheme::Turn, _) => Some(RelayProtocol::Udp),
            _ => None,
        }
    }
}

/// The scheme of an ICE server URL (RFC 7064 STUN, RFC 7065 TURN).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IceServerScheme {
    /// `stun:`, STUN over UDP or TCP.
    Stun,
    /// `stuns:`, STUN over TLS.
    Stuns,
    /// `turn:`, TURN over UDP (or TCP with `?transport=tcp`).
    Turn,
    /// `turns:`, TURN over TLS.
    Turns,
    /// Any other scheme, lower-cased.
    Unknown(String),
}

impl IceServerScheme {
    /// Parse a scheme, case-insensitively.
    pub fn parse(s: &str) -> IceServerScheme {
        match s.to_ascii_lowercase().as_str() {
            "stun" => IceServerScheme::Stun,
            "stuns" => IceServerScheme::Stuns,
            "turn" => IceServerScheme::Turn,
            "turns" => IceServerScheme::Turns,
            other => IceServerScheme::Unknown(other.to_string()),
        }
    }

    /// True for `turn:` and `turns:`.
    pub fn is_turn(&self) -> bool {
        matches!(self, IceServerScheme::Turn | IceServerScheme::Turns)
    }
}

/// The `iceTransportPolicy` of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    /// `all`: every candidate type (the default).
    All,
    /// `relay`: relay candidates only, so TURN must work.
    Relay,
    /// Chrome's non-standard `noHost`.
    NoHost,
    /// `none`: gather nothing (legacy).
    None,
    /// Any other value, lower-cased.
    Other(String),
}

impl IceTransportPolicy {
    /// Parse a policy, case-insensitively.
    pub fn parse(s: &str) -> IceTransportPolicy {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => IceTransportPolicy::All,
            "relay" => IceTransportPolicy::Relay,
            "nohost" => IceTransportPolicy::NoHost,
            "none" => IceTransportPolicy::None,
            other => IceTransportPolicy::Other(other.to_string()),
        }
    }
}

/// A candidate's or URL's transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportProtocol {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// Any other value, lower-cased.
    Other(String),
}

impl TransportProtocol {
    /// Parse a transport, case-insensitively.
    pub fn parse(s: &str) -> TransportProtocol {
        match s.trim().to_ascii_lowercase().as_str() {
            "udp" => TransportProtocol::Udp,
            "tcp" => TransportProtocol::Tcp,
            other => TransportProtocol::Other(other.to_string()),
        }
    }
}

/// How a relay candidate's allocation was made: TURN over UDP, TCP or TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelayProtocol {
    /// TURN over UDP (`turn:`).
    Udp,
    /// TURN over TCP (`turn:...?transport=tcp`).
    Tcp,
    /// TURN over TLS (`turns:`).
    Tls,
    /// Any other value, lower-cased.
    Other(String),
}

impl RelayProtocol {
    /// Parse a relay protocol, case-insensitively.
    pub fn parse(s: &str) -> RelayProtocol {
        match s.trim().to_ascii_lowercase().as_str() {
            "udp" => RelayProtocol::Udp,
            "tcp" => RelayProtocol::Tcp,
            "tls" => RelayProtocol::Tls,
            other => RelayProtocol::Other(other.to_string()),
        }
    }
}

/// The type of an ICE candidate (RFC 8445 section 5.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateType {
    /// A host candidate: an address of the browser's own interface.
    Host,
    /// Server reflexive: the browser's address as a STUN server saw it (behind NAT).
    Srflx,
    /// Peer reflexive: learnt from a connectivity check.
    Prflx,
    /// Relayed: an address allocated on a TURN server.
    Relay,
    /// Any other type, lower-cased.
    Other(String),
}

impl CandidateType {
    /// Standard names and the legacy stats' ones (`local`, `stunport`, `serverreflexive`,
    /// `peerreflexive`, `relayed`).
    pub fn parse(s: &str) -> CandidateType {
        match s.trim().to_ascii_lowercase().as_str() {
            "host" | "local" => CandidateType::Host,
            "srflx" | "stunport" | "serverreflexive" => CandidateType::Srflx,
            "prflx" | "peerreflexive" => CandidateType::Prflx,
            "relay" | "relayed" => CandidateType::Relay,
            other => CandidateType::Other(other.to_string()),
        }
    }

    /// The standard name: "host", "srflx", "prflx", "relay" (or the other text).
    pub fn as_str(&self) -> &str {
        match self {
            CandidateType::Host => "host",
            CandidateType::Srflx => "srflx",
            CandidateType::Prflx => "prflx",
            CandidateType::Relay => "relay",
            CandidateType::Other(s) => s,
        }
    }
}

/// An ICE candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// Host, srflx, prflx or relay.
    pub candidate_type: CandidateType,
    /// The candidate's own transport (`udp`, or `tcp` for ICE-TCP).
    pub protocol: Option<TransportProtocol>,
    /// An IP address, or an mDNS name (`<uuid>.local`) where the browser hid its address.
    pub address: String,
    /// The candidate's port.
    pub port: u16,
    /// For relay candidates: how the allocation was made.
    pub relay_protocol: Option<RelayProtocol>,
    /// The STUN/TURN server URL the candidate came from (srflx, relay).
    pub url: Option<String>,
    /// For srflx and relay candidates: the base (`raddr`/`rport`).
    pub related_address: Option<String>,
    /// The base's port, None where not given.
    pub related_port: Option<u16>,
    /// The network adapter type the stats give (`ethernet`, `wifi`, `vpn`, ...), None otherwise.
    pub network_type: Option<String>,
    /// When the browser reported it (its `icecandidate` event).
    pub seen_at: Option<EventTime>,
    /// The id of its stats object, where stats name it.
    pub stats_id: Option<String>,
}

/// How many local candidates of each type a peer connection gathered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CandidateCounts {
    /// Host candidates.
    pub host: usize,
    /// Server-reflexive candidates.
    pub srflx: usize,
    /// Peer-reflexive candidates.
    pub prflx: usize,
    /// Relay candidates.
    pub relay: usize,
    /// Candidates of another type.
    pub other: usize,
}

impl Candidate {
    /// The browser hid its address behind an mDNS name (`<uuid>.local`).
    pub fn is_mdns(&self) -> bool {
        self.address.ends_with(".local")
    }

    /// `address:port`, IPv6 in brackets.
    pub fn endpoint(&self) -> String {
        if self.address.contains(':') {
            format!("[{}]:{}", self.address, self.port)
        } else {
            format!("{}:{}", self.address, self.port)
        }
    }
}

/// An `icecandidateerror`: a server that gave no candidate, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CandidateError {
    /// When the error was reported, None when the log does not date it.
    pub at: Option<EventTime>,
    /// The STUN/TURN URL that failed.
    pub url: String,
    /// The local (host) address and port the request was sent from, where given.
    pub address: Option<String>,
    /// The local port, where given.
    pub port: Option<u16>,
    /// 701 (no answer / not reachable), or the STUN error code of the server's answer (401, 431,
    /// 486, 508, ...).
    pub code: u16,
    /// The error text Chrome gives (the STUN reason phrase, or its own words for 701).
    pub text: String,
}

impl CandidateError {
    /// True when the failed URL is `turn:` or `turns:`.
    pub fn is_turn(&self) -> bool {
        let scheme = self.url.split(':').next().unwrap_or("");
        IceServerScheme::parse(scheme).is_turn()
    }
}

/// The state of a candidate pair (RFC 8445 section 6.1.2.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairState {
    /// Waiting for another pair of its foundation.
    Frozen,
    /// Ready to be checked.
    Waiting,
    /// A check was sent, no answer yet.
    InProgress,
    /// The check failed (no answer, or an error).
    Failed,
    /// A check succeeded.
    Succeeded,
    /// Any other value, lower-cased.
    Other(String),
}

impl PairState {
    /// Parse a pair state, case-insensitively (`in-progress` or `inprogress`).
    pub fn parse(s: &str) -> PairState {
        match s.trim().to_ascii_lowercase().as_str() {
            "frozen" => PairState::Frozen,
            "waiting" => PairState::Waiting,
            "in-progress" | "inprogress" => PairState::InProgress,
            "failed" => PairState::Failed,
            "succeeded" => PairState::Succeeded,
            other => PairState::Other(other.to_string()),
        }
    }
}

/// A candidate pair with the last values its stats had.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CandidatePair {
    /// The stats object id of the pair.
    pub stats_id: String,
    /// The pair's state, None when the stats do not give it.
    pub state: Option<PairState>,
    /// Nominated by the controlling agent, None when not given.
    pub nominated: Option<bool>,
    /// Bytes sent on the pair (the stats' `bytesSent`).
    pub bytes_sent: Option<u64>,
    /// Bytes received on the pair (`bytesReceived`).
    pub bytes_received: Option<u64>,
    /// Connectivity check requests sent (`requestsSent`).
    pub requests_sent: Option<u64>,
    /// Connectivity check requests received (`requestsReceived`).
    pub requests_received: Option<u64>,
    /// Check responses sent (`responsesSent`).
    pub responses_sent: Option<u64>,
    /// Check responses received (`responsesReceived`).
    pub responses_received: Option<u64>,
    /// The local candidate, None when its stats are not in the dump.
    pub local: Option<Candidate>,
    /// The remote candidate, None when its stats are not in the dump.
    pub remote: Option<Candidate>,
    /// Time of the last stats sample read.
    pub last_sample: Option<UtcTime>,
}

/// A state and when the log says it was entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange<S> {
    /// When the state was entered, None when the log does not date it.
    pub at: Option<EventTime>,
    /// The state entered.
    pub state: S,
}

/// The `iceConnectionState` of a peer connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceConnectionState {
    /// `new`: not yet checking.
    New,
    /// `checking`: connectivity checks under way, none succeeded yet.
    Checking,
    /// `connected`: a working pair was found.
    Connected,
    /// `completed`: checks done, a pair selected.
    Completed,
    /// `disconnected`: consent checks failing for a while (may recover).
    Disconnected,
    /// `failed`: no pair works.
    Failed,
    /// `closed`: the connection was closed.
    Closed,
    /// Any other value, lower-cased.
    Other(String),
}

/// The `connectionState` of a peer connection (ICE and DTLS together).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// `new`.
    New,
    /// `connecting`: ICE or DTLS under way.
    Connecting,
    /// `connected`: ICE and DTLS up.
    Connected,
    /// `disconnected`: a transport lost connectivity.
    Disconnected,
    /// `failed`: a transport failed.
    Failed,
    /// `closed`.
    Closed,
    /// Any other value, lower-cased.
    Other(String),
}

/// The `iceGatheringState` of a peer connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatheringState {
    /// `new`: not gathering yet.
    New,
    /// `gathering`: candidates being gathered.
    Gathering,
    /// `complete`: gathering ended.
    Complete,
    /// Any other value, lower-cased.
    Other(String),
}

/// `"connected"`, `connected`, `ICEConnectionStateConnected`: the bare lower-case state name.
pub(crate) fn state_name(value: &str, legacy_prefix: &str) -> String {
    let v = value.trim().trim_matches('"').to_ascii_lowercase();
    v.strip_prefix(legacy_prefix).unwrap_or(&v).to_string()
}

impl IceConnectionState {
    /// Parse a state as written (quoted, bare, or the legacy `ICEConnectionStateConnected`).
    pub fn parse(s: &str) -> IceConnectionState {
        match state_name(s, "iceconnectionstate").as_str() {
            "new" => IceConnectionState::New,
            "checking" => IceConnectionState::Checking,
            "connected" => IceConnectionState::Connected,
            "completed" => IceConnectionState::Completed,
            "disconnected" => IceConnectionState::Disconnected,
            "failed" => IceConnectionState::Failed,
            "closed" => IceConnectionState::Closed,
            other => IceConnectionState::Other(other.to_string()),
        }
    }
}

impl ConnectionState {
    /// Parse a state as written (quoted, bare, or with a legacy prefix).
    pub fn parse(s: &str) -> ConnectionState {
        match state_name(s, "peerconnectionstate").as_str() {
            "new" => ConnectionState::New,
            "connecting" => ConnectionState::Connecting,
            "connected" => ConnectionState::Connected,
            "disconnected" => ConnectionState::Disconnected,
            "failed" => ConnectionState::Failed,
            "closed" => ConnectionState::Closed,
            other => ConnectionState::Other(other.to_string()),
        }
    }
}

impl GatheringState {
    /// Parse a state as written (quoted, bare, or with a legacy prefix).
    pub fn parse(s: &str) -> GatheringState {
        match state_name(s, "icegatheringstate").as_str() {
            "new" => GatheringState::New,
            "gathering" => GatheringState::Gathering,
            "complete" => GatheringState::Complete,
            other => GatheringState::Other(other.to_string()),
        }
    }
}

impl PeerConnection {
    /// The pair ICE selected, when the stats name one that is known.
    pub fn selected_pair(&self) -> Option<&CandidatePair> {
        let id = self.selected_pair_id.as_deref()?;
        self.pairs.iter().find(|p| p.stats_id == id)
    }

    /// The local relay candidates.
    pub fn relay_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.local_candidates
            .iter()
            .filter(|c| c.candidate_type == CandidateType::Relay)
    }

    /// The local candidates by type.
    pub fn local_candidate_counts(&self) -> CandidateCounts {
        let mut n = CandidateCounts::default();
        for c in &self.local_candidates {
            match c.candidate_type {
                CandidateType::Host => n.host += 1,
                CandidateType::Srflx => n.srflx += 1,
                CandidateType::Prflx => n.prflx += 1,
                CandidateType::Relay => n.relay += 1,
                CandidateType::Other(_) => n.other += 1,
            }
        }
        n
    }
}

impl WebrtcDump {
    /// Every relay candidate this browser gathered: the addresses the Expressway-E allocated
    /// (XOR-RELAYED-ADDRESS), to find in its capture.
    pub fn relay_candidates(&self) -> impl Iterator<Item = &Candidate> {
        self.peer_connections
            .iter()
            .flat_map(PeerConnection::relay_candidates)
    }

    /// The TURN usernames the dump shows (Chrome's own dumps never show them; other writers may).
    pub fn turn_usernames(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .peer_connections
            .iter()
            .flat_map(|pc| pc.config.turn_servers())
            .filter_map(|s| s.username.as_deref())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// From the first to the last absolute time of all peer connections.
    pub fn time_range(&self) -> Option<TimeRange> {
        let mut range = None;
        for r in self.peer_connections.iter().filter_map(|pc| pc.time_range) {
            TimeRange::extend(&mut range, r.first);
            TimeRange::extend(&mut range, r.last);
        }
        range
    }
}
