//! The terminal report fits its width (80 and 120 columns), leads with the verdict, shows each
//! finding as a block with its evidence grouped by capture, and colours severities only when
//! asked; the command line honours `--color` and `NO_COLOR`.

use std::path::{Path, PathBuf};
use std::process::Command;

use turnscope::report::{terminal, visible_width, TermStyle};
use turnscope::{analyze, AnalyzeOptions, Input, Report};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every capture of a scenario folder, as one case.
fn case(dir: &Path, credentials: &[&str]) -> Report {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    let inputs: Vec<Input> = files.iter().map(|p| Input::from_arg(p)).collect();
    let opts = AnalyzeOptions {
        credentials: credentials.iter().map(|c| c.parse().unwrap()).collect(),
        ..AnalyzeOptions::default()
    };
    analyze(&inputs, &opts)
}

fn cases() -> Vec<(String, Report)> {
    let f = fixtures();
    vec![
        (
            "bad-password".into(),
            case(&f.join("lab/default/bad-password"), &["turnuser:cisco"]),
        ),
        (
            "webrtc-relay-blocked".into(),
            case(&f.join("lab/alt/webrtc-relay-blocked"), &[]),
        ),
        (
            "relay-blocked-in".into(),
            case(&f.join("deploy/default/relay-blocked-in"), &[]),
        ),
        ("san-missing".into(), case(&f.join("web/san-missing"), &[])),
    ]
}

/// A line longer than the width is allowed only when what it holds after its indent and
/// label is one word that no wrapping could break.
fn check_widths(name: &str, text: &str, width: usize) {
    for line in text.lines() {
        if visible_width(line) <= width {
            continue;
        }
        let body = line.trim_start();
        let body = ["verdict: ", "why: ", "evidence: ", "remedy: ", "note: "]
            .iter()
            .find_map(|label| body.strip_prefix(label))
            .unwrap_or(body);
        assert!(
            !body.trim().contains(' '),
            "{name} at {width}: line of {} columns could have been wrapped:\n{line}\n\n{text}",
            visible_width(line)
        );
    }
}

#[test]
fn fits_80_and_120_columns() {
    for (name, r) in cases() {
        for width in [80, 120] {
            let text = terminal(
                &r,
                TermStyle {
                    width,
                    color: false,
                },
            );
            check_widths(&name, &text, width);
            // The most severe finding leads.
            let first = text.lines().next().unwrap_or("");
            assert!(first.starts_with("verdict: "), "{name}: {first}");
            if let Some(f) = r.findings.first() {
                assert!(
                    first.contains(f.severity.as_str()),
                    "{name}: verdict of severity {:?}: {first}",
                    f.severity
                );
            }
            // Each finding is a block with its remedy.
            for f in &r.findings {
                assert!(text.contains(&*f.id), "{name}: {} missing", f.id);
            }
            assert_eq!(
                text.matches("remedy: ").count(),
                r.findings.len() + usize::from(!r.findings.is_empty()),
                "{name}: one remedy per finding plus the verdict's\n{text}"
            );
        }
    }
}

#[test]
fn wider_means_fewer_lines() {
    for (name, r) in cases() {
        let narrow = terminal(
            &r,
            TermStyle {
                width: 80,
                color: false,
            },
        );
        let wide = terminal(
            &r,
            TermStyle {
                width: 120,
                color: false,
            },
        );
        assert!(
            wide.lines().count() < narrow.lines().count(),
            "{name}: 120 columns should need fewer lines than 80"
        );
        assert!(
            wide.lines().any(|l| visible_width(l) > 80),
            "{name}: 120 columns should use more than 80"
        );
    }
}

#[test]
fn evidence_is_grouped_by_capture_with_ranges() {
    let r = case(
        &fixtures().join("lab/default/bad-password"),
        &["turnuser:cisco"],
    );
    let text = terminal(
        &r,
        TermStyle {
            width: 100,
            color: false,
        },
    );
    // The shared folder is said once; captures are named by what tells them apart.
    assert!(
        text.contains("captures in ") && text.contains("lab/default/bad-password/:"),
        "{text}"
    );
    let full = fixtures().join("lab/default/bad-password/client.pcap");
    let full_as_given = full.to_string_lossy().into_owned();
    assert!(!text.contains(&full_as_given), "{text}");
    // One evidence line per capture, frames as ranges.
    let f = r.finding("auth.password_mismatch").expect("finding");
    let captures: std::collections::BTreeSet<&str> =
        f.evidence.iter().map(|e| e.capture.as_str()).collect();
    let evidence_lines = text
        .lines()
        .skip_while(|l| !l.ends_with("auth.password_mismatch"))
        .take_while(|l| !l.trim_start().starts_with("remedy: "))
        .filter(|l| l.contains(" frames ") || l.contains(" frame "))
        .count();
    assert_eq!(evidence_lines, captures.len(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("client.pcap frames ") && l.contains('-')),
        "{text}"
    );
}

#[test]
fn colour_only_when_asked() {
    let r = case(
        &fixtures().join("lab/default/bad-password"),
        &["turnuser:cisco"],
    );
    let plain = terminal(
        &r,
        TermStyle {
            width: 100,
            color: false,
        },
    );
    assert!(!plain.contains('\x1b'), "{plain}");
    let coloured = terminal(
        &r,
        TermStyle {
            width: 100,
            color: true,
        },
    );
    assert!(coloured.contains("\x1b[1;31merror\x1b[0m"), "{coloured}");
    // Colour takes no columns: the same layout.
    check_widths("coloured", &coloured, 100);
    let stripped = coloured
        .replace("\x1b[1;31m", "")
        .replace("\x1b[1;33m", "")
        .replace("\x1b[32m", "")
        .replace("\x1b[0m", "");
    assert_eq!(stripped, plain);
}

#[test]
fn a_capture_without_stun_is_not_called_clean() {
    // The CMS leg's capture of a case where the CMS sent nothing: an empty capture.
    let empty = fixtures().join("deploy/default/return-blocked/cms.pcap");
    let r = analyze(&[Input::from_arg(&empty)], &AnalyzeOptions::default());
    assert_eq!(r.captures.first().map(|c| c.stun_messages), Some(0));
    let text = terminal(
        &r,
        TermStyle {
            width: 100,
            color: false,
        },
    );
    assert!(!text.contains("no findings"), "{text}");
    assert!(
        text.lines().next().is_some_and(|l| l.starts_with(
            "verdict: warning no STUN/TURN in this capture (wrong interface or capture filter?)"
        )),
        "{text}"
    );
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_turnscope"))
}

#[test]
fn command_line_colour_and_width() {
    let dir = fixtures().join("lab/default/bad-password");
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut c = bin();
        c.arg("analyze")
            .arg(dir.join("client.pcap"))
            .arg(dir.join("server.pcap"))
            .args(["--credential", "turnuser:cisco"])
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("COLUMNS");
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout).unwrap()
    };
    // Not a terminal: no colour unless asked; NO_COLOR does not override an explicit choice.
    assert!(!run(&[], &[]).contains('\x1b'));
    assert!(run(&[], &["--color", "always"]).contains("\x1b[1;31m"));
    assert!(run(&[("NO_COLOR", "1")], &["--color", "always"]).contains("\x1b[1;31m"));
    assert!(!run(&[("NO_COLOR", "1")], &["--color", "auto"]).contains('\x1b'));
    assert!(!run(&[], &["--color", "never"]).contains('\x1b'));
    // COLUMNS sets the width; without it (and no terminal) the default is 100.
    for (columns, width) in [("80", 80), ("120", 120)] {
        let text = run(&[("COLUMNS", columns)], &[]);
        check_widths("cli", &text, width);
    }
    let text = run(&[], &[]);
    check_widths("cli default", &text, 100);
    assert!(text.lines().any(|l| visible_width(l) > 80), "{text}");
}
