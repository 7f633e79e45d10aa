//! Roles, correlation (clock offsets, NAT mappings, transaction paths), transactions and
//! allocations on every committed capture stay what they were: each case's outcome is written
//! as text and compared with `fixtures/expected/correlation-*.txt`.
//!
//! Cases: every lab scenario (client + server), every lab capture of a setting in one case
//! (many captures: the role inference and correlation across more than two), the pcapng
//! fixtures, and the public captures of `../shared/pcaps` alone and all together (skipped when
//! absent). After an intended change, rewrite the files with `TURNSCOPE_BLESS=1 cargo test
//! --test analyze_correlation` and review the difference.

mod common;

use std::fmt::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use turnscope::{analyze, AnalyzeOptions, Input, Report};

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An input labelled by its path relative to `base` (the same text on every machine).
fn input(base: &Path, p: &Path) -> Input {
    let mut i = Input::path(p);
    i.name = p.strip_prefix(base).unwrap_or(p).display().to_string();
    i
}

fn digest(text: &str) -> String {
    let d = Sha256::digest(text.as_bytes());
    d.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Everything roles and correlation decide, in full, and digests of the transactions and
/// allocations (their JSON).
fn describe(name: &str, r: &Report, out: &mut String) {
    let _ = writeln!(out, "== {name}");
    for c in &r.captures {
        let _ = writeln!(
            out,
            "capture {}: {} | {}",
            c.path,
            c.role.as_str(),
            c.role_reason
        );
    }
    let corr = &r.correlation;
    let _ = writeln!(
        out,
        "reference {}",
        corr.reference.as_deref().unwrap_or("-")
    );
    for o in &corr.clock_offsets {
        let _ = writeln!(
            out,
            "offset {} {:?} ms, {} +/- {:?} ms, {} transactions",
            o.capture, o.offset_ms, o.method, o.error_ms, o.transactions
        );
    }
    for n in &corr.nat {
        let _ = writeln!(
            out,
            "nat {} {} -> {} = {} -> {} ({}) {}#{} {}#{}",
            n.transport,
            n.client_src,
            n.client_dst,
            n.server_src,
            n.server_dst,
            n.transactions,
            n.client_capture,
            n.client_frame,
            n.server_capture,
            n.server_frame
        );
    }
    let _ = writeln!(
        out,
        "turn servers {:?}, relay ports {:?}",
        corr.turn_servers, corr.relay_ports
    );
    let mut paths = String::new();
    let mut last_seen = std::collections::BTreeMap::new();
    for t in &r.transactions {
        if let Some(p) = &t.path {
            *last_seen.entry(p.last_seen.clone()).or_insert(0) += 1;
            let _ = writeln!(
                paths,
                "{} {:?} {:?} {:?} {:?} {}",
                t.txid,
                p.left_client,
                p.reached_server,
                p.answered,
                p.answer_reached_client,
                p.last_seen
            );
        }
    }
    let _ = writeln!(out, "paths {last_seen:?} {}", digest(&paths));
    let txs = serde_json::to_string(&r.transactions).unwrap();
    let allocs = serde_json::to_string(&r.allocations).unwrap();
    let _ = writeln!(
        out,
        "transactions {} {}, allocations {} {}",
        r.transactions.len(),
        digest(&txs),
        r.allocations.len(),
        digest(&allocs)
    );
}

fn run_case(name: &str, base: &Path, files: &[PathBuf], out: &mut String) {
    let inputs: Vec<Input> = files.iter().map(|p| input(base, p)).collect();
    let r = analyze(&inputs, &AnalyzeOptions::default());
    assert!(r.errors.is_empty(), "{name}: {:?}", r.errors);
    describe(name, &r, out);
}

/// Compare with the committed text (or rewrite it under `TURNSCOPE_BLESS=1`).
fn check(expected: &str, got: &str) {
    let path = here().join("fixtures/expected").join(expected);
    if std::env::var_os("TURNSCOPE_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != got {
        let diff: Vec<String> = want
            .lines()
            .zip(got.lines())
            .filter(|(a, b)| a != b)
            .take(20)
            .map(|(a, b)| format!("- {a}\n+ {b}"))
            .collect();
        panic!(
            "{} differs ({} vs {} lines):\n{}",
            path.display(),
            want.lines().count(),
            got.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn lab_and_pcapng_fixtures_correlate_as_before() {
    let base = here().join("fixtures");
    let mut out = String::new();
    for setting in ["default", "alt"] {
        let dir = base.join("lab").join(setting);
        let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        scenarios.sort();
        let mut all = Vec::new();
        for s in &scenarios {
            let pair = [s.join("client.pcap"), s.join("server.pcap")];
            let name = s.strip_prefix(&base).unwrap().display().to_string();
            run_case(&name, &base, &pair, &mut out);
            all.extend(pair);
        }
        run_case(
            &format!("lab/{setting}: all together"),
            &base,
            &all,
            &mut out,
        );
    }
    let mut pcapng = Vec::new();
    common::captures_under(&base.join("pcapng"), &mut pcapng);
    pcapng.sort();
    for p in &pcapng {
        let name = p.strip_prefix(&base).unwrap().display().to_string();
        run_case(&name, &base, std::slice::from_ref(p), &mut out);
    }
    check("correlation-lab.txt", &out);
}

#[test]
fn public_captures_correlate_as_before() {
    let Some(base) = [
        here().join("../shared/pcaps"),
        PathBuf::from("/work/shared/pcaps"),
    ]
    .into_iter()
    .find(|p| p.is_dir()) else {
        eprintln!("skipped: no ../shared/pcaps");
        return;
    };
    let mut files = Vec::new();
    common::captures_under(&base, &mut files);
    files.sort();
    let mut out = String::new();
    for p in &files {
        let name = p.strip_prefix(&base).unwrap().display().to_string();
        run_case(&name, &base, std::slice::from_ref(p), &mut out);
    }
    run_case("all public captures together", &base, &files, &mut out);
    check("correlation-public.txt", &out);
}
