//! The words of the browser findings: summaries of what the dump and the join show, and
//! remedies in the words of the Cisco guides (`../shared/seeds/`).

use crate::flow::{AllocOutcome, Case};
use crate::sources::webrtc::verdict::NoRelayCause;
use crate::sources::webrtc::{self, CandidateError, IceConnectionState, RelayProtocol, Verdict};

use super::join::{
    DumpJoin, GuestAllocation, RelayLeg, RelayLegVerdict, SelectedRelay, TurnVerdict,
};
use super::Subject;

const CREDENTIALS: &str = "Check the TURN credentials configured on CMS (API turnServers object, username and password) and make sure they match the Expressway-E local authentication database (Configuration > Traversal > TURN, \"Configure TURN client credentials on local database\"). CMS logs this as \"ICE failure 4 (unauthorized - check credentials)\" or \"ICE failure; relay candidate creation timeout\".";
const NOT_REACHED: &str = "Open TCP and UDP 3478 (TURN requests) and TCP 443 on the firewall from the public internet to the Expressway-E public IP address, and check that TURN services are On with the TURN option key on every Expressway-E used as TURN server.";

pub(super) const REMEDY_NOT_CONNECTED: &str = "The dump was taken before ICE finished: create the dump right after the failed join attempt (chrome://webrtc-internals or edge://webrtc-internals, \"Create Dump\"), as the guide asks.";
pub(super) const REMEDY_ICE_FAILED: &str = "Connected but no media (ICE failure): open the UDP media port range 24000-29999 to and from the Expressway-E public address on the external firewall; if the guest's Binding requests reach the Expressway-E and it answers, allow the outbound UDP on the external firewall; X12.5.2 and earlier need NAT reflection on the external firewall. Take a Wireshark capture on the client and the Expressway-E tcpdump (Maintenance > Diagnostics > Diagnostic logging, \"Take tcpdump while logging\") to see where.";
pub(super) const REMEDY_DISCONNECTED: &str = "The media path was lost mid-call (firewall or NAT idle timeout, route change, or the far end went away): check UDP idle timeouts on the firewalls between the guest and the Expressway-E relay ports 24000-29999; see ice.consent_lost.";
pub(super) const REMEDY_TCP_ONLY: &str = "TURN over UDP did not work for this guest: open UDP 3478 from the public internet to the Expressway-E public IP address. When TURN is used on port 443, UDP 3478 must still be open on the external firewall for media.";
pub(super) const REMEDY_SELECTED: &str =
    "Nothing to fix on this connection: ICE selected this pair.";
pub(super) const REMEDY_RESPONSE_LOST: &str = "The Expressway-E answers the guest's TURN requests but the answers never reach the browser: allow the return traffic from the Expressway-E TURN port (UDP/TCP 3478, TCP 443) back to the internet on the external firewall, and check for asymmetric routing.";

pub(super) fn ice_state_name(s: &IceConnectionState) -> String {
    let name = match s {
        IceConnectionState::New => "new",
        IceConnectionState::Checking => "checking",
        IceConnectionState::Connected => "connected",
        IceConnectionState::Completed => "completed",
        IceConnectionState::Disconnected => "disconnected",
        IceConnectionState::Failed => "failed",
        IceConnectionState::Closed => "closed",
        IceConnectionState::Other(o) => o,
    };
    name.to_string()
}

pub(super) fn relay_protocol_name(p: &RelayProtocol) -> &str {
    match p {
        RelayProtocol::Udp => "UDP",
        RelayProtocol::Tcp => "TCP",
        RelayProtocol::Tls => "TLS",
        RelayProtocol::Other(o) => o,
    }
}

/// `turn:… answered 401 "Unauthorized." at T (from local port P)`.
pub(super) fn candidate_error_text(e: &CandidateError) -> String {
    format!(
        "{} gave error {} \"{}\"{}{}",
        e.url,
        e.code,
        e.text,
        e.at.as_ref().map_or(String::new(), |t| format!(" at {t}")),
        e.port
            .map_or(String::new(), |p| format!(" (from local port {p})"))
    )
}

pub(super) fn errors_text(errors: &[&CandidateError]) -> String {
    let parts: Vec<String> = errors
        .iter()
        .take(4)
        .map(|e| {
            format!(
                "{} \"{}\"{}",
                e.code,
                e.text,
                e.at.as_ref().map_or(String::new(), |t| format!(" at {t}"))
            )
        })
        .collect();
    parts.join(", ")
}

pub(super) fn remedy_for_code(code: u16, url: &str) -> String {
    match code {
        401 | 431 | 441 => CREDENTIALS.to_string(),
        701 => remedy_never_arrived(url),
        486 => "Allocation Quota Reached: too many allocations for this TURN user; release them or raise the quota.".into(),
        508 => "Insufficient Capacity: the Expressway-E has no TURN relay left (the TURN option key, e.g. \"1800 TURN Relays\", or the relay port range is exhausted).".into(),
        _ => "See the TURN findings of the Expressway-E capture for this request.".into(),
    }
}

/// Open the port the URL names (UDP/TCP 3478, TCP 443 for TURN over TLS) toward the
/// Expressway-E public address.
pub(super) fn remedy_never_arrived(url: &str) -> String {
    let server = webrtc::config::parse_ice_url(url);
    let proto = match server.relay_protocol() {
        Some(RelayProtocol::Udp) => "UDP",
        _ => "TCP",
    };
    format!(
        "The guest's TURN requests do not reach the Expressway-E: open {proto} {} (TURN requests) on the external firewall from the public internet to the Expressway-E public IP address ({}); the guide asks for TCP and UDP 3478 and TCP 443. Check that TURN services are On with the TURN option key.",
        server.port_or_default(),
        server.host
    )
}

pub(super) fn no_relay_cause_text(cause: &NoRelayCause) -> String {
    match cause {
        NoRelayCause::Credentials { code } => {
            format!("the TURN server rejected the credentials ({code})")
        }
        NoRelayCause::Unreachable => "701, no answer: the TURN server was not reached".into(),
        NoRelayCause::ServerRefused { code } => format!("the TURN server refused ({code})"),
        NoRelayCause::NoErrorReported => "no candidate error was logged".into(),
    }
}

pub(super) fn remedy_no_relay(cause: &NoRelayCause) -> String {
    match cause {
        NoRelayCause::Credentials { .. } => CREDENTIALS.into(),
        NoRelayCause::Unreachable => NOT_REACHED.into(),
        NoRelayCause::ServerRefused { code } => remedy_for_code(*code, ""),
        NoRelayCause::NoErrorReported => format!(
            "{NOT_REACHED} Create the dump right after the failed join attempt, so that it shows the candidate errors."
        ),
    }
}

/// The verdict's text without its peer connection prefix.
pub(super) fn verdict_body(v: &Verdict) -> String {
    let full = v.to_string();
    let prefix = format!("peer connection {}: ", v.peer_connection);
    full.strip_prefix(&prefix).unwrap_or(&full).to_string()
}

/// `203.0.113.10:48114 -> 172.16.245.61:3478/udp in expe.pcap frame 12 (matched by …)`.
pub(super) fn alloc_text(case: &Case, g: &GuestAllocation<'_>) -> String {
    let at = case
        .captures
        .get(g.cap)
        .map(|c| c.frame_ref(g.frame))
        .map_or(String::new(), |r| {
            format!(" in {} frame {}", r.capture, r.frame)
        });
    format!(
        "the guest's allocation {} -> {}/{}{at}, {}, matched {}",
        g.alloc.client,
        g.alloc.server,
        g.alloc.transport.as_str(),
        g.alloc.outcome.label(),
        g.matched_by.describe()
    )
}

/// What the join found for one TURN URL, for the browser.turn_error summary.
pub(super) fn turn_join_text(case: &Case, j: &DumpJoin<'_>, v: &TurnVerdict<'_>) -> String {
    let said = match v {
        TurnVerdict::Refused { code, alloc } => format!(
            "joined with the Expressway-E capture: {} (the server's {code} is the one the browser reports; see the auth findings)",
            alloc_text(case, alloc)
        ),
        TurnVerdict::Unanswered { alloc } => format!(
            "joined with the Expressway-E capture: {}: the requests arrived and were never answered",
            alloc_text(case, alloc)
        ),
        TurnVerdict::AnswerLost { alloc, .. } => format!(
            "joined with the Expressway-E capture: {}: answered, but the answers never reached the browser (reach.response_lost)",
            alloc_text(case, alloc)
        ),
        TurnVerdict::NeverArrived => format!(
            "joined with the Expressway-E capture: {}",
            no_request_text(case, j)
        ),
        TurnVerdict::Unattributed { outside_clients } => format!(
            "the Expressway-E capture shows TURN requests from {outside_clients} outside address(es) at that time; the dump names no public address of the guest to tell whether one is this guest's"
        ),
        TurnVerdict::NotCovered if j.window.is_none() => {
            "the dump's times are local without a zone (an older Chrome): its attempt cannot be placed against the Expressway-E capture".to_string()
        }
        TurnVerdict::NotCovered => {
            "no Expressway-E capture covers the time of the dump".to_string()
        }
    };
    format!("{said} ({})", j.clock.describe())
}

/// "no TURN request from 203.0.113.10 arrived between T1 and T2".
pub(super) fn no_request_text(case: &Case, j: &DumpJoin<'_>) -> String {
    let from = if j.guest_ips.is_empty() {
        "from any outside address (the dump names no public address of the guest)".to_string()
    } else {
        let ips: Vec<String> = j.guest_ips.iter().map(ToString::to_string).collect();
        format!("from the guest ({})", ips.join(", "))
    };
    let when = j.window.map_or(String::new(), |(a, b)| {
        format!(" between {} and {}", utc_text(a), utc_text(b))
    });
    let caps: Vec<&str> = case
        .with_role(crate::flow::Role::Server)
        .into_iter()
        .map(|c| case.name(c))
        .take(3)
        .collect();
    format!(
        "the Expressway-E capture ({}) shows no TURN request {from}{when}",
        caps.join(", ")
    )
}

/// Nanoseconds since the epoch as ISO 8601 UTC.
fn utc_text(ns: i64) -> String {
    webrtc::UtcTime {
        micros: ns.div_euclid(1000),
    }
    .to_string()
}

/// The guest's end of a failed pair toward a relay, `?` when the dump does not say.
fn local_endpoint(leg: &RelayLeg<'_>) -> String {
    leg.pair
        .local
        .as_ref()
        .map_or("?".to_string(), |c| c.endpoint())
}

/// The failed pairs toward relays and what the capture shows at each, for browser.ice_failed.
pub(super) fn relay_legs_text(case: &Case, j: &DumpJoin<'_>) -> String {
    let parts: Vec<String> = j
        .relay_legs
        .iter()
        .take(4)
        .map(|leg| {
            let local = local_endpoint(leg);
            format!(
                "{} checks from {local} to the relay {}{}: {}",
                leg.pair.requests_sent.unwrap_or(0),
                leg.relay,
                owner_text(case, leg),
                leg_verdict_text(leg.verdict)
            )
        })
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "joined with the Expressway-E capture: {} ({})",
        parts.join("; "),
        j.clock.describe()
    )
}

fn owner_text(case: &Case, leg: &RelayLeg<'_>) -> String {
    leg.owner.map_or(String::new(), |(cap, a)| {
        format!(" (the allocation of {} in {})", a.client, case.name(cap))
    })
}

fn leg_verdict_text(v: RelayLegVerdict) -> &'static str {
    match v {
        RelayLegVerdict::NeverArrived => {
            "none reached the relay (the capture shows the relay's own traffic, none of these checks)"
        }
        RelayLegVerdict::ReturnBlocked => {
            "they reached the relay and it sent answers back toward the guest, who never got them"
        }
        RelayLegVerdict::ArrivedNotAnswered => {
            "they reached the relay; no answer left it (the relay passes nothing from an address its client gave no permission for, or the far end did not answer)"
        }
        RelayLegVerdict::GuestUnknown => {
            "the dump names no public address of the guest to find its checks at the relay"
        }
        RelayLegVerdict::NotCovered => "no Expressway-E capture shows that relay port",
    }
}

pub(super) fn relay_leg_summary(
    case: &Case,
    s: &Subject<'_, '_>,
    j: &DumpJoin<'_>,
    leg: &RelayLeg<'_>,
) -> String {
    let local = local_endpoint(leg);
    format!(
        "{} connectivity checks from the guest ({local}, {}) to the relay address {}{} got no response: {} ({})",
        leg.pair.requests_sent.unwrap_or(0),
        s.prefix(),
        leg.relay,
        owner_text(case, leg),
        leg_verdict_text(leg.verdict),
        j.clock.describe()
    )
}

pub(super) fn remedy_relay_leg(v: RelayLegVerdict, range: (u16, u16)) -> String {
    match v {
        RelayLegVerdict::ReturnBlocked => crate::diagnose::relay::remedy_return(range),
        _ => crate::diagnose::relay::remedy_inbound(range),
    }
}

/// The selected pair's relay as the capture shows it.
pub(super) fn selected_relay_text(case: &Case, j: &DumpJoin<'_>, r: &SelectedRelay<'_>) -> String {
    let a = r.alloc;
    let healthy = matches!(a.outcome, AllocOutcome::Success { .. })
        && a.out().packets > 0
        && a.inbound().packets > 0;
    format!(
        "joined with the Expressway-E capture: the {} relay {} is the allocation of {} in {}{} ({})",
        if r.local { "guest's" } else { "far end's" },
        r.relay,
        a.client,
        case.name(r.cap),
        if healthy {
            format!(
                ", relayed data both ways ({} packets out, {} in)",
                a.out().packets,
                a.inbound().packets
            )
        } else {
            String::new()
        },
        j.clock.describe()
    )
}

/// What the join adds to "no relay candidate": where the guest's attempt ended.
pub(super) fn no_relay_join_note(j: &DumpJoin<'_>) -> Option<String> {
    j.turn.iter().find_map(|t| match &t.verdict {
        TurnVerdict::Refused { code, .. } => Some(format!(
            "the Expressway-E capture shows the guest's allocation refused with {code}"
        )),
        TurnVerdict::AnswerLost { .. } => Some(
            "yet the Expressway-E capture shows it answering the guest's Allocate: the answers were lost on the way back (see reach.response_lost)".to_string(),
        ),
        TurnVerdict::Unanswered { .. } => Some(
            "the Expressway-E capture shows the guest's Allocate arriving and never answered".to_string(),
        ),
        TurnVerdict::NeverArrived => Some(
            "the Expressway-E capture shows none of the guest's TURN requests (see reach.inbound_blocked)".to_string(),
        ),
        TurnVerdict::Unattributed { .. } | TurnVerdict::NotCovered => None,
    })
}
