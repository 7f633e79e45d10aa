//! Every lab scenario (both captures, default and alt settings) gives its expected findings,
//! listed in fixtures/expected/<setting>/<scenario>.txt, and no unexpected error finding.

use std::path::{Path, PathBuf};

use turnscope::diagnose::Severity;
use turnscope::flow::{Credential, Role};
use turnscope::{analyze, AnalyzeOptions, Input};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

struct Run {
    args: String,
    expect: Vec<String>,
}

fn expected(path: &Path) -> Vec<Run> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut runs: Vec<Run> = Vec::new();
    for line in text.lines() {
        if let Some(a) = line.strip_prefix("run:") {
            runs.push(Run {
                args: a.trim().to_string(),
                expect: Vec::new(),
            });
        } else if let Some(e) = line.strip_prefix("expect:") {
            let r = runs.last_mut().expect("expect: after run:");
            r.expect = e.split_whitespace().map(str::to_string).collect();
        }
    }
    runs
}

fn options(args: &str) -> AnalyzeOptions {
    let mut opts = AnalyzeOptions::default();
    let mut it = args.split_whitespace();
    while let Some(a) = it.next() {
        match a {
            "--credential" => opts
                .credentials
                .push(it.next().unwrap().parse::<Credential>().unwrap()),
            other => panic!("unsupported argument {other}"),
        }
    }
    opts
}

fn check_setting(setting: &str) {
    let dir = root().join("expected").join(setting);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 14,
        "{} scenarios in {}",
        files.len(),
        dir.display()
    );
    let mut failures = Vec::new();
    for f in files {
        let scen = f.file_stem().unwrap().to_string_lossy().to_string();
        let lab = root().join("lab").join(setting).join(&scen);
        for run in expected(&f) {
            let inputs = [
                Input::path(lab.join("client.pcap")),
                Input::path(lab.join("server.pcap")),
            ];
            let rep = analyze(&inputs, &options(&run.args));
            assert!(rep.errors.is_empty(), "{scen}: {:?}", rep.errors);
            // The parallel JSON writer lays the report out exactly as serde_json does.
            assert_eq!(
                rep.json(),
                serde_json::to_string_pretty(&rep).unwrap(),
                "{setting}/{scen}: JSON layout"
            );
            let ids = rep.ids();
            let roles: Vec<Role> = rep.captures.iter().map(|c| c.role).collect();
            if roles != [Role::Client, Role::Server] {
                failures.push(format!("{setting}/{scen}: roles {roles:?}"));
            }
            for e in &run.expect {
                match rep.finding(e) {
                    None => failures.push(format!(
                        "{setting}/{scen} [{}]: missing {e}; got {ids:?}",
                        run.args
                    )),
                    Some(x) if x.evidence.is_empty() => {
                        failures.push(format!("{setting}/{scen}: {e} without evidence"))
                    }
                    Some(_) => {}
                }
            }
            for x in rep
                .findings
                .iter()
                .filter(|x| x.severity == Severity::Error)
            {
                if !run.expect.iter().any(|e| *e == x.id) {
                    failures.push(format!(
                        "{setting}/{scen} [{}]: unexpected error {}: {}",
                        run.args, x.id, x.summary
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn lab_default_setting() {
    check_setting("default");
}

#[test]
fn lab_alt_setting() {
    check_setting("alt");
}

/// Each capture alone is usable too, and its role is still found where the packets tell.
#[test]
fn lab_single_captures_run() {
    for setting in ["default", "alt"] {
        let dir = root().join("lab").join(setting);
        for e in std::fs::read_dir(&dir).unwrap() {
            let d = e.unwrap().path();
            for side in ["client.pcap", "server.pcap"] {
                let rep = analyze(&[Input::path(d.join(side))], &AnalyzeOptions::default());
                assert_eq!(rep.captures.len(), 1, "{}", d.display());
            }
        }
    }
}
