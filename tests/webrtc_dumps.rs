//! The WebRTC dump parser on every committed dump: the deployment lab's real ones (Chromium
//! 156: both files its webrtc-internals page writes, `webrtc_internals_dump.gz` and
//! `rtcstats_dump.gz`) and the hand-written samples of older formats (fixtures/README.md,
//! "WebRTC dumps"), then the verdicts each scenario must give.

use std::path::{Path, PathBuf};

use turnscope::sources::webrtc::verdict::NoRelayCause;
use turnscope::sources::webrtc::{
    self, CandidateType, DumpFormat, EventTime, IceConnectionState, IceTransportPolicy,
    RelayProtocol, Verdict, VerdictKind, WebrtcDump,
};

const LAB: &[&str] = &[
    "ok-udp",
    "ok-tls",
    "guest-bad-password",
    "ext-3478-blocked",
    "relay-blocked-in",
    "return-blocked",
    "relay-blocked-out",
];
const CHROME_FILES: &[&str] = &["webrtc_internals_dump.gz", "rtcstats_dump.gz"];

fn dumps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dumps")
}

fn load(rel: &str) -> WebrtcDump {
    let bytes = std::fs::read(dumps_dir().join(rel)).expect(rel);
    webrtc::parse(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The ids of the verdicts, in order.
fn ids(verdicts: &[Verdict]) -> Vec<&'static str> {
    verdicts.iter().map(Verdict::proposed_id).collect()
}

/// Both of Chrome's files of one lab scenario, which must say the same.
fn lab(scenario: &str) -> Vec<WebrtcDump> {
    CHROME_FILES
        .iter()
        .map(|f| load(&format!("lab/{scenario}/{f}")))
        .collect()
}

#[test]
fn every_committed_dump_parses_completely() {
    let mut n = 0;
    for dir in ["lab", "handwritten"] {
        for entry in std::fs::read_dir(dumps_dir().join(dir)).expect("dumps folder") {
            let path = entry.expect("entry").path();
            let files: Vec<PathBuf> = if path.is_dir() {
                CHROME_FILES.iter().map(|f| path.join(f)).collect()
            } else {
                vec![path]
            };
            for f in files {
                let bytes = std::fs::read(&f).expect("dump");
                let dump = webrtc::parse(&bytes).unwrap_or_else(|e| panic!("{f:?}: {e}"));
                assert_eq!(dump.peer_connections.len(), 1, "{f:?}");
                assert_eq!(dump.dropped, Default::default(), "{f:?}: nothing dropped");
                n += 1;
            }
        }
    }
    assert_eq!(n, LAB.len() * CHROME_FILES.len() + 2);
}

#[test]
fn both_chrome_files_give_the_same_model() {
    for s in LAB {
        let [internals, rtcstats] = &lab(s)[..] else {
            panic!("{s}")
        };
        assert_eq!(internals.format, DumpFormat::WebrtcInternals);
        assert_eq!(rtcstats.format, DumpFormat::RtcStats);
        assert!(internals.gzipped && rtcstats.gzipped);
        let (a, b) = (
            &internals.peer_connections[0],
            &rtcstats.peer_connections[0],
        );
        assert_eq!(a.config, b.config, "{s}");
        assert_eq!(a.local_candidates, b.local_candidates, "{s}");
        assert_eq!(a.candidate_errors, b.candidate_errors, "{s}");
        assert_eq!(a.ice_states, b.ice_states, "{s}");
        assert_eq!(a.selected_pair_id, b.selected_pair_id, "{s}");
        assert_eq!(
            webrtc::verdicts(internals),
            webrtc::verdicts(rtcstats),
            "{s}"
        );
        // Times are absolute and within the lab run's minute.
        let r = internals.time_range().expect("time range");
        assert!(r.last.micros - r.first.micros < 60_000_000, "{s}");
        assert!(r.first.to_string().starts_with("2026-11-29T1"), "{s}");
    }
}

#[test]
fn ok_udp_relay_gathered_and_connected() {
    for d in lab("ok-udp") {
        let pc = &d.peer_connections[0];
        let turn: Vec<_> = pc.config.turn_servers().collect();
        assert_eq!(turn.len(), 1);
        assert_eq!(
            (turn[0].host.as_str(), turn[0].port_or_default()),
            ("198.51.100.10", 3478)
        );
        assert_eq!(turn[0].relay_protocol(), Some(RelayProtocol::Udp));
        let relays: Vec<_> = d.relay_candidates().collect();
        assert_eq!(relays.len(), 1);
        assert_eq!(relays[0].address, "198.51.100.10");
        assert!((24000..=29999).contains(&relays[0].port));
        assert_eq!(relays[0].relay_protocol, Some(RelayProtocol::Udp));
        assert_eq!(relays[0].related_address.as_deref(), Some("203.0.113.10"));
        assert!(pc.candidate_errors.is_empty());
        // host (IPv4 UDP, and the ICE-TCP/IPv6 ones the stats list), srflx, relay.
        let counts = pc.local_candidate_counts();
        assert_eq!((counts.srflx, counts.relay, counts.prflx), (1, 1, 0));
        assert!(counts.host >= 1);
        assert!(!pc.local_candidates.iter().any(|c| c.is_mdns()));
        assert_eq!(
            pc.ice_states.last().map(|s| &s.state),
            Some(&IceConnectionState::Connected)
        );
        let pair = pc.selected_pair().expect("selected pair");
        assert!(pair.nominated == Some(true) && pair.responses_received > Some(0));
        assert_eq!(ids(&webrtc::verdicts(&d)), ["browser.selected_pair"]);
        assert!(webrtc::verdicts(&d)[0].to_string().contains("srflx-relay"));
    }
}

#[test]
fn ok_tls_relay_only_over_tls() {
    for d in lab("ok-tls") {
        let pc = &d.peer_connections[0];
        assert_eq!(pc.config.transport_policy, Some(IceTransportPolicy::Relay));
        assert!(pc
            .local_candidates
            .iter()
            .all(|c| c.candidate_type == CandidateType::Relay
                && c.relay_protocol == Some(RelayProtocol::Tls)));
        let v = webrtc::verdicts(&d);
        assert_eq!(ids(&v), ["browser.relay_tcp_only", "browser.selected_pair"]);
        assert!(matches!(
            &v[1].kind,
            VerdictKind::SelectedPair {
                local: CandidateType::Relay,
                remote: CandidateType::Relay,
                local_relay_protocol: Some(RelayProtocol::Tls),
                ..
            }
        ));
    }
}

#[test]
fn bad_password_is_401_and_no_relay_though_the_call_connects() {
    for d in lab("guest-bad-password") {
        let pc = &d.peer_connections[0];
        assert_eq!(d.relay_candidates().count(), 0);
        let e = &pc.candidate_errors[0];
        assert_eq!((e.code, e.text.as_str()), (401, "Unauthorized."));
        assert_eq!(e.url, "turn:198.51.100.10:3478?transport=udp");
        assert!(matches!(e.at, Some(EventTime::Utc(_))));
        let v = webrtc::verdicts(&d);
        assert_eq!(
            ids(&v),
            [
                "browser.turn_error",
                "browser.no_relay_candidate",
                "browser.selected_pair"
            ]
        );
        assert!(matches!(
            &v[1].kind,
            VerdictKind::NoRelayCandidate {
                cause: NoRelayCause::Credentials { code: 401 },
                ..
            }
        ));
    }
}

#[test]
fn blocked_3478_is_701_timeout_and_ice_failure() {
    for d in lab("ext-3478-blocked") {
        let pc = &d.peer_connections[0];
        let codes: Vec<(u16, bool)> = pc
            .candidate_errors
            .iter()
            .map(|e| (e.code, e.is_turn()))
            .collect();
        assert_eq!(codes, [(701, false), (701, true)]);
        let v = webrtc::verdicts(&d);
        assert_eq!(
            ids(&v),
            [
                "browser.turn_error",
                "browser.no_relay_candidate",
                "browser.ice_failed"
            ]
        );
        assert!(matches!(
            &v[1].kind,
            VerdictKind::NoRelayCandidate {
                cause: NoRelayCause::Unreachable,
                ..
            }
        ));
        assert!(matches!(
            &v[2].kind,
            VerdictKind::IceFailed {
                ever_connected: false,
                ..
            }
        ));
    }
}

#[test]
fn relay_blocked_in_fails_with_checks_unanswered() {
    for d in lab("relay-blocked-in") {
        let pc = &d.peer_connections[0];
        // STUN only (no TURN configured): no relay verdict, ICE failed.
        assert_eq!(pc.config.turn_servers().count(), 0);
        assert_eq!(ids(&webrtc::verdicts(&d)), ["browser.ice_failed"]);
        // The checks toward the CMS relay went unanswered.
        let to_relay = pc
            .pairs
            .iter()
            .find(|p| p.remote.as_ref().map(|c| &c.candidate_type) == Some(&CandidateType::Relay))
            .expect("pair toward the CMS relay");
        assert!(to_relay.requests_sent > Some(10) && to_relay.responses_received == Some(0));
        assert_eq!(pc.selected_pair_id, None);
    }
}

#[test]
fn chrome72_text_configuration_and_legacy_stats() {
    let d = load("handwritten/m72-legacy-stats.txt");
    let pc = &d.peer_connections[0];
    assert_eq!(pc.config.servers.len(), 2);
    assert_eq!(
        pc.config.servers[1].relay_protocol(),
        Some(RelayProtocol::Tcp)
    );
    assert_eq!(pc.local_candidates.len(), 3);
    assert_eq!(pc.remote_candidates.len(), 1);
    // Locale times stay as written; no absolute range.
    assert_eq!(
        pc.ice_states[1].at,
        Some(EventTime::LocalText("1/15/2020, 10:26:45 AM".into()))
    );
    assert_eq!(
        pc.ice_states.len(),
        2,
        "legacyIceConnectionStateChange is not doubled"
    );
    // Legacy stats without statsType: the active connection is the selected pair.
    let pair = pc.selected_pair().expect("googActiveConnection");
    assert_eq!(pair.requests_sent, Some(7));
    assert_eq!(pair.bytes_received, Some(88012));
    let v = webrtc::verdicts(&d);
    assert_eq!(ids(&v), ["browser.selected_pair"]);
    assert!(v[0].to_string().contains("relay-relay"), "{}", v[0]);
}

#[test]
fn chrome99_text_errors_and_long_stats_ids() {
    let d = load("handwritten/m99-text-errors.txt");
    let pc = &d.peer_connections[0];
    assert_eq!(pc.config.transport_policy, Some(IceTransportPolicy::Relay));
    assert_eq!(pc.candidate_errors.len(), 2);
    assert!(pc
        .candidate_errors
        .iter()
        .all(|e| e.code == 401 && e.port == Some(61022)));
    assert_eq!(
        pc.remote_candidates[0].stats_id.as_deref(),
        Some("RTCIceCandidate_Yx2LmQ9a")
    );
    assert_eq!(
        pc.time_range.map(|r| r.first.to_string()).as_deref(),
        Some("2022-03-15T13:05:19.000Z")
    );
    let v = webrtc::verdicts(&d);
    assert_eq!(
        ids(&v),
        [
            "browser.turn_error",
            "browser.turn_error",
            "browser.no_relay_candidate",
            "browser.ice_failed"
        ]
    );
}

#[test]
fn no_credential_reaches_the_model() {
    // The lab's page gets the TURN password in its query (`pass=`), which the dump's `url`
    // shows: the model names the page without its query, and holds no credential anywhere.
    for s in LAB {
        for d in lab(s) {
            let json = serde_json::to_string(&d).expect("json");
            assert!(
                !json.contains("cisco") && !json.contains("wrongpass"),
                "{s}"
            );
            let url = d.peer_connections[0].url.as_deref();
            assert_eq!(url, Some("http://127.0.0.1:8088/call.html"), "{s}");
        }
    }
}
