//! Expressway-E diagnostic bundles end to end (`fixtures/bundles/`, made by
//! `lab/make-bundles.py` from the deployment lab's captures): a case given as the bundle gives
//! the verdict of the same case given as plain captures, plus what only the bundle holds (the
//! server profile from its xconf, the log's media routes, the interface of each capture); the
//! evidence names the rotated piece and its own frame; an incomplete bundle says so; CMS event
//! logs are linked to the packets they follow; `batch` takes a case folder whole.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use turnscope::flow::Credential;
use turnscope::{analyze, AnalyzeOptions, Input, Report};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn deploy(setting: &str, scenario: &str) -> PathBuf {
    root().join("fixtures/deploy").join(setting).join(scenario)
}

fn bundle(name: &str) -> PathBuf {
    root().join("fixtures/bundles").join(name)
}

/// The lab's settings as the fixtures were made with them: `deploy-lab.sh` defaults, then
/// `alt.env` for the alt setting (the tests read them instead of repeating them).
fn lab(setting: &str) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    let script = std::fs::read_to_string(root().join("lab/deploy-lab.sh")).expect("deploy-lab.sh");
    for part in script.split([';', '\n']) {
        let part = part.trim();
        // NAME=${NAME:-default}
        let Some((name, rest)) = part.split_once("=${") else {
            continue;
        };
        let Some(default) = rest
            .strip_prefix(name)
            .and_then(|r| r.strip_prefix(":-"))
            .and_then(|r| r.split('}').next())
        else {
            continue;
        };
        v.insert(name.to_string(), default.to_string());
    }
    if setting == "alt" {
        let env = std::fs::read_to_string(root().join("lab/alt.env")).expect("alt.env");
        for line in env.lines().filter(|l| !l.starts_with('#')) {
            if let Some((name, value)) = line.split_once('=') {
                v.insert(name.to_string(), value.trim_matches('\'').to_string());
            }
        }
    }
    v
}

fn credential(setting: &str) -> Credential {
    let s = lab(setting);
    format!("{}:{}", s["TURN_USER"], s["TURN_PASS"])
        .parse()
        .expect("credential")
}

fn opts(setting: &str) -> AnalyzeOptions {
    AnalyzeOptions {
        credentials: vec![credential(setting)],
        ..AnalyzeOptions::default()
    }
}

fn ids(r: &Report) -> BTreeSet<String> {
    r.findings.iter().map(|f| f.id.to_string()).collect()
}

/// The ids `expect.txt` says must be raised.
fn expected(setting: &str, scenario: &str) -> Vec<String> {
    let text =
        std::fs::read_to_string(deploy(setting, scenario).join("expect.txt")).expect("expect");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains(':'))
        .map(str::to_string)
        .collect()
}

/// The case as plain captures: the guest's, the CMS's, and the Expressway-E's two NICs.
fn plain(setting: &str, scenario: &str) -> Report {
    let d = deploy(setting, scenario);
    let inputs: Vec<Input> = ["guest.pcap", "cms.pcap", "expe-lan1.pcap", "expe-lan2.pcap"]
        .iter()
        .map(|f| Input::path(d.join(f)))
        .collect();
    analyze(&inputs, &opts(setting))
}

/// The same case with the Expressway-E's side as its diagnostic bundle.
fn bundled(setting: &str, scenario: &str, file: &str, extra: &[PathBuf]) -> Report {
    let d = deploy(setting, scenario);
    let mut inputs = vec![
        Input::path(d.join("guest.pcap")),
        Input::path(d.join("cms.pcap")),
        Input::path(bundle(file)),
    ];
    inputs.extend(extra.iter().map(Input::path));
    analyze(&inputs, &opts(setting))
}

const CASES: [(&str, &str, &str); 6] = [
    (
        "default",
        "cms-bad-password",
        "default-cms-bad-password.tar.gz",
    ),
    (
        "default",
        "int-3478-blocked",
        "default-int-3478-blocked.tar.gz",
    ),
    ("default", "capacity-508", "default-capacity-508.tar.gz"),
    (
        "default",
        "relay-blocked-in",
        "default-relay-blocked-in-nested.tar.gz",
    ),
    ("alt", "int-3478-blocked", "alt-int-3478-blocked.tar.gz"),
    ("alt", "ok-udp", "alt-ok-udp.tar.gz"),
];

#[test]
fn each_bundle_gives_the_verdict_of_its_plain_captures_and_of_the_lab() {
    let mut failures = Vec::new();
    for (setting, scenario, file) in CASES {
        let b = bundled(setting, scenario, file, &[]);
        assert!(b.errors.is_empty(), "{file}: {:?}", b.errors);
        let (plain_ids, bundle_ids) = (ids(&plain(setting, scenario)), ids(&b));
        // The bundle knows more than the plain per-NIC files: its captures are the server's
        // (an empty one too: nothing reached that interface), its xconf gives the TURN port.
        // It may only add what the lab expects, and drop only what the lab does not.
        let want = expected(setting, scenario);
        let wanted = |id: &str| want.iter().any(|w| w == id);
        for id in &bundle_ids {
            if !plain_ids.contains(id) && !wanted(id) {
                failures.push(format!("{file}: {id} raised, not by the plain captures"));
            }
        }
        for id in &plain_ids {
            if !bundle_ids.contains(id) && wanted(id) {
                failures.push(format!("{file}: {id} of the plain captures missing"));
            }
        }
        for w in &want {
            if !bundle_ids.contains(w.as_str()) {
                failures.push(format!("{file}: expect.txt's {w} missing: {bundle_ids:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_expressway_tcpdumps_are_server_captures_named_by_interface() {
    let r = bundled(
        "default",
        "int-3478-blocked",
        "default-int-3478-blocked.tar.gz",
        &[],
    );
    let lab = lab("default");
    let expe: Vec<_> = r
        .captures
        .iter()
        .filter(|c| c.interface.is_some())
        .collect();
    assert_eq!(expe.len(), 2, "{:?}", r.captures);
    for c in &expe {
        assert_eq!(c.role, turnscope::flow::Role::Server, "{}", c.path);
    }
    let lan1 = expe[0].interface.as_deref().unwrap_or_default();
    assert!(lan1.contains("eth0 = LAN1"), "{lan1}");
    assert!(lan1.contains(&lab["LAN1_IP"]), "{lan1}");
    let lan2 = expe[1].interface.as_deref().unwrap_or_default();
    assert!(lan2.contains("eth1 = LAN2"), "{lan2}");
    assert!(
        lan2.contains(&format!("static NAT {}", lab["PUB_IP"])),
        "{lan2}"
    );
    // Nothing reached LAN1: the CMS's Allocates were blocked before it.
    assert!(r.has("reach.inbound_blocked"), "{:?}", ids(&r));
}

fn profile_item<'r>(r: &'r Report, item: &str) -> Vec<&'r turnscope::report::ProfileItem> {
    r.server_profile.iter().filter(|p| p.item == item).collect()
}

#[test]
fn the_server_profile_comes_from_the_xconf_and_flags_override_it() {
    let alt = lab("alt");
    let r = bundled("alt", "ok-udp", "alt-ok-udp.tar.gz", &[]);
    let port = profile_item(&r, "turn_port");
    assert_eq!(port.len(), 1, "{:?}", r.server_profile);
    assert_eq!(port[0].value, alt["TPORT"]);
    assert!(port[0].used);
    assert!(
        port[0].source.contains("xconf_dump_") && port[0].source.contains(".xml line"),
        "{}",
        port[0].source
    );
    let range = format!("{}-{}", alt["RELAY_MIN"], alt["RELAY_MAX"]);
    let relay = profile_item(&r, "relay_ports");
    assert_eq!(relay[0].value, range);
    assert_eq!(
        format!(
            "{}-{}",
            r.correlation.relay_ports.0, r.correlation.relay_ports.1
        ),
        range,
        "the case is configured with the xconf's range"
    );
    assert_eq!(profile_item(&r, "realm")[0].value, alt["REALM"]);
    assert!(profile_item(&r, "version")[0]
        .source
        .contains("xstat_dump_"));
    assert!(profile_item(&r, "static_nat")[0]
        .value
        .contains(&alt["PUB_IP"]));

    // A flag wins, and the report says which value was used.
    let mut o = opts("alt");
    let flag_port: u16 = alt["TPORT"].parse::<u16>().expect("port") + 1;
    o.turn_port = Some(flag_port);
    let d = deploy("alt", "ok-udp");
    let r = analyze(
        &[
            Input::path(d.join("guest.pcap")),
            Input::path(bundle("alt-ok-udp.tar.gz")),
        ],
        &o,
    );
    let port = profile_item(&r, "turn_port");
    assert_eq!(port.len(), 2, "{:?}", r.server_profile);
    assert_eq!(
        (port[0].source.as_str(), port[0].used),
        ("--turn-port", true)
    );
    assert_eq!(port[0].value, flag_port.to_string());
    assert!(!port[1].used, "the xconf's port is listed, not used");
}

#[test]
fn evidence_names_the_piece_and_its_own_frame() {
    let b = bundled("alt", "ok-udp", "alt-ok-udp.tar.gz", &[]);
    let p = plain("alt", "ok-udp");
    let lan2 = b
        .captures
        .iter()
        .find(|c| c.path.contains("eth1_diagnostic_logging_tcpdump*"))
        .expect("eth1 joined from its pieces");
    assert_eq!(lan2.pieces.len(), 2, "{:?}", lan2.pieces);
    let first_piece_frames = lan2.pieces[0].frames;
    assert!(lan2.pieces[1].path.contains("tcpdump01"));
    // The same transaction in the plain expe-lan2.pcap and in the bundle: frame N of the
    // plain file is frame N of piece 00, or N - (frames of piece 00) of piece 01.
    let mut checked = 0;
    for t in &p.transactions {
        let Some(plain_seen) = t
            .seen
            .iter()
            .find(|s| s.capture.ends_with("expe-lan2.pcap"))
        else {
            continue;
        };
        let bt = b
            .transactions
            .iter()
            .find(|x| x.txid == t.txid)
            .unwrap_or_else(|| panic!("transaction {} not in the bundle case", t.txid));
        let seen = bt
            .seen
            .iter()
            .find(|s| s.capture.contains("eth1_diagnostic_logging_tcpdump"))
            .expect("seen on eth1");
        let frame = plain_seen.request_frames[0];
        let (piece, own) = if frame > first_piece_frames {
            ("tcpdump01", frame - first_piece_frames)
        } else {
            ("tcpdump00", frame)
        };
        assert!(
            seen.capture.contains(piece),
            "{} for frame {frame}",
            seen.capture
        );
        assert_eq!(seen.request_frames[0], own, "{}", t.txid);
        checked += usize::from(piece == "tcpdump01");
    }
    assert!(checked > 0, "no transaction of the second piece compared");
}

#[test]
fn an_incomplete_bundle_is_said_plainly_and_odd_documents_are_not_read() {
    let r = bundled(
        "default",
        "guest-bad-password",
        "default-guest-bad-password-incomplete.tar.gz",
        &[],
    );
    let notes: Vec<&String> = r.bundles.iter().flat_map(|b| b.notes.iter()).collect();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("rotation pieces 01 missing") && n.contains("eth1_")),
        "{notes:?}"
    );
    // The status dump in a shape not known is listed as not read; the case goes on.
    let not_read = r
        .errors
        .iter()
        .find(|e| e.path.contains("xstat_dump_"))
        .unwrap_or_else(|| panic!("{:?}", r.errors));
    assert!(not_read.reason.contains("not read"), "{}", not_read.reason);
    for want in expected("default", "guest-bad-password") {
        assert!(r.has(&want), "{want}: {:?}", ids(&r));
    }
}

#[test]
fn the_log_of_the_bundle_is_linked_to_the_allocations_it_routes() {
    let r = bundled(
        "default",
        "capacity-508",
        "default-capacity-508.tar.gz",
        &[],
    );
    let routes: Vec<_> = r
        .logs
        .links
        .iter()
        .filter(|l| l.name == "media_route_allocation")
        .collect();
    assert!(!routes.is_empty(), "{:?}", r.logs.links);
    for l in &routes {
        assert!(l.document.contains("loggingsnapshot_"), "{}", l.document);
        assert!(l.packets[0].capture.contains("eth1_diagnostic_logging"));
    }
    // The log says UTC: its clock is placed without a zone guess.
    let clock = r
        .logs
        .clocks
        .iter()
        .find(|c| c.document.contains("loggingsnapshot_"))
        .expect("clock");
    assert_eq!(clock.zone, "UTC");
    assert!(clock.offset_ms.abs() < 1000.0, "{}", clock.offset_ms);
    // The alarm and the marker are events of the log.
    let kinds: Vec<String> = r
        .logs
        .events
        .iter()
        .map(|e| serde_json::to_value(&e.what).expect("json")["kind"].to_string())
        .collect();
    assert!(kinds.iter().any(|k| k.contains("alarm")), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.contains("marker")), "{kinds:?}");
}

#[test]
fn cms_log_lines_are_linked_to_the_rejected_or_unanswered_allocates() {
    for (setting, scenario, log, link) in [
        (
            "default",
            "cms-bad-password",
            "cms-events.tsv",
            "ice_failure_unauthorized",
        ),
        (
            "default",
            "cms-bad-password",
            "cms-syslog.log",
            "ice_failure_unauthorized",
        ),
        (
            "default",
            "int-3478-blocked",
            "cms-events.tsv",
            "ice_failure_relay_timeout",
        ),
        (
            "alt",
            "int-3478-blocked",
            "cms-syslog.log",
            "ice_failure_relay_timeout",
        ),
    ] {
        let log_path = bundle(&format!("{setting}-{scenario}-{log}"));
        let r = bundled(
            setting,
            scenario,
            &format!("{setting}-{scenario}.tar.gz"),
            &[log_path],
        );
        let what = format!("{setting}/{scenario} + {log}");
        let l = r
            .logs
            .links
            .iter()
            .find(|l| l.name == link)
            .unwrap_or_else(|| panic!("{what}: no {link} in {:?}", r.logs.links));
        assert!(l.document.ends_with(log), "{what}: {}", l.document);
        assert!(!l.packets.is_empty(), "{what}");
        let f = r
            .finding("log.ice_failure")
            .unwrap_or_else(|| panic!("{what}"));
        assert!(!f.evidence.is_empty(), "{what}: {}", f.summary);
        assert!(f.summary.contains("call 7"), "{what}: {}", f.summary);
        // The CMS writes local time: the zone is estimated from the linked packets, a whole
        // number of quarter hours (make-bundles.py wrote it one hour ahead of UTC).
        let clock = r
            .logs
            .clocks
            .iter()
            .find(|c| c.document.ends_with(log))
            .unwrap_or_else(|| panic!("{what}: no clock"));
        assert_eq!(clock.zone, "+01:00", "{what}");
        // The same verdict as without the log, plus the log's finding.
        let mut without = ids(&bundled(
            setting,
            scenario,
            &format!("{setting}-{scenario}.tar.gz"),
            &[],
        ));
        without.insert("log.ice_failure".to_string());
        assert_eq!(ids(&r), without, "{what}");
    }
}

#[test]
fn a_cluster_is_one_bundle_per_peer() {
    let d = deploy("default", "cluster-bad-password");
    let peers = bundle("default-cluster-bad-password");
    let r = analyze(
        &[
            Input::path(d.join("guest.pcap")),
            Input::path(d.join("cms.pcap")),
            Input::path(peers.join("peer1.tar.gz")),
            Input::path(peers.join("peer2.tar.gz")),
        ],
        &opts("default"),
    );
    assert_eq!(r.bundles.len(), 2);
    for want in expected("default", "cluster-bad-password") {
        assert!(r.has(&want), "{want}: {:?}", ids(&r));
    }
    assert!(!r.has("auth.password_mismatch"), "{:?}", ids(&r));
    // Each peer's interfaces are named with its own addresses (from its own xconf).
    let lab = lab("default");
    let labels: Vec<&str> = r
        .captures
        .iter()
        .filter_map(|c| c.interface.as_deref())
        .collect();
    assert!(
        labels.iter().any(|l| l.contains(&lab["LAN2_IP_B"])),
        "{labels:?}"
    );
}

fn batch(cases: &Path, out: &Path) -> serde_json::Value {
    let status = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("batch")
        .arg(cases)
        .arg("--out")
        .arg(out)
        .args(["--credential", "turnuser:cisco"])
        .output()
        .expect("run turnscope");
    assert!(status.status.success(), "{status:?}");
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn batch_takes_the_case_folder_whole_and_says_why_a_case_failed() {
    let tmp = std::env::temp_dir().join(format!("turnscope-bundle-batch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let cases = tmp.join("cases");
    let case = cases.join("ticket-7");
    std::fs::create_dir_all(&case).expect("mkdir");
    let d = deploy("default", "cms-bad-password");
    let copy = |from: &Path, to: &str| std::fs::copy(from, case.join(to)).expect("copy");
    copy(&d.join("cms.pcap"), "cms.pcap");
    copy(
        &bundle("default-cms-bad-password.tar.gz"),
        "diagnostic_log.tar.gz",
    );
    copy(
        &bundle("default-cms-bad-password-cms-events.tsv"),
        "eventlog.txt",
    );
    // A case that cannot be read: a bundle cut short, alone in its folder.
    let broken = cases.join("ticket-8");
    std::fs::create_dir_all(&broken).expect("mkdir");
    let whole = std::fs::read(bundle("default-cms-bad-password.tar.gz")).expect("read");
    std::fs::write(broken.join("diag.tar.gz"), &whole[..whole.len() / 3]).expect("write");

    let summary = batch(&cases, &tmp.join("out"));
    let list = summary["cases"].as_array().expect("cases");
    assert_eq!(list.len(), 2, "{summary}");
    let t7 = &list[0];
    assert_eq!(t7["case"], "cases/ticket-7", "{summary}");
    assert_eq!(
        t7["inputs"], 3,
        "capture, bundle and CMS log are one case: {summary}"
    );
    let found: Vec<&str> = t7["findings"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(found.contains(&"log.ice_failure"), "{found:?}");
    assert!(found.contains(&"auth.password_mismatch"), "{found:?}");
    let t8 = &list[1];
    assert_eq!(t8["verdict"], "unusable", "{summary}");
    let why = t8["errors"][0]["reason"].as_str().expect("reason");
    assert!(why.contains("corrupt"), "{why}");
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn packets_log_lines_and_cms_lines_are_on_one_timeline() {
    use turnscope::timeline::EntryKind;
    let r = bundled(
        "default",
        "cms-bad-password",
        "default-cms-bad-password.tar.gz",
        &[bundle("default-cms-bad-password-cms-events.tsv")],
    );
    let t = &r.timeline;
    assert!(
        t.windows(2).all(|w| w[0].ts <= w[1].ts),
        "time order: {t:#?}"
    );
    let kinds: BTreeSet<String> = t.iter().map(|e| format!("{:?}", e.kind)).collect();
    assert_eq!(kinds.len(), 2, "packets and log lines: {kinds:?}");
    // The 401s are one run of transactions, not one entry each.
    let rejected: Vec<_> = t
        .iter()
        .filter(|e| e.kind == EntryKind::Packets && e.what.contains("error 401"))
        .collect();
    assert!(!rejected.is_empty(), "{t:#?}");
    let runs_count: usize = rejected.iter().map(|e| e.count).sum();
    let txs_401 = r
        .transactions
        .iter()
        .filter(|x| x.outcome == "error 401")
        .count();
    assert_eq!(runs_count, txs_401, "every 401 transaction in a run");
    assert!(
        rejected.len() < txs_401,
        "summarised: {} runs",
        rejected.len()
    );
    // The challenges and the rejections of the retries with credentials are told apart.
    let with_credentials = |e: &turnscope::timeline::Entry| e.what.contains("with credentials");
    assert!(
        rejected.iter().any(|e| with_credentials(e)),
        "{rejected:#?}"
    );
    assert!(
        rejected.iter().any(|e| !with_credentials(e)),
        "{rejected:#?}"
    );
    // The CMS line (local time, no zone) is placed by the estimated clock, after the 401s
    // and within seconds of the last one.
    let ice = t
        .iter()
        .find(|e| e.what.contains("ICE failure 4"))
        .unwrap_or_else(|| panic!("{t:#?}"));
    assert_eq!(ice.kind, EntryKind::Log);
    assert!(ice.estimated);
    let last_401 = rejected
        .iter()
        .map(|e| e.until.unwrap_or(e.ts))
        .fold(f64::MIN, f64::max);
    assert!(
        ice.ts >= last_401 && ice.ts - last_401 < 10.0,
        "{} vs {last_401}",
        ice.ts
    );
    // The Expressway's own log (UTC) is on it too, not estimated.
    let marker = t
        .iter()
        .find(|e| e.source.contains("loggingsnapshot_") && e.what.contains("guest joins"))
        .unwrap_or_else(|| panic!("{t:#?}"));
    assert!(!marker.estimated);
    // And every text format shows it.
    let md = turnscope::report::markdown(&r);
    assert!(md.contains("timeline (UTC"), "{md}");
    assert!(md.contains("ICE failure 4"), "{md}");
    let table = turnscope::report::table(&r);
    assert!(table.contains("timeline (UTC"), "{table}");
    assert!(table.contains("bundle") || r.bundles.iter().all(|b| b.notes.is_empty()));
    let json: serde_json::Value = serde_json::from_str(&r.json()).expect("json");
    assert_eq!(
        json["timeline"].as_array().map(Vec::len),
        Some(t.len()),
        "JSON timeline[]"
    );
}

#[test]
fn the_parallel_json_writer_gives_serdes_layout_with_the_new_fields() {
    let r = bundled(
        "default",
        "cms-bad-password",
        "default-cms-bad-password.tar.gz",
        &[bundle("default-cms-bad-password-cms-syslog.log")],
    );
    assert!(!r.timeline.is_empty() && !r.server_profile.is_empty() && !r.bundles.is_empty());
    assert_eq!(
        r.json(),
        serde_json::to_string_pretty(&r).expect("serde"),
        "Report::json must write every field serde writes"
    );
}

/// A log started after a restart holds only the log: the bundle of loggingsnapshot, xconf and
/// xstat without tcpdump is read (profile, log events), says plainly that it holds no capture,
/// and with the CMS event log of the same case gives the verdict class the logs imply.
#[test]
fn a_log_only_bundle_says_it_holds_no_capture_and_the_logs_still_speak() {
    let log_only = bundle("default-cms-bad-password-log-only.tar.gz");
    let alone = analyze(&[Input::path(&log_only)], &AnalyzeOptions::default());
    assert!(alone.captures.is_empty());
    assert!(alone.errors.is_empty(), "{:?}", alone.errors);
    let no_capture = alone.finding("input.no_capture").expect("input.no_capture");
    assert!(no_capture.summary.contains("holds no capture"));
    assert!(
        no_capture.summary.contains("xconf"),
        "{}",
        no_capture.summary
    );
    assert_eq!(
        turnscope::report::Verdict::of(&alone).lead.map(|f| &*f.id),
        Some("input.no_capture"),
        "nothing else to say: the verdict names the missing packets"
    );
    let note = &alone.bundles[0].notes;
    assert!(
        note.iter().any(|n| n.contains("no capture in it")),
        "{note:?}"
    );
    // The profile from its xconf, with the lab's values.
    let s = lab("default");
    let port = profile_item(&alone, "turn_port");
    assert_eq!(port[0].value, s["TPORT"]);
    assert!(!profile_item(&alone, "relay_ports").is_empty());
    assert!(!alone.logs.events.is_empty(), "the log's lines are events");
    let text = turnscope::report::table(&alone);
    assert!(text.contains("input.no_capture"), "{text}");

    // With the CMS event log of the same case: its ICE failure is the verdict's class.
    let with_cms = analyze(
        &[
            Input::path(&log_only),
            Input::path(bundle("default-cms-bad-password-cms-events.tsv")),
        ],
        &AnalyzeOptions::default(),
    );
    let lead = turnscope::report::Verdict::of(&with_cms)
        .lead
        .expect("a lead");
    assert_eq!(lead.id, "log.ice_failure");
    assert_eq!(lead.severity, turnscope::Severity::Error);
    assert!(with_cms.has("input.no_capture"));

    // The command line treats it as a case (exit 0), not as an unusable input.
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("analyze")
        .arg(&log_only)
        .output()
        .expect("run turnscope");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
