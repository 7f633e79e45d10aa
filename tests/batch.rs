//! `batch`: cases found by content under folders, analysed in parallel, one report each.

use std::path::Path;
use std::process::Command;

fn fixture(p: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/lab/default")
            .join(p),
    )
    .expect("fixture")
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

#[test]
fn batch_finds_folders_and_bundles_and_writes_reports() {
    let root = std::env::temp_dir().join(format!("turnscope-batch-{}", std::process::id()));
    let cases = root.join("cases");
    let out = root.join("out");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(cases.join("acme/healthy")).expect("mkdir");
    std::fs::create_dir_all(cases.join("globex")).expect("mkdir");
    // Names say nothing: cases are found by content.
    std::fs::write(
        cases.join("acme/healthy/a.bin"),
        fixture("ok-udp/client.pcap"),
    )
    .expect("write");
    std::fs::write(
        cases.join("acme/healthy/b.bin"),
        fixture("ok-udp/server.pcap"),
    )
    .expect("write");
    std::fs::write(cases.join("acme/notes.txt"), b"customer says it fails").expect("write");
    let bundle = tar_gz(&[
        (
            "diag/tcpdump/expe.pcap",
            fixture("bad-password/server.pcap"),
        ),
        ("diag/logs/status.xml", b"<status/>".to_vec()),
    ]);
    std::fs::write(cases.join("globex/diagnostic_log.tar.gz"), bundle).expect("write");

    let status = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("batch")
        .arg(&cases)
        .arg("--out")
        .arg(&out)
        .status()
        .expect("run turnscope");
    assert!(status.success());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    let list = summary["cases"].as_array().expect("cases");
    let names: Vec<&str> = list.iter().filter_map(|c| c["case"].as_str()).collect();
    assert_eq!(
        names,
        vec!["cases/acme/healthy", "cases/globex/diagnostic_log.tar.gz"]
    );
    assert_eq!(list[0]["verdict"], "info");
    assert!(list[0]["findings"]
        .as_array()
        .expect("ids")
        .iter()
        .any(|f| f == "flow.healthy"));
    assert_eq!(list[1]["verdict"], "error");
    assert!(list[1]["findings"]
        .as_array()
        .expect("ids")
        .iter()
        .any(|f| f == "auth.rejected"));
    for c in list {
        for r in c["reports"].as_array().expect("reports") {
            let p = out.join(r.as_str().expect("name"));
            assert!(p.is_file(), "{} written", p.display());
            if p.extension().is_some_and(|e| e == "json") {
                let text = std::fs::read_to_string(&p).expect("report");
                let report = turnscope::Report::from_json(&text).expect("a report");
                assert_eq!(report.json(), text, "{} reads back", p.display());
            }
        }
    }
    // The summary names its schema version and reads back into the library's type.
    assert_eq!(
        summary["schema_version"],
        serde_json::json!(turnscope::report::SCHEMA_VERSION)
    );
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary");
    let read: turnscope::batch::Summary = serde_json::from_str(&text).expect("a summary");
    assert_eq!(read.by_finding.get("auth.rejected"), Some(&1));
    assert_eq!(
        turnscope::escape::to_json_pretty(&read).expect("JSON"),
        text,
        "summary.json reads back"
    );
    let md = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    // Case names are escaped for Markdown (the underscore renders as itself).
    assert!(
        md.contains("| cases/globex/diagnostic\\_log.tar.gz | error |"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&root);
}

fn batch_summary(cases: &Path, out: &Path) -> serde_json::Value {
    let status = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("batch")
        .arg(cases)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run turnscope");
    assert!(status.status.code().is_some());
    serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn a_case_folder_is_one_case_and_unreadable_cases_say_why() {
    let root = std::env::temp_dir().join(format!("turnscope-batch-cases-{}", std::process::id()));
    let cases = root.join("cases");
    let _ = std::fs::remove_dir_all(&root);
    for d in ["ticket-1", "cluster", "broken"] {
        std::fs::create_dir_all(cases.join(d)).expect("mkdir");
    }
    // The usual case: the guest's capture beside the Expressway-E bundle.
    std::fs::write(
        cases.join("ticket-1/client.pcap"),
        fixture("bad-password/client.pcap"),
    )
    .expect("write");
    let expe = tar_gz(&[("tcpdump/expe.pcap", fixture("bad-password/server.pcap"))]);
    std::fs::write(cases.join("ticket-1/expe_diag.tar.gz"), &expe).expect("write");
    // A cluster: one bundle per peer, one case.
    std::fs::write(cases.join("cluster/peer1.tar.gz"), &expe).expect("write");
    let peer2 = tar_gz(&[("tcpdump/expe.pcap", fixture("ok-udp/server.pcap"))]);
    std::fs::write(cases.join("cluster/peer2.tar.gz"), peer2).expect("write");
    // A bundle that is not one: listed, with the reason.
    std::fs::write(
        cases.join("broken/diag.tar.gz"),
        [0x1f, 0x8b, 8, 0, 1, 2, 3],
    )
    .expect("write");
    // Bundles right in the folder given: one case each.
    std::fs::write(cases.join("acme.tar.gz"), &expe).expect("write");
    std::fs::write(cases.join("globex.tar.gz"), &expe).expect("write");

    let summary = batch_summary(&cases, &root.join("out"));
    let list = summary["cases"].as_array().expect("cases");
    let by_name = |n: &str| {
        list.iter()
            .find(|c| c["case"] == n)
            .unwrap_or_else(|| panic!("no case {n} in {summary}"))
    };
    assert_eq!(list.len(), 5, "{summary}");
    let t1 = by_name("cases/ticket-1");
    assert_eq!(t1["inputs"], 2);
    assert!(t1["findings"]
        .as_array()
        .expect("ids")
        .iter()
        .any(|f| f == "auth.rejected"));
    assert_eq!(by_name("cases/cluster")["inputs"], 2);
    by_name("cases/acme.tar.gz");
    by_name("cases/globex.tar.gz");
    let broken = by_name("cases/broken/diag.tar.gz");
    assert_eq!(broken["verdict"], "unusable");
    let why = broken["errors"][0]["reason"].as_str().expect("reason");
    assert!(why.contains("corrupt"), "{why}");
    let md = std::fs::read_to_string(root.join("out/summary.md")).expect("summary.md");
    assert!(md.contains("## Inputs not used"), "{md}");
    let _ = std::fs::remove_dir_all(&root);
}

/// Two cases of the same capture, `ok` and `bad`, under `root/cases`.
fn two_cases(root: &Path) -> std::path::PathBuf {
    let cases = root.join("cases");
    let _ = std::fs::remove_dir_all(root);
    for d in ["ok", "bad"] {
        std::fs::create_dir_all(cases.join(d)).expect("mkdir");
        std::fs::write(cases.join(d).join("a.pcap"), fixture("ok-udp/server.pcap")).expect("write");
    }
    cases
}

#[test]
fn a_report_that_cannot_be_written_fails_its_case_only() {
    let root = std::env::temp_dir().join(format!("turnscope-batch-write-{}", std::process::id()));
    let cases = two_cases(&root);
    let out = root.join("out");
    // A folder where the case's JSON report goes: the write fails.
    std::fs::create_dir_all(out.join("cases_bad.json")).expect("mkdir");
    let run = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("batch")
        .arg(&cases)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run turnscope");
    assert_eq!(run.status.code(), Some(0), "the other case was analysed");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("failed: cannot write"), "{stdout}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    let list = summary["cases"].as_array().expect("cases");
    let by_name = |n: &str| list.iter().find(|c| c["case"] == n).expect(n);
    let bad = by_name("cases/bad");
    assert_eq!(bad["verdict"], "failed");
    let why = bad["failure"].as_str().expect("failure");
    assert!(
        why.contains("cannot write") && why.contains("cases_bad.json"),
        "{why}"
    );
    let ok = by_name("cases/ok");
    assert_eq!(ok["verdict"], "info");
    assert!(ok.get("failure").is_none());
    assert!(out.join("cases_ok.html").is_file());
    let md = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    assert!(md.contains("## Cases that failed"), "{md}");
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn a_panic_in_one_case_is_listed_and_the_batch_goes_on() {
    let root = std::env::temp_dir().join(format!("turnscope-batch-panic-{}", std::process::id()));
    let cases = two_cases(&root);
    let out = root.join("out");
    let found = turnscope::batch::find_cases(&cases).expect("cases");
    assert_eq!(found.len(), 2);
    turnscope::testsupport::panic_in_batch_case("cases/bad");
    let summary = turnscope::batch::run(
        &found,
        &turnscope::AnalyzeOptions::default(),
        false,
        &out,
        &|_: &str| {},
    )
    .expect("the batch runs to its end");
    let by_name = |n: &str| summary.cases.iter().find(|c| c.case == n).expect(n);
    let bad = by_name("cases/bad");
    assert_eq!(bad.verdict, "failed");
    let why = bad.failure.as_deref().expect("failure");
    assert!(
        why.contains("internal error") && why.contains("panic_in_batch_case(cases/bad)"),
        "{why}"
    );
    assert_eq!(by_name("cases/ok").verdict, "info");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    let listed = json["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["case"] == "cases/bad")
        .expect("bad listed");
    assert_eq!(listed["verdict"], "failed");
    assert!(listed["failure"]
        .as_str()
        .is_some_and(|w| w.contains("internal error")));
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn batch_redact_redacts_every_report_and_keeps_the_verdicts() {
    let root = std::env::temp_dir().join(format!("turnscope-batch-redact-{}", std::process::id()));
    let cases = root.join("cases");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(cases.join("acme")).expect("mkdir");
    std::fs::write(
        cases.join("acme/client.pcap"),
        fixture("ok-udp/client.pcap"),
    )
    .expect("write");
    std::fs::write(
        cases.join("acme/server.pcap"),
        fixture("ok-udp/server.pcap"),
    )
    .expect("write");
    let run = |out: &Path, redact: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_turnscope"));
        cmd.arg("batch").arg(&cases).arg("--out").arg(out);
        if redact {
            cmd.arg("--redact");
        }
        assert!(cmd.status().expect("run turnscope").success());
        let read = |ext: &str| std::fs::read_to_string(out.join(format!("cases_acme.{ext}")));
        (read("json").expect("json report"), read("md"), read("html"))
    };
    let (plain, _, _) = run(&root.join("plain"), false);
    let (json, md, html) = run(&root.join("redacted"), true);
    let plain: serde_json::Value = serde_json::from_str(&plain).expect("json");
    let redacted: serde_json::Value = serde_json::from_str(&json).expect("json");
    let ids = |r: &serde_json::Value| r["findings"].to_string().len() > 2;
    assert!(ids(&plain) && ids(&redacted));
    let finding_ids = |r: &serde_json::Value| -> Vec<String> {
        let list = r["findings"].as_array().expect("findings");
        list.iter().map(|f| f["id"].to_string()).collect()
    };
    assert_eq!(finding_ids(&plain), finding_ids(&redacted));
    // Every value changed in place; none left anywhere, unless it is also the pseudonym of
    // another value (the lab's public addresses are in the documentation ranges the
    // pseudonyms come from: 192.0.2.10:47730 may become 198.51.100.1:47730, another original).
    let mut originals = Vec::new();
    let mut pseudonyms = Vec::new();
    let allocations = plain["allocations"].as_array().expect("allocations");
    let redacted_allocations = redacted["allocations"].as_array().expect("allocations");
    for (a, r) in allocations.iter().zip(redacted_allocations) {
        for key in ["client", "server", "username", "realm"] {
            if let (Some(v), Some(p)) = (a[key].as_str(), r[key].as_str()) {
                assert_ne!(v, p, "{key} redacted");
                originals.push(v.to_string());
                pseudonyms.push(p.to_string());
            }
        }
    }
    assert!(originals.len() >= 4, "the case shows addresses and names");
    for text in [
        json,
        md.expect("markdown report"),
        html.expect("html report"),
    ] {
        for o in originals.iter().filter(|o| !pseudonyms.contains(o)) {
            assert!(!text.contains(o.as_str()), "{o} left in a redacted report");
        }
    }
    let _ = std::fs::remove_dir_all(&root);
}
