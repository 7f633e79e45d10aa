//! Every web lab scenario (fixtures/web/<scenario>/, made by lab/web-lab.sh with dnsmasq,
//! nginx, openssl, headless Chromium, coturn) gives what its expect.txt says: the ids listed,
//! none of the `absent:` ones, no error finding it does not list; `args:` lines are analyze
//! arguments. And the deployment lab's TURN over TLS still reads as TURN where it is.

use std::path::{Path, PathBuf};

use turnscope::diagnose::Severity;
use turnscope::{analyze, AnalyzeOptions, Input, Report};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

#[derive(Default)]
struct Expect {
    want: Vec<String>,
    absent: Vec<String>,
    no_error: bool,
    join_url: Option<String>,
}

fn expectations(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut e = Expect::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(a) = line.strip_prefix("args:") {
            let mut it = a.split_whitespace();
            while let Some(arg) = it.next() {
                match arg {
                    "--join-url" => e.join_url = it.next().map(str::to_string),
                    other => panic!("{}: unsupported argument {other}", path.display()),
                }
            }
        } else if let Some(id) = line.strip_prefix("absent:") {
            match id.trim() {
                "any-error" => e.no_error = true,
                id => e.absent.push(id.to_string()),
            }
        } else {
            e.want.push(line.to_string());
        }
    }
    e
}

fn captures(dir: &Path) -> Vec<Input> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    files.into_iter().map(Input::path).collect()
}

fn check(scen: &str, rep: &Report, e: &Expect, failures: &mut Vec<String>) {
    let ids = rep.ids();
    for w in &e.want {
        match rep.finding(w) {
            None => failures.push(format!("{scen}: missing {w}; got {ids:?}")),
            Some(f) if f.evidence.is_empty() => {
                failures.push(format!("{scen}: {w} without evidence"))
            }
            Some(_) => {}
        }
    }
    for a in &e.absent {
        if rep.has(a) {
            failures.push(format!("{scen}: {a} must be absent; got {ids:?}"));
        }
    }
    for f in rep
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
    {
        if e.no_error || !e.want.iter().any(|w| *w == f.id) {
            failures.push(format!("{scen}: unexpected error {}: {}", f.id, f.summary));
        }
    }
}

#[test]
fn web_lab_scenarios() {
    let dir = root().join("web");
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expect.txt").is_file())
        .collect();
    scenarios.sort();
    assert!(
        scenarios.len() >= 13,
        "{} scenarios in {}",
        scenarios.len(),
        dir.display()
    );
    let mut failures = Vec::new();
    for s in &scenarios {
        let scen = s.file_name().unwrap().to_string_lossy().to_string();
        let e = expectations(&s.join("expect.txt"));
        let opts = AnalyzeOptions {
            join_url: e.join_url.clone(),
            ..AnalyzeOptions::default()
        };
        let rep = analyze(&captures(s), &opts);
        assert!(rep.errors.is_empty(), "{scen}: {:?}", rep.errors);
        assert_eq!(
            rep.json(),
            serde_json::to_string_pretty(&rep).unwrap(),
            "{scen}: JSON layout"
        );
        check(&scen, &rep, &e, &mut failures);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Every web id has a real capture that raises it.
#[test]
fn every_web_id_has_a_lab_capture() {
    let dir = root().join("web");
    let mut raised = std::collections::BTreeSet::new();
    for s in std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()) {
        if s.join("expect.txt").is_file() {
            raised.extend(expectations(&s.join("expect.txt")).want);
        }
    }
    for (id, _) in turnscope::diagnose::CATALOGUE {
        if ["dns.", "tls.", "web."].iter().any(|p| id.starts_with(p)) {
            assert!(
                raised.contains(*id),
                "{id}: no fixtures/web scenario expects it"
            );
        }
    }
}

/// The deployment lab's TURN over TLS on 443 (coturn, headless Chromium with turns:): the whole
/// case shows the Expressway-E's relay addresses, so the guest's TLS is TURN; the guest's
/// capture alone shows nothing of TURN and reads as HTTPS (TLS 1.3: the certificate hidden).
#[test]
fn turn_over_tls_in_the_deployment_lab() {
    let dir = root().join("deploy").join("default").join("ok-tls");
    let rep = analyze(&captures(&dir), &AnalyzeOptions::default());
    let f = rep
        .finding("transport.turn_tls")
        .expect("transport.turn_tls");
    assert!(f.summary.contains("TURN because"), "{}", f.summary);
    assert!(!rep.has("tls.certificate_hidden"), "{:?}", rep.ids());
    let alone = analyze(
        &[Input::path(dir.join("guest.pcap"))],
        &AnalyzeOptions::default(),
    );
    assert!(!alone.has("transport.turn_tls"), "{:?}", alone.ids());
    assert!(alone.has("tls.certificate_hidden"), "{:?}", alone.ids());
    assert!(alone.error_findings().next().is_none(), "{:?}", alone.ids());
}
