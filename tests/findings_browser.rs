//! browser.*: chrome://webrtc-internals dumps as findings, alone and joined with the
//! Expressway-E capture (no guest capture): every lab scenario of `fixtures/dumps/lab`, both of
//! Chrome's files, and the hand-written dumps of older formats.

use std::path::{Path, PathBuf};

use turnscope::{analyze, AnalyzeOptions, Input, Report};

const CHROME_FILES: &[&str] = &["webrtc_internals_dump.gz", "rtcstats_dump.gz"];

fn dumps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dumps")
}

fn run(files: &[PathBuf]) -> Report {
    let inputs: Vec<Input> = files.iter().map(Input::path).collect();
    analyze(&inputs, &AnalyzeOptions::default())
}

/// The dump (one of Chrome's files) with the Expressway-E capture of the same run.
fn joined(scenario: &str, file: &str) -> Report {
    let dir = dumps().join("lab").join(scenario);
    run(&[dir.join(file), dir.join("expe-any.pcap")])
}

fn dump_alone(scenario: &str, file: &str) -> Report {
    run(&[dumps().join("lab").join(scenario).join(file)])
}

/// What each lab scenario must give as dump + Expressway-E capture: ids present, ids absent
/// (`any-error`: no error finding at all).
const JOINED: &[(&str, &[&str], &[&str])] = &[
    (
        "ok-udp",
        &["browser.selected_pair", "flow.healthy"],
        &["any-error", "browser.relay_tcp_only"],
    ),
    (
        "ok-tls",
        &["browser.selected_pair", "flow.healthy"],
        // TURN over TLS on 443 only was the plan: not a UDP failure.
        &["any-error", "browser.relay_tcp_only"],
    ),
    (
        "guest-bad-password",
        &[
            "browser.turn_error",
            "browser.no_relay_candidate",
            "auth.rejected",
            "browser.selected_pair",
        ],
        &[
            "reach.inbound_blocked",
            "reach.response_lost",
            "browser.ice_failed",
        ],
    ),
    (
        "ext-3478-blocked",
        &[
            "reach.inbound_blocked",
            "browser.turn_error",
            "browser.no_relay_candidate",
            "browser.ice_failed",
        ],
        &["reach.response_lost", "auth.rejected", "flow.healthy"],
    ),
    (
        "relay-blocked-in",
        &[
            "relay.unreachable",
            "browser.ice_failed",
            "ice.check_failed",
        ],
        &[
            "relay.return_blocked",
            "reach.inbound_blocked",
            "flow.healthy",
        ],
    ),
];

fn check(report: &Report, want: &[&str], absent: &[&str], what: &str) {
    let ids = report.ids();
    for id in want {
        assert!(report.has(id), "{what}: {id} missing from {ids:?}");
    }
    for id in absent {
        if *id == "any-error" {
            assert_eq!(
                report.error_findings().count(),
                0,
                "{what}: errors in {ids:?}"
            );
        } else {
            assert!(!report.has(id), "{what}: {id} unexpected in {ids:?}");
        }
    }
}

#[test]
fn every_lab_dump_with_the_expressway_capture_names_the_cause() {
    for (scenario, want, absent) in JOINED {
        for file in CHROME_FILES {
            let r = joined(scenario, file);
            check(&r, want, absent, &format!("{scenario} {file}"));
        }
    }
}

#[test]
fn blocked_3478_the_guests_requests_never_reached_the_expressway() {
    let r = joined("ext-3478-blocked", "webrtc_internals_dump.gz");
    let f = r.finding("reach.inbound_blocked").expect("inbound blocked");
    assert!(
        f.summary.contains("turn:198.51.100.10:3478?transport=udp")
            && f.summary.contains("701")
            && f.summary.contains("shows no TURN request"),
        "{}",
        f.summary
    );
    assert!(f.remedy.contains("UDP 3478"), "{}", f.remedy);
    // The evidence is the dump's error, with its URL, code and UTC time.
    let doc = &f.documents[0];
    assert!(doc.document.ends_with("webrtc_internals_dump.gz"));
    assert_eq!(doc.at.as_deref(), Some("2026-11-29T17:14:44.743Z"));
    assert!(doc.what.contains("701") && doc.what.contains("turn:198.51.100.10"));
}

#[test]
fn bad_password_is_attributed_to_the_guests_rejected_allocation() {
    for file in CHROME_FILES {
        let r = joined("guest-bad-password", file);
        let f = r.finding("browser.turn_error").expect("turn error");
        // Matched by the guest's srflx socket; the clock offset from the 401's time.
        assert!(
            f.summary.contains("203.0.113.10:48114")
                && f.summary.contains("error 401")
                && f.summary.contains("matched by the guest's public address")
                && f.summary.contains("1 matched event"),
            "{}",
            f.summary
        );
        // The capture's challenge and rejection frames are the finding's evidence.
        let frames: Vec<u32> = f.evidence.iter().map(|e| e.frame).collect();
        let auth = r.finding("auth.rejected").expect("auth");
        assert!(
            auth.evidence.iter().any(|e| frames.contains(&e.frame)),
            "{frames:?} vs {:?}",
            auth.evidence
        );
        let clock = r
            .logs
            .clocks
            .iter()
            .find(|c| c.document.ends_with(file))
            .expect("dump clock");
        assert!(clock.offset_ms.abs() < 1000.0, "{}", clock.offset_ms);
    }
}

#[test]
fn relay_blocked_in_names_the_relay_the_checks_never_reached() {
    let r = joined("relay-blocked-in", "rtcstats_dump.gz");
    let f = r.finding("relay.unreachable").expect("relay unreachable");
    assert!(
        f.summary.contains("198.51.100.10:26439") && f.summary.contains("none reached the relay"),
        "{}",
        f.summary
    );
    // The relay's allocation in the capture, and the dump's pair counters.
    assert!(f
        .evidence
        .iter()
        .any(|e| e.capture.ends_with("expe-any.pcap")));
    assert!(f.documents[0].what.contains("responses received"));
}

#[test]
fn healthy_call_names_the_relay_of_the_selected_pair() {
    let r = joined("ok-udp", "webrtc_internals_dump.gz");
    let f = r.finding("browser.selected_pair").expect("selected pair");
    assert!(
        f.summary
            .contains("relay 198.51.100.10:28847 is the allocation of 172.16.86.180:34734")
            && f.summary.contains("relayed data both ways"),
        "{}",
        f.summary
    );
}

/// The guest's 701 while the capture shows the server answering its Allocate from the same
/// local port (the dump shows no public address: host candidates only): the answers were lost.
#[test]
fn return_blocked_the_answers_never_reached_the_browser() {
    for file in CHROME_FILES {
        let r = joined("return-blocked", file);
        // One reach.response_lost (the capture shows the guest retrying after the answers);
        // the dump's 701 is attributed to that allocation.
        let lost: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.id == "reach.response_lost")
            .collect();
        assert_eq!(lost.len(), 1, "{:?}", r.ids());
        let f = r.finding("browser.turn_error").expect("turn error");
        assert!(
            f.summary.contains("matched by the guest's local port")
                && f.summary.contains("answers never reached the browser"),
            "{}",
            f.summary
        );
        assert!(
            f.evidence.iter().any(|e| lost[0].evidence.contains(e)),
            "the allocation's frames: {:?} vs {:?}",
            f.evidence,
            lost[0].evidence
        );
    }
}

/// The guest's checks reached the CMS relay, the answers left it toward the guest and the dump
/// shows none received.
#[test]
fn relay_blocked_out_the_answers_left_the_relay_and_never_arrived() {
    for file in CHROME_FILES {
        let r = joined("relay-blocked-out", file);
        let f = r.finding("relay.return_blocked").expect("return blocked");
        assert!(
            f.summary.contains("sent answers back toward the guest"),
            "{}",
            f.summary
        );
        assert!(f.remedy.contains("outbound UDP"), "{}", f.remedy);
        assert!(f.evidence.len() >= 2, "{:?}", f.evidence);
    }
}

/// Without the capture the dump still says what it shows, and nothing joined.
#[test]
fn a_dump_alone_gives_the_browser_findings_only() {
    let cases: &[(&str, &[&str])] = &[
        ("ok-udp", &["browser.selected_pair"]),
        ("ok-tls", &["browser.selected_pair"]),
        (
            "guest-bad-password",
            &[
                "browser.turn_error",
                "browser.no_relay_candidate",
                "browser.selected_pair",
            ],
        ),
        (
            "ext-3478-blocked",
            &[
                "browser.turn_error",
                "browser.no_relay_candidate",
                "browser.ice_failed",
            ],
        ),
        ("relay-blocked-in", &["browser.ice_failed"]),
        (
            "return-blocked",
            &[
                "browser.turn_error",
                "browser.no_relay_candidate",
                "browser.ice_failed",
            ],
        ),
        ("relay-blocked-out", &["browser.ice_failed"]),
    ];
    for (scenario, want) in cases {
        for file in CHROME_FILES {
            let r = dump_alone(scenario, file);
            let mut ids = r.ids();
            ids.sort_unstable();
            let mut want = want.to_vec();
            want.sort_unstable();
            assert_eq!(ids, want, "{scenario} {file}");
            assert!(r.findings.iter().all(|f| !f.summary.contains("joined")));
        }
    }
}

/// The join is what names the cause: the same dump with a capture of another run (other guests'
/// requests at that time, no public address of this guest in the dump) is not attributed.
#[test]
fn a_capture_of_another_guest_is_not_attributed() {
    let lab = dumps().join("lab");
    let r = run(&[
        lab.join("ext-3478-blocked/webrtc_internals_dump.gz"),
        lab.join("ok-udp/expe-any.pcap"),
    ]);
    assert!(!r.has("reach.inbound_blocked"), "{:?}", r.ids());
    let f = r.finding("browser.turn_error").expect("turn error");
    assert!(f.summary.contains("outside address"), "{}", f.summary);
}

#[test]
fn older_formats_give_their_findings() {
    let r = run(&[dumps().join("handwritten/m72-legacy-stats.txt")]);
    assert_eq!(r.ids(), ["browser.selected_pair"]);
    assert!(r.findings[0].summary.contains("relay-relay"));
    let r = run(&[dumps().join("handwritten/m99-text-errors.txt")]);
    let mut ids = r.ids();
    ids.sort_unstable();
    // A 401 on each of its two TURN URLs (UDP and TCP).
    assert_eq!(
        ids,
        [
            "browser.ice_failed",
            "browser.no_relay_candidate",
            "browser.turn_error",
            "browser.turn_error"
        ]
    );
    let f = r.finding("browser.no_relay_candidate").expect("no relay");
    assert!(f.remedy.contains("turnServers"), "{}", f.remedy);
}

#[test]
fn dump_events_are_on_the_timeline() {
    let r = joined("guest-bad-password", "rtcstats_dump.gz");
    let json = serde_json::to_value(&r.logs.events).expect("json");
    let events = json.as_array().expect("array");
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["what"]["kind"].as_str())
        .collect();
    for k in [
        "browser_candidate",
        "browser_candidate_error",
        "browser_ice_state",
        "browser_connection_state",
        "browser_selected_pair",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    // The 401 sits on the capture clock next to the rejected Allocate.
    let error = events
        .iter()
        .find(|e| e["what"]["kind"] == "browser_candidate_error")
        .expect("error event");
    let rejected = r
        .allocations
        .iter()
        .find(|a| a.outcome == "error 401")
        .expect("rejected allocation");
    let capture_ts = r
        .transactions
        .iter()
        .filter(|t| t.outcome == "error 401" && t.client == Some(rejected.client))
        .map(|t| t.ts)
        .next()
        .expect("401 transaction");
    let ts = error["ts"].as_f64().expect("ts");
    assert!((ts - capture_ts).abs() < 1.0, "{ts} vs {capture_ts}");
    assert_eq!(error["what"]["code"], 401);
}

#[test]
fn no_credential_in_any_output() {
    for (scenario, _, _) in JOINED {
        let r = joined(scenario, "webrtc_internals_dump.gz");
        let outputs = [
            r.json(),
            turnscope::report::table(&r),
            turnscope::report::markdown(&r),
            turnscope::report::html(&r),
        ];
        for out in outputs {
            assert!(
                !out.contains("wrongpass") && !out.contains("pass=") && !out.contains("cisco"),
                "{scenario}"
            );
        }
    }
}

fn tar_gz(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(enc);
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, &data[..]).expect("append");
    }
    tar.into_inner().expect("tar").finish().expect("gzip")
}

/// The usual support case: the guest's dump and the Expressway-E diagnostic bundle (its
/// tcpdump inside, read as a server-side capture).
#[test]
fn a_dump_with_the_expressway_bundle_names_the_cause() {
    let dir = dumps().join("lab/ext-3478-blocked");
    let pcap = std::fs::read(dir.join("expe-any.pcap")).expect("capture");
    let bundle = tar_gz(&[(
        "diagnostic_logging/eth0_diagnostic_logging_tcpdump00_vcse_2026-11-29_17-10-00.pcap",
        pcap,
    )]);
    let dump = std::fs::read(dir.join("rtcstats_dump.gz")).expect("dump");
    let inputs = [
        Input::bytes("expe_diag.tar.gz", bundle),
        Input::bytes("rtcstats_dump.gz", dump),
    ];
    let r = analyze(&inputs, &AnalyzeOptions::default());
    assert!(r.has("reach.inbound_blocked"), "{:?}", r.ids());
    let f = r.finding("reach.inbound_blocked").expect("inbound");
    assert!(f.summary.contains("expe_diag.tar.gz!"), "{}", f.summary);
}
