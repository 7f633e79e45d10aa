//! `turnscope replay` (the built binary) on the real lab captures in `fixtures/lab/`: coturn's
//! answers are predicted by the core configured with the lab's credentials, and each kind of
//! misconfiguration gives a concrete difference.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn replay(setting: &str, scenario: &str, extra: &[&str]) -> Value {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lab")
        .join(setting)
        .join(scenario);
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("replay")
        .arg(dir.join("client.pcap"))
        .arg(dir.join("server.pcap"))
        .args(extra)
        .args(["--format", "json"])
        .output()
        .expect("run turnscope");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn counts(v: &Value) -> (u64, u64, u64) {
    (
        v["requests"].as_u64().unwrap(),
        v["agree"].as_u64().unwrap(),
        v["differ"].as_u64().unwrap(),
    )
}

const DEFAULT: &[&str] = &["--credential", "turnuser:cisco"];
const ALT: &[&str] = &["--credential", "alice:s3cret!"];

#[test]
fn coturn_is_predicted_in_every_answered_scenario() {
    for (setting, cred) in [("default", DEFAULT), ("alt", ALT)] {
        for s in [
            "ok-udp",
            "ok-tcp",
            "bad-password",
            "unknown-user",
            "stale-nonce",
            "webrtc-ok",
            "webrtc-tcp",
            "webrtc-bad-password",
            "webrtc-direct",
            "webrtc-relay-blocked",
            "blocked-return",
        ] {
            let v = replay(setting, s, cred);
            let (n, agree, differ) = counts(&v);
            assert!(n > 0, "{setting}/{s}");
            assert_eq!((agree, differ), (n, 0), "{setting}/{s}: {v:#}");
        }
    }
}

#[test]
fn quota_needs_the_servers_quota() {
    let v = replay("default", "quota", DEFAULT);
    assert_eq!(counts(&v).2, 1);
    let d = &v["differences"][0];
    assert_eq!(d["captured"], "error 486");
    assert_eq!(d["predicted"], "success");
    assert!(d["why"].as_str().unwrap().contains("quota"));
    let mut args = DEFAULT.to_vec();
    args.extend(["--user-quota", "1"]);
    let v = replay("default", "quota", &args);
    assert_eq!(counts(&v).2, 0);
}

#[test]
fn unanswered_requests_are_differences() {
    for s in ["blocked-3478", "no-server"] {
        let v = replay("default", s, DEFAULT);
        let d = &v["differences"][0];
        assert_eq!(d["captured"], "none", "{s}");
        assert_eq!(d["predicted"], "error 401", "{s}");
        assert!(d["why"]
            .as_str()
            .unwrap()
            .contains("no answer was captured"));
    }
}

#[test]
fn a_server_holding_another_password() {
    // The client in bad-password used "wrongpass"; suppose that is what the client should use:
    // then the captured server's stored password differs.
    let v = replay(
        "default",
        "bad-password",
        &["--credential", "turnuser:wrongpass"],
    );
    let d = &v["differences"][0];
    assert_eq!(d["captured"], "error 401");
    assert_eq!(d["predicted"], "success");
    assert!(
        d["why"].as_str().unwrap().contains("its stored password"),
        "{d}"
    );
    // And the expressway profile answers the real mismatch with 431, which coturn did not.
    let mut args = DEFAULT.to_vec();
    args.extend(["--profile", "expressway"]);
    let v = replay("default", "bad-password", &args);
    let d = &v["differences"][0];
    assert_eq!(
        (d["captured"].as_str(), d["predicted"].as_str()),
        (Some("error 401"), Some("error 431"))
    );
    assert!(d["why"].as_str().unwrap().contains("--profile rfc"), "{d}");
}

#[test]
fn the_client_password_differs() {
    let v = replay("alt", "ok-udp", &["--credential", "alice:not-it"]);
    let d = &v["differences"][0];
    assert_eq!(
        (d["captured"].as_str(), d["predicted"].as_str()),
        (Some("success"), Some("error 401"))
    );
    assert!(d["why"]
        .as_str()
        .unwrap()
        .contains("does not verify with the given password"));
}

#[test]
fn table_format_and_bad_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lab/default/ok-udp");
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["replay", "--credential", "turnuser:cisco"])
        .arg(dir.join("client.pcap"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("requests replayed"));
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args([
            "replay",
            "--credential",
            "turnuser:cisco",
            "/nonexistent.pcap",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.pcap"));
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(["replay", "x.pcap", "--credential", "nocolon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
