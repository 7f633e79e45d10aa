//! The JSON report reads back into the library's types: `Report::from_json` of
//! `analyze --format json` gives a report that writes the same JSON again, byte for byte, and
//! the document names its `schema_version` (`docs/cli.md`).

use std::path::{Path, PathBuf};

use turnscope::report::{ReportJsonError, SCHEMA_VERSION};
use turnscope::{analyze, AnalyzeOptions, Input, Report};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

fn report_of(paths: &[&str]) -> Report {
    let inputs: Vec<Input> = paths.iter().map(|p| Input::path(fixture(p))).collect();
    analyze(&inputs, &AnalyzeOptions::default())
}

/// The guest's and the Expressway-E's captures with the guest's webrtc-internals dumps: checks
/// with their paths, browser events, document evidence, the timeline.
fn browser_case() -> Report {
    let r = report_of(&["dumps/lab/relay-blocked-in"]);
    assert!(r.transactions.iter().any(|t| t.path.is_some()));
    assert!(r.transactions.iter().any(|t| t.check.is_some()));
    assert!(r.findings.iter().any(|f| !f.documents.is_empty()));
    assert!(!r.logs.events.is_empty(), "browser events");
    assert!(!r.timeline.is_empty());
    r
}

/// An Expressway-E diagnostic bundle with the CMS event log: server profile, bundle notes,
/// interfaces, log events and their links to packets.
fn bundle_case() -> Report {
    let r = report_of(&[
        "bundles/default-cms-bad-password.tar.gz",
        "bundles/default-cms-bad-password-cms-events.tsv",
    ]);
    assert!(!r.server_profile.is_empty());
    assert!(!r.bundles.is_empty());
    assert!(r.captures.iter().any(|c| c.interface.is_some()));
    assert!(!r.logs.events.is_empty() && !r.logs.links.is_empty());
    assert!(!r.allocations.is_empty());
    r
}

/// Panics naming the first line where `again` differs from `json` (the documents are long).
fn assert_same_json(name: &str, json: &str, again: &str) {
    if again == json {
        return;
    }
    let line = json
        .lines()
        .zip(again.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| json.lines().count().min(again.lines().count()));
    panic!(
        "{name}: JSON differs after the round trip, first at line {}:\n{:?}\n{:?}",
        line + 1,
        json.lines().nth(line),
        again.lines().nth(line)
    );
}

fn assert_round_trip(name: &str, r: &Report) {
    let json = r.json();
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        value["schema_version"],
        serde_json::json!(SCHEMA_VERSION),
        "{name}"
    );
    assert!(
        json.starts_with("{\n  \"schema_version\": 1,\n"),
        "{name}: schema_version leads the document"
    );
    let back = Report::from_json(&json).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(back.ids(), r.ids(), "{name}");
    assert_same_json(name, &json, &back.json());
}

#[test]
fn a_browser_case_reads_back_into_the_same_report() {
    assert_round_trip("relay-blocked-in with dumps", &browser_case());
}

#[test]
fn a_bundle_case_reads_back_into_the_same_report() {
    assert_round_trip("bundle with CMS log", &bundle_case());
}

#[test]
fn finding_ids_compare_with_strings_after_the_round_trip() {
    let r = bundle_case();
    let back = Report::from_json(&r.json()).expect("reads back");
    let first = back.findings.first().expect("a finding");
    assert!(first.id == r.findings[0].id.as_ref());
    assert!(back.has(&first.id));
    assert_eq!(
        back.finding(&first.id).map(|f| &f.summary),
        Some(&first.summary)
    );
}

#[test]
fn a_report_of_a_later_schema_is_refused() {
    let json = bundle_case().json();
    let later = json.replacen(
        &format!("\"schema_version\": {SCHEMA_VERSION}"),
        &format!("\"schema_version\": {}", SCHEMA_VERSION + 1),
        1,
    );
    assert_ne!(later, json);
    match Report::from_json(&later) {
        Err(ReportJsonError::NewerSchema { found, supported }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!(
            "expected NewerSchema, got {:?}",
            other.map(|r| r.ids().len())
        ),
    }
}

#[test]
fn a_report_written_before_the_schema_version_reads_as_version_1() {
    let json = bundle_case().json();
    let older = json.replacen("\n  \"schema_version\": 1,", "", 1);
    assert_ne!(older, json);
    let back = Report::from_json(&older).expect("reads back");
    assert_eq!(back.schema_version, 1);
    assert_same_json("without schema_version", &json, &back.json());
}

#[test]
fn what_is_not_a_report_says_so() {
    let err = Report::from_json("{\"captures\": 3}").expect_err("not a report");
    assert!(matches!(err, ReportJsonError::Json(_)), "{err}");
    assert!(
        err.to_string().starts_with("not a turnscope report: "),
        "{err}"
    );
}
