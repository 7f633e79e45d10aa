//! The deployment lab (`lab/deploy-lab.sh`: guest, external firewall with static NAT,
//! Expressway-E with two NICs, internal firewall, CMS as an inside TURN client): every scenario
//! of `fixtures/deploy/<setting>/`, all its captures in one case, gives the finding ids its
//! `expect.txt` lists, none it marks absent, and no error finding it does not list.
//!
//! expect.txt lines: `ID` must be raised; `absent: ID` must not be; `absent: any-error` means no
//! error finding at all; `args: --turn-port N` is what the engineer knows from the Expressway's
//! configuration, for scenarios whose captures hold no STUN at all (as `lab/compare-expect.py`
//! reads it). (`new: ID` lines, written by the lab for ids the catalogue did not have
//! yet, must be raised too once the id exists.)

use std::path::{Path, PathBuf};

use turnscope::diagnose::Severity;
use turnscope::flow::Credential;
use turnscope::{analyze, AnalyzeOptions, Input, Report};

fn setting_dir(setting: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/deploy")
        .join(setting)
}

/// The credential of each committed setting (lab/deploy-lab.sh defaults and lab/alt.env).
fn credential(setting: &str) -> Credential {
    let c = match setting {
        "default" => "turnuser:cisco",
        _ => "alice:s3cret!",
    };
    c.parse().expect("credential")
}

#[derive(Default)]
struct Expect {
    raised: Vec<String>,
    absent: Vec<String>,
    no_error: bool,
    turn_port: Option<u16>,
}

fn expectations(path: &Path) -> Expect {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut e = Expect::default();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(args) = line.strip_prefix("args:") {
            let mut it = args.split_whitespace();
            while let Some(arg) = it.next() {
                match (arg, it.next().map(str::parse::<u16>)) {
                    ("--turn-port", Some(Ok(port))) => e.turn_port = Some(port),
                    _ => panic!("{}: unsupported argument in {line}", path.display()),
                }
            }
        } else if let Some(id) = line.strip_prefix("absent:").map(str::trim) {
            if id == "any-error" {
                e.no_error = true;
            } else {
                e.absent.push(id.to_string());
            }
        } else if let Some(id) = line.strip_prefix("new:") {
            e.raised.push(id.trim().to_string());
        } else {
            e.raised.push(line.to_string());
        }
    }
    e
}

fn captures(dir: &Path) -> Vec<Input> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    files.iter().map(Input::path).collect()
}

/// What is wrong with one scenario's report, if anything.
fn problems(e: &Expect, r: &Report) -> Vec<String> {
    let ids: Vec<&str> = r.findings.iter().map(|f| &*f.id).collect();
    let mut out = Vec::new();
    for want in &e.raised {
        if !ids.contains(&want.as_str()) {
            out.push(format!("missing {want}"));
        }
    }
    for no in &e.absent {
        if ids.contains(&no.as_str()) {
            out.push(format!("raised {no}, which must be absent"));
        }
    }
    for f in r.findings.iter().filter(|f| f.severity == Severity::Error) {
        if e.no_error || !e.raised.iter().any(|w| *w == f.id) {
            out.push(format!("unexpected error {}: {}", f.id, f.summary));
        }
    }
    out
}

fn check_setting(setting: &str) {
    let root = setting_dir(setting);
    let mut scenarios: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("expect.txt").is_file())
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 24, "{} scenarios", scenarios.len());
    let mut failures = Vec::new();
    for dir in &scenarios {
        let e = expectations(&dir.join("expect.txt"));
        let opts = AnalyzeOptions {
            credentials: vec![credential(setting)],
            turn_port: e.turn_port,
            ..AnalyzeOptions::default()
        };
        let r = analyze(&captures(dir), &opts);
        for p in problems(&e, &r) {
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            failures.push(format!("{setting}/{}: {p}", name.unwrap_or_default()));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn default_setting() {
    check_setting("default");
}

#[test]
fn alt_setting() {
    check_setting("alt");
}

/// Remedies name the leg's firewall and the server address the requests go to: the call
/// bridge's requests to LAN1 cross the internal firewall, the guest's the external one.
#[test]
fn remedies_name_the_leg() {
    for setting in ["default", "alt"] {
        let opts = AnalyzeOptions {
            credentials: vec![credential(setting)],
            ..AnalyzeOptions::default()
        };
        for (scenario, firewall, other, address) in [
            (
                "int-3478-blocked",
                "internal firewall",
                "external firewall",
                "internal (LAN1) address",
            ),
            (
                "ext-3478-blocked",
                "external firewall",
                "internal firewall",
                "public address",
            ),
        ] {
            let r = analyze(&captures(&setting_dir(setting).join(scenario)), &opts);
            let f = r
                .finding("reach.inbound_blocked")
                .unwrap_or_else(|| panic!("{setting}/{scenario}: {:?}", r.ids()));
            assert!(
                f.remedy.contains(firewall),
                "{setting}/{scenario}: {}",
                f.remedy
            );
            assert!(
                !f.remedy.contains(other),
                "{setting}/{scenario}: {}",
                f.remedy
            );
            assert!(
                f.remedy.contains(address),
                "{setting}/{scenario}: {}",
                f.remedy
            );
        }
    }
}
