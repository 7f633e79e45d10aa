//! Property tests: whatever the bytes, the WebRTC dump parser, the model's accessors and the
//! verdicts never panic; a dump cut or damaged anywhere gives a typed error or a model, and
//! ICE log entries of any shape are read or counted as unreadable, never lost silently.

use std::io::Read;
use std::path::Path;

use proptest::prelude::*;
use turnscope::sources::webrtc;

/// A real dump, decompressed (the lab's ok-udp, Chromium 156).
fn real_text(file: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/dumps/lab/guest-bad-password")
        .join(file);
    let gz = std::fs::read(path).expect("lab dump");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

const ICE_EVENTS: &[&str] = &[
    "onicecandidate",
    "icecandidate",
    "onIceCandidate",
    "addIceCandidate",
    "onicecandidateerror",
    "icecandidateerror",
    "oniceconnectionstatechange",
    "iceConnectionStateChange",
    "onconnectionstatechange",
    "onicegatheringstatechange",
    "setConfiguration",
    "close",
];

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
        "candidate:[0-9 a-z.:]{0,60}".prop_map(serde_json::Value::from),
        "(url|error_code|port|address): [0-9a-z.:]{0,20}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("candidate".to_string()),
                    Just("url".to_string()),
                    Just("error_code".to_string()),
                    Just("iceServers".to_string()),
                    Just("urls".to_string()),
                    "[a-z]{1,8}",
                ],
                inner,
                0..4
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        webrtc::fuzzing::webrtc_dump(&bytes);
    }

    #[test]
    fn damaged_real_dumps_never_panic(
        which in 0usize..2,
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
    ) {
        let mut text = real_text(["webrtc_internals_dump.gz", "rtcstats_dump.gz"][which]);
        for (at, byte) in flips {
            let i = at.index(text.len());
            text[i] = byte;
        }
        text.truncate(cut.index(text.len() + 1));
        webrtc::fuzzing::webrtc_dump(&text);
    }

    #[test]
    fn ice_entries_of_any_shape_are_read_or_counted(
        entries in prop::collection::vec((prop::sample::select(ICE_EVENTS), json_value()), 0..20),
    ) {
        let log: Vec<serde_json::Value> = entries
            .iter()
            .map(|(kind, value)| serde_json::json!({"type": kind, "value": value, "time": "x"}))
            .collect();
        let dump = serde_json::json!({"PeerConnections": {"1-1": {"updateLog": log}}});
        let bytes = serde_json::to_vec(&dump).expect("json");
        let parsed = webrtc::parse(&bytes).expect("a well-formed dump parses");
        let pc = &parsed.peer_connections[0];
        let kept = pc.local_candidates.len() + pc.remote_candidates.len()
            + pc.candidate_errors.len() + pc.ice_states.len() + pc.connection_states.len()
            + pc.gathering_states.len();
        // Every entry is an ICE entry: kept, a configuration or close, or counted unreadable.
        let config_or_close = entries
            .iter()
            .filter(|(kind, _)| matches!(*kind, "setConfiguration" | "close"))
            .count();
        prop_assert_eq!(
            (kept + config_or_close) as u64 + parsed.dropped.unreadable,
            entries.len() as u64
        );
        webrtc::fuzzing::webrtc_dump(&bytes);
    }
}
