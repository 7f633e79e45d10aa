//! What a dump alone says is wrong (or right) with each peer connection's ICE, as named verdicts
//! that carry their values. Each maps to a proposed finding id of the `browser.` family
//! (`docs/findings.md`, "Proposed (not raised yet)"); `analyze` does not raise them yet.

use std::fmt;

use serde::Serialize;

use super::model::{
    CandidateError, CandidateType, ConnectionState, IceConnectionState, PeerConnection,
    RelayProtocol, WebrtcDump,
};
use super::time::EventTime;

/// One verdict about one peer connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The peer connection's id in the dump (`pid-lid`).
    pub peer_connection: String,
    /// What was found.
    pub kind: VerdictKind,
}

/// What a verdict says about a peer connection (the browser side of a call).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum VerdictKind {
    /// TURN servers are configured and no relay candidate was gathered.
    NoRelayCandidate {
        /// The TURN URLs configured (`turn:`/`turns:`).
        turn_urls: Vec<String>,
        /// Why, as the candidate errors tell.
        cause: NoRelayCause,
    },
    /// An `icecandidateerror` on a TURN URL.
    TurnError(CandidateError),
    /// The ICE connection state or the connection state reached `failed`; `ever_connected`:
    /// it had worked before.
    IceFailed {
        /// When the state became `failed`, None when the dump does not date it.
        at: Option<EventTime>,
        /// True when ICE had been `connected` or `completed` before.
        ever_connected: bool,
    },
    /// ICE went `disconnected`; `recovered` when it was connected again afterwards.
    IceDisconnected {
        /// When the state became `disconnected`, None when the dump does not date it.
        at: Option<EventTime>,
        /// True when ICE was `connected` again afterwards.
        recovered: bool,
    },
    /// ICE never reached `connected` by the time of the dump (and did not fail either).
    NeverConnected {
        /// The last ICE connection state in the dump, None when it logged none.
        last_state: Option<IceConnectionState>,
    },
    /// Every relay candidate was allocated over TCP or TLS: TURN over UDP did not work.
    RelayOnlyOverTcp {
        /// The relay protocols of the relay candidates (each TCP or TLS).
        protocols: Vec<RelayProtocol>,
    },
    /// The pair ICE selected, by candidate types (`relay-srflx`: local relay, remote srflx).
    SelectedPair {
        /// Type of the local candidate (host, srflx, prflx, relay).
        local: CandidateType,
        /// Type of the remote candidate.
        remote: CandidateType,
        /// For a local relay candidate: the transport to the TURN server; None otherwise.
        local_relay_protocol: Option<RelayProtocol>,
        /// The local candidate, `address:port` (IPv6 in brackets).
        local_address: String,
        /// The remote candidate, `address:port` (IPv6 in brackets).
        remote_address: String,
    },
}

/// Why no relay candidate was gathered, as the candidate errors tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoRelayCause {
    /// 401 / 431 / 441 (or a 701 whose text names them): the TURN username or password.
    Credentials {
        /// The STUN error code (401, 431 or 441).
        code: u16,
    },
    /// 701 with no STUN answer: the TURN server was not reached (UDP/TCP 3478 or 443 blocked, or
    /// TURN not listening).
    Unreachable,
    /// Another STUN error: 486 quota, 508 capacity, 403, 437, ...
    ServerRefused {
        /// The STUN error code.
        code: u16,
    },
    /// No error was logged (e.g. the dump was taken before gathering ended).
    NoErrorReported,
}

impl Verdict {
    /// The finding id this verdict would be raised as (proposed, `docs/findings.md`).
    pub fn proposed_id(&self) -> &'static str {
        match self.kind {
            VerdictKind::NoRelayCandidate { .. } => "browser.no_relay_candidate",
            VerdictKind::TurnError(_) => "browser.turn_error",
            VerdictKind::IceFailed { .. } => "browser.ice_failed",
            VerdictKind::IceDisconnected { .. } => "browser.ice_disconnected",
            VerdictKind::NeverConnected { .. } => "browser.ice_not_connected",
            VerdictKind::RelayOnlyOverTcp { .. } => "browser.relay_tcp_only",
            VerdictKind::SelectedPair { .. } => "browser.selected_pair",
        }
    }

    /// `error`, `warning` or `info`, as proposed with the id.
    pub fn proposed_severity(&self) -> &'static str {
        match &self.kind {
            VerdictKind::NoRelayCandidate { .. }
            | VerdictKind::TurnError(_)
            | VerdictKind::IceFailed { .. } => "error",
            VerdictKind::IceDisconnected { .. }
            | VerdictKind::NeverConnected { .. }
            | VerdictKind::RelayOnlyOverTcp { .. } => "warning",
            VerdictKind::SelectedPair { .. } => "info",
        }
    }
}

/// Every verdict on every peer connection of a dump.
pub fn verdicts(dump: &WebrtcDump) -> Vec<Verdict> {
    let mut out = Vec::new();
    for pc in &dump.peer_connections {
        let mut add = |kind| {
            out.push(Verdict {
                peer_connection: pc.id.clone(),
                kind,
            })
        };
        for e in pc.candidate_errors.iter().filter(|e| e.is_turn()) {
            add(VerdictKind::TurnError(e.clone()));
        }
        if let Some(v) = no_relay(pc) {
            add(v);
        }
        if let Some(v) = relay_only_over_tcp(pc) {
            add(v);
        }
        for v in ice_outcome(pc) {
            add(v);
        }
        if let Some(v) = selected_pair(pc) {
            add(v);
        }
    }
    out
}

/// TURN configured, no relay candidate: why, from the TURN errors (credentials first, then a
/// server's refusal, then no answer).
pub fn no_relay(pc: &PeerConnection) -> Option<VerdictKind> {
    let turn_urls: Vec<String> = pc.config.turn_servers().map(|s| s.url.clone()).collect();
    if turn_urls.is_empty() || pc.relay_candidates().next().is_some() {
        return None;
    }
    let errors: Vec<&CandidateError> = pc.candidate_errors.iter().filter(|e| e.is_turn()).collect();
    let credentials = errors.iter().find_map(|e| credential_code(e));
    let refused = errors
        .iter()
        .find(|e| e.code != 701 && (300..700).contains(&e.code))
        .map(|e| e.code);
    let cause = match (credentials, refused) {
        (Some(code), _) => NoRelayCause::Credentials { code },
        (None, Some(code)) => NoRelayCause::ServerRefused { code },
        _ if errors.iter().any(|e| e.code == 701) => NoRelayCause::Unreachable,
        _ => NoRelayCause::NoErrorReported,
    };
    Some(VerdictKind::NoRelayCandidate { turn_urls, cause })
}

/// 401, 431 and 441 are credential failures; a 701 may name them in its text.
fn credential_code(e: &CandidateError) -> Option<u16> {
    match e.code {
        401 | 431 | 441 => Some(e.code),
        701 => {
            let t = e.text.to_ascii_lowercase();
            if t.contains("401") || t.contains("unauthorized") {
                Some(401)
            } else if t.contains("431") || t.contains("integrity") {
                Some(431)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// [`VerdictKind::RelayOnlyOverTcp`] when every relay candidate went over TCP or TLS, else None.
pub fn relay_only_over_tcp(pc: &PeerConnection) -> Option<VerdictKind> {
    let mut protocols: Vec<RelayProtocol> = pc
        .relay_candidates()
        .filter_map(|c| c.relay_protocol.clone())
        .collect();
    protocols.dedup();
    let over_tcp = |p: &RelayProtocol| matches!(p, RelayProtocol::Tcp | RelayProtocol::Tls);
    (!protocols.is_empty() && protocols.iter().all(over_tcp))
        .then_some(VerdictKind::RelayOnlyOverTcp { protocols })
}

/// Failed (the ICE or the connection state: Chrome 156 reports a failed connection as ICE
/// `disconnected` and connection `failed`), disconnected after having been connected
/// (recovered or not), or never connected by the time of the dump.
pub fn ice_outcome(pc: &PeerConnection) -> Vec<VerdictKind> {
    let states = &pc.ice_states;
    let is_connected = |s: &IceConnectionState| {
        matches!(
            s,
            IceConnectionState::Connected | IceConnectionState::Completed
        )
    };
    let ever_connected = states.iter().any(|c| is_connected(&c.state))
        || pc
            .connection_states
            .iter()
            .any(|c| c.state == ConnectionState::Connected);
    let mut out = Vec::new();
    let ice_failed = states
        .iter()
        .rfind(|c| c.state == IceConnectionState::Failed);
    let pc_failed = pc
        .connection_states
        .iter()
        .rfind(|c| c.state == ConnectionState::Failed);
    if let Some(at) = ice_failed.map(|c| &c.at).or(pc_failed.map(|c| &c.at)) {
        out.push(VerdictKind::IceFailed {
            at: at.clone(),
            ever_connected,
        });
    }
    for (i, change) in states.iter().enumerate() {
        let was_connected = states.iter().take(i).any(|c| is_connected(&c.state));
        if change.state == IceConnectionState::Disconnected && was_connected {
            let recovered = states.iter().skip(i + 1).any(|c| is_connected(&c.state));
            out.push(VerdictKind::IceDisconnected {
                at: change.at.clone(),
                recovered,
            });
        }
    }
    if out.is_empty() && !ever_connected && !states.is_empty() {
        out.push(VerdictKind::NeverConnected {
            last_state: states.last().map(|c| c.state.clone()),
        });
    }
    out
}

/// [`VerdictKind::SelectedPair`] for the pair ICE selected, None when none was (or its
/// candidates are unknown).
pub fn selected_pair(pc: &PeerConnection) -> Option<VerdictKind> {
    let pair = pc.selected_pair()?;
    let (local, remote) = (pair.local.as_ref()?, pair.remote.as_ref()?);
    Some(VerdictKind::SelectedPair {
        local: local.candidate_type.clone(),
        remote: remote.candidate_type.clone(),
        local_relay_protocol: local.relay_protocol.clone(),
        local_address: local.endpoint(),
        remote_address: remote.endpoint(),
    })
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer connection {}: ", self.peer_connection)?;
        match &self.kind {
            VerdictKind::NoRelayCandidate { turn_urls, cause } => {
                write!(f, "no relay candidate from {}: ", turn_urls.join(", "))?;
                match cause {
                    NoRelayCause::Credentials { code } => {
                        write!(f, "rejected with {code}: TURN username or password")
                    }
                    NoRelayCause::Unreachable => {
                        f.write_str("701, no answer: the TURN server was not reached")
                    }
                    NoRelayCause::ServerRefused { code } => write!(f, "refused with {code}"),
                    NoRelayCause::NoErrorReported => f.write_str("no error logged"),
                }
            }
            VerdictKind::TurnError(e) => write!(
                f,
                "{} answered {} {:?} (from local port {})",
                e.url,
                e.code,
                e.text,
                e.port.map_or("?".into(), |p| p.to_string())
            ),
            VerdictKind::IceFailed { at, ever_connected } => write!(
                f,
                "ICE failed{}{}",
                when(at),
                if *ever_connected {
                    " after having connected"
                } else {
                    ", never connected"
                }
            ),
            VerdictKind::IceDisconnected { at, recovered } => write!(
                f,
                "ICE disconnected{}{}",
                when(at),
                if *recovered {
                    ", then connected again"
                } else {
                    ""
                }
            ),
            VerdictKind::NeverConnected { last_state } => {
                write!(f, "ICE never connected (last state {last_state:?})")
            }
            VerdictKind::RelayOnlyOverTcp { protocols } => {
                write!(f, "relay candidates only over {protocols:?}, none over UDP")
            }
            VerdictKind::SelectedPair {
                local,
                remote,
                local_address,
                remote_address,
                ..
            } => write!(
                f,
                "selected pair {}-{} ({local_address} -> {remote_address})",
                local.as_str(),
                remote.as_str()
            ),
        }
    }
}

fn when(at: &Option<EventTime>) -> String {
    at.as_ref().map_or(String::new(), |t| format!(" at {t}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::webrtc::config::parse_ice_url;
    use crate::sources::webrtc::model::StateChange;

    fn pc_with_turn(errors: &[(u16, &str)]) -> PeerConnection {
        let mut pc = PeerConnection::default();
        pc.config.servers.push(parse_ice_url("turn:192.0.2.1:3478"));
        for (code, text) in errors {
            pc.candidate_errors.push(CandidateError {
                at: None,
                url: "turn:192.0.2.1:3478".into(),
                address: None,
                port: None,
                code: *code,
                text: text.to_string(),
            });
        }
        pc
    }

    fn cause(pc: &PeerConnection) -> NoRelayCause {
        match no_relay(pc) {
            Some(VerdictKind::NoRelayCandidate { cause, .. }) => cause,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn why_no_relay() {
        let unreachable = [(701, "TURN allocate request timed out.")];
        assert_eq!(
            cause(&pc_with_turn(&unreachable)),
            NoRelayCause::Unreachable
        );
        let both = [
            (701, "TURN allocate request timed out."),
            (431, "Integrity"),
        ];
        assert_eq!(
            cause(&pc_with_turn(&both)),
            NoRelayCause::Credentials { code: 431 }
        );
        let named = [(701, "Unauthorized (401)")];
        assert_eq!(
            cause(&pc_with_turn(&named)),
            NoRelayCause::Credentials { code: 401 }
        );
        let quota = [(486, "Allocation Quota Reached")];
        assert_eq!(
            cause(&pc_with_turn(&quota)),
            NoRelayCause::ServerRefused { code: 486 }
        );
        assert_eq!(cause(&pc_with_turn(&[])), NoRelayCause::NoErrorReported);
        assert_eq!(
            no_relay(&PeerConnection::default()),
            None,
            "no TURN, no verdict"
        );
    }

    #[test]
    fn disconnections_count_only_after_a_connection() {
        let mut pc = PeerConnection::default();
        for s in [
            "checking",
            "connected",
            "disconnected",
            "connected",
            "disconnected",
        ] {
            pc.ice_states.push(StateChange {
                at: None,
                state: IceConnectionState::parse(s),
            });
        }
        let out = ice_outcome(&pc);
        assert_eq!(
            out,
            [
                VerdictKind::IceDisconnected {
                    at: None,
                    recovered: true
                },
                VerdictKind::IceDisconnected {
                    at: None,
                    recovered: false
                },
            ]
        );
        pc.ice_states.truncate(1);
        assert_eq!(
            ice_outcome(&pc),
            [VerdictKind::NeverConnected {
                last_state: Some(IceConnectionState::Checking)
            }]
        );
    }
}
