//! The peer connection log (`updateLog` entries, RTCStats events): which entries matter for ICE
//! and how each Chrome wrote their values.
//!
//! Event names changed over the years (`onIceCandidate`, `icecandidate`, `onicecandidate`;
//! `iceConnectionStateChange`, `iceconnectionstatechange`, `oniceconnectionstatechange`) and so
//! did values: text (`sdpMid: 0, sdpMLineIndex: 0, candidate: candidate:...`, `url: ...\n
//! error_code: 701`), JSON in a string, JSON objects (RTCStats dump), bare or quoted state names.

use serde_json::Value;

use super::config::parse_config;
use super::model::{
    Candidate, CandidateError, CandidateType, ConnectionState, GatheringState, IceConfig,
    IceConnectionState, RelayProtocol, TransportProtocol,
};
use super::time::EventTime;

/// A log entry that matters for ICE.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    LocalCandidate(Candidate),
    RemoteCandidate(Candidate),
    CandidateError(CandidateError),
    IceState(IceConnectionState),
    ConnectionState(ConnectionState),
    GatheringState(GatheringState),
    /// `setConfiguration` (or the RTCStats dump's `create`).
    Config(IceConfig),
    /// `selectedcandidatepairchange`, where a writer logs it (the value is kept as given).
    SelectedPairChange(String),
    Close,
}

/// What an event name means, whatever Chrome version wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    LocalCandidate,
    RemoteCandidate,
    CandidateError,
    IceState,
    ConnectionState,
    GatheringState,
    Config,
    SelectedPair,
    Close,
}

fn kind_of(event: &str) -> Option<Kind> {
    let lower = event.to_ascii_lowercase();
    let name = lower.strip_prefix("on").unwrap_or(&lower);
    Some(match name {
        "icecandidate" => Kind::LocalCandidate,
        "addicecandidate" => Kind::RemoteCandidate,
        "icecandidateerror" => Kind::CandidateError,
        "iceconnectionstatechange" => Kind::IceState,
        "connectionstatechange" => Kind::ConnectionState,
        "icegatheringstatechange" => Kind::GatheringState,
        "setconfiguration" | "create" => Kind::Config,
        "selectedcandidatepairchange" => Kind::SelectedPair,
        "close" => Kind::Close,
        _ => return None,
    })
}

/// An ICE log entry whose value is not what any Chrome writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable;

/// Read one log entry. `Ok(None)`: not an ICE entry; `Err(Unreadable)`: an ICE entry whose value
/// is not what any Chrome writes (counted by the caller).
pub fn interpret(
    event: &str,
    value: &Value,
    at: Option<EventTime>,
) -> Result<Option<Update>, Unreadable> {
    let Some(kind) = kind_of(event) else {
        return Ok(None);
    };
    let value = normalise(value);
    let text = value.as_str().unwrap_or("");
    let update = match kind {
        Kind::LocalCandidate => {
            Update::LocalCandidate(candidate_event(&value, at).ok_or(Unreadable)?)
        }
        Kind::RemoteCandidate => {
            Update::RemoteCandidate(candidate_event(&value, at).ok_or(Unreadable)?)
        }
        Kind::CandidateError => {
            Update::CandidateError(candidate_error(&value, at).ok_or(Unreadable)?)
        }
        Kind::IceState => Update::IceState(IceConnectionState::parse(text)),
        Kind::ConnectionState => Update::ConnectionState(ConnectionState::parse(text)),
        Kind::GatheringState => Update::GatheringState(GatheringState::parse(text)),
        Kind::Config => Update::Config(parse_config(&value)),
        Kind::SelectedPair => Update::SelectedPairChange(match &value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Kind::Close => Update::Close,
    };
    Ok(Some(update))
}

/// A string holding a JSON object (`{"...`) becomes the object; other strings stay text.
fn normalise(value: &Value) -> Value {
    if let Value::String(s) = value {
        let t = s.trim_start();
        if t.starts_with('{') {
            if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(t) {
                return v;
            }
        }
    }
    value.clone()
}

/// `{"candidate": "candidate:...", "url": ..., "relayProtocol": ...}` or the text form
/// `sdpMid: 0, sdpMLineIndex: 0, candidate: candidate:..., url: ..., relayProtocol: udp`.
fn candidate_event(value: &Value, at: Option<EventTime>) -> Option<Candidate> {
    let (line, url, relay) = match value {
        Value::Object(o) => (
            o.get("candidate")?.as_str()?.to_string(),
            o.get("url").and_then(Value::as_str).map(str::to_string),
            o.get("relayProtocol")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        Value::String(s) => (
            text_part(s, "candidate")?,
            text_part(s, "url"),
            text_part(s, "relayProtocol"),
        ),
        _ => return None,
    };
    let mut c = parse_candidate_line(&line)?;
    c.url = url.filter(|u| !u.is_empty());
    if let Some(r) = relay.filter(|r| !r.is_empty()) {
        c.relay_protocol = Some(RelayProtocol::parse(&r));
    }
    c.seen_at = at;
    Some(c)
}

/// The value of `key: ` in a `key: value, key: value` text (values have no `, `).
fn text_part(s: &str, key: &str) -> Option<String> {
    s.split(", ")
        .find_map(|part| part.trim().strip_prefix(key)?.strip_prefix(": "))
        .map(|v| v.trim().to_string())
}

/// An SDP candidate attribute (RFC 8839): `candidate:<foundation> <component> <transport>
/// <priority> <address> <port> typ <type> [raddr <a> rport <p>] [tcptype ...] ...`.
pub fn parse_candidate_line(line: &str) -> Option<Candidate> {
    let line = line.trim();
    let line = line.strip_prefix("a=").unwrap_or(line);
    let body = line.strip_prefix("candidate:")?;
    let fields: Vec<&str> = body.split_whitespace().collect();
    let protocol = TransportProtocol::parse(fields.get(2)?);
    let address = (*fields.get(4)?).to_string();
    let port = fields.get(5)?.parse().ok()?;
    let named = |name: &str| {
        fields
            .iter()
            .position(|f| f.eq_ignore_ascii_case(name))
            .and_then(|i| fields.get(i + 1))
            .map(|v| v.to_string())
    };
    Some(Candidate {
        candidate_type: CandidateType::parse(&named("typ")?),
        protocol: Some(protocol),
        address,
        port,
        relay_protocol: None,
        url: None,
        related_address: named("raddr"),
        related_port: named("rport").and_then(|p| p.parse().ok()),
        network_type: None,
        seen_at: None,
        stats_id: None,
    })
}

/// `{"url","address","port","host_candidate","error_text","error_code"}` or the text form with
/// one `key: value` per line.
fn candidate_error(value: &Value, at: Option<EventTime>) -> Option<CandidateError> {
    let field = |key: &str| -> Option<String> {
        match value {
            Value::Object(o) => match o.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            },
            Value::String(s) => s
                .lines()
                .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(": "))
                .map(|v| v.trim().to_string()),
            _ => None,
        }
    };
    let code = field("error_code")?.parse().ok()?;
    // Chrome hides the host address (`0.0.0.x`) unless the page may see local addresses; the
    // port stays. Older text values may carry only `host_candidate: address:port`.
    let host = field("host_candidate");
    let address = field("address").or_else(|| {
        host.as_deref()
            .and_then(|h| h.rsplit_once(':'))
            .map(|(a, _)| a.to_string())
    });
    let port = field("port").and_then(|p| p.parse().ok()).or_else(|| {
        host.as_deref()
            .and_then(|h| h.rsplit_once(':'))
            .and_then(|(_, p)| p.parse().ok())
    });
    Some(CandidateError {
        at,
        url: field("url").unwrap_or_default(),
        address: address.filter(|a| !a.is_empty()),
        port,
        code,
        text: field("error_text").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    #[test]
    fn candidates_in_every_form() {
        let json = s(
            r#"{"sdpMid":"0","sdpMLineIndex":0,"candidate":"candidate:1 1 udp 50339839 198.51.100.10 26122 typ relay raddr 203.0.113.10 rport 34471 generation 0","url":"turn:198.51.100.10:3478?transport=udp","relayProtocol":"udp"}"#,
        );
        let text = s("sdpMid: 0, sdpMLineIndex: 0, candidate: candidate:1 1 udp 50339839 198.51.100.10 26122 typ relay raddr 203.0.113.10 rport 34471 generation 0, url: turn:198.51.100.10:3478?transport=udp, relayProtocol: udp");
        for (name, v) in [("onicecandidate", json), ("icecandidate", text)] {
            let Ok(Some(Update::LocalCandidate(c))) = interpret(name, &v, None) else {
                panic!("{name}")
            };
            assert_eq!(c.candidate_type, CandidateType::Relay);
            assert_eq!((c.address.as_str(), c.port), ("198.51.100.10", 26122));
            assert_eq!(c.relay_protocol, Some(RelayProtocol::Udp));
            assert_eq!(c.related_address.as_deref(), Some("203.0.113.10"));
            assert_eq!(
                c.url.as_deref(),
                Some("turn:198.51.100.10:3478?transport=udp")
            );
        }
        let old = s("sdpMid: audio, sdpMLineIndex: 0, candidate: a=candidate:2 1 udp 2122260223 192.168.1.10 54400 typ host generation 0\r\n");
        let Ok(Some(Update::LocalCandidate(c))) = interpret("onIceCandidate", &old, None) else {
            panic!()
        };
        assert_eq!(c.candidate_type, CandidateType::Host);
        assert_eq!(c.port, 54400);
    }

    #[test]
    fn candidate_errors_text_and_json() {
        let text = s("url: turn:198.51.100.10:3478?transport=udp\naddress: 192.168.1.x\nport: 48114\nhost_candidate: 192.168.1.x:48114\nerror_text: TURN allocate request timed out.\nerror_code: 701");
        let json = s(
            r#"{"url":"turn:198.51.100.10:3478?transport=udp","address":"0.0.0.x","port":48114,"host_candidate":"0.0.0.x:48114","error_text":"Unauthorized.","error_code":401}"#,
        );
        let Ok(Some(Update::CandidateError(e))) = interpret("icecandidateerror", &text, None)
        else {
            panic!()
        };
        assert_eq!((e.code, e.port), (701, Some(48114)));
        assert!(e.is_turn());
        let Ok(Some(Update::CandidateError(e))) = interpret("onicecandidateerror", &json, None)
        else {
            panic!()
        };
        assert_eq!((e.code, e.text.as_str()), (401, "Unauthorized."));
        assert_eq!(e.address.as_deref(), Some("0.0.0.x"));
    }

    #[test]
    fn states_bare_quoted_and_legacy() {
        for (name, v) in [
            ("oniceconnectionstatechange", "\"failed\""),
            ("iceconnectionstatechange", "failed"),
            ("iceConnectionStateChange", "ICEConnectionStateFailed"),
        ] {
            assert_eq!(
                interpret(name, &s(v), None),
                Ok(Some(Update::IceState(IceConnectionState::Failed))),
                "{name} {v}"
            );
        }
        assert_eq!(interpret("createOffer", &s("{}"), None), Ok(None));
        assert_eq!(
            interpret("onicecandidate", &s("garbage"), None),
            Err(Unreadable)
        );
    }
}
