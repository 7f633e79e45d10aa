//! tshark is the decode oracle: per-type STUN message counts must match it.
//!
//! - Committed fixtures carry `F.tshark-counts` files made by `fixtures/make-counts.sh` with
//!   tshark 4.0 (`tshark -r F -Y "stun && !icmp" -T fields -e stun.type`): always checked.
//! - The public captures in `../shared/pcaps/` (not part of this project) are checked against a
//!   live tshark when both are present, and skipped with a message otherwise.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use turnscope::capture;
use turnscope::decode;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn count_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            count_files(&p, out);
        } else if p.to_string_lossy().ends_with(".tshark-counts") {
            out.push(p);
        }
    }
}

/// Parse `0x0003 4` lines (and `channeldata N`).
fn parse_counts(text: &str) -> (BTreeMap<u16, u64>, Option<u64>) {
    let mut by_type = BTreeMap::new();
    let mut channel = None;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let Ok(n) = v.parse::<u64>() else { continue };
        if k == "channeldata" {
            channel = Some(n);
        } else if let Some(hex) = k.strip_prefix("0x") {
            if let Ok(t) = u16::from_str_radix(hex, 16) {
                by_type.insert(t, n);
            }
        }
    }
    (by_type, channel)
}

fn ours(path: &Path) -> decode::Stats {
    let file = capture::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    decode::stats(&file)
}

#[test]
fn committed_fixtures_match_tshark_counts() {
    let mut files = Vec::new();
    count_files(&fixtures_dir(), &mut files);
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the lab fixtures' tshark counts, found {}",
        files.len()
    );
    let mut failures = Vec::new();
    for counts in &files {
        let capture_path =
            PathBuf::from(counts.to_string_lossy().trim_end_matches(".tshark-counts"));
        let text = std::fs::read_to_string(counts).expect("counts file");
        let (expected, channel) = parse_counts(&text);
        let got = ours(&capture_path);
        if got.stun_by_type != expected {
            failures.push(format!(
                "{}: STUN by type: tshark {:x?}, turnscope {:x?}",
                capture_path.display(),
                expected,
                got.stun_by_type
            ));
        }
        if let Some(ch) = channel {
            if got.channeldata != ch {
                failures.push(format!(
                    "{}: ChannelData: tshark {ch}, turnscope {}",
                    capture_path.display(),
                    got.channeldata
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// tshark's per-type counts for a display filter and field (`stun` or `classicstun`).
fn tshark_counts(path: &Path, proto: &str) -> Option<BTreeMap<u16, u64>> {
    let filter = format!("{proto} && !icmp && !icmpv6");
    let field = format!("{proto}.type");
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(path)
        .args(["-Y", &filter, "-T", "fields", "-e", &field])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut m = BTreeMap::new();
    for field in String::from_utf8_lossy(&out.stdout).split(['\n', ',']) {
        let f = field.trim();
        if let Some(hex) = f.strip_prefix("0x") {
            if let Ok(t) = u16::from_str_radix(hex, 16) {
                *m.entry(t).or_default() += 1;
            }
        }
    }
    Some(m)
}

#[test]
fn public_captures_match_live_tshark() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps");
    if !dir.is_dir() {
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    if Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("skipped: tshark is not installed");
        return;
    }
    let mut report = Vec::new();
    let mut mismatches = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
    {
        let (Some(stun), Some(classic)) =
            (tshark_counts(p, "stun"), tshark_counts(p, "classicstun"))
        else {
            continue;
        };
        let st = ours(p);
        // tshark's `stun` counts RFC 5389 messages, malformed ones included (with an expert
        // note); turnscope reports those as `malformed` records with a reason. tshark's
        // `classicstun` is turnscope's RFC 3489 decoding.
        let mut modern = st.stun_by_type.clone();
        for (t, n) in &st.rfc3489_by_type {
            if let Some(c) = modern.get_mut(t) {
                *c -= n;
            }
        }
        for (t, n) in &st.malformed_by_type {
            *modern.entry(*t).or_default() += n;
        }
        modern.retain(|_, n| *n > 0);
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if modern == stun && st.rfc3489_by_type == classic {
            report.push(format!(
                "{name}: {} STUN ({} malformed) and {} RFC 3489 messages, same as tshark",
                modern.values().sum::<u64>(),
                st.malformed,
                st.rfc3489()
            ));
        } else {
            mismatches += 1;
            report.push(format!(
                "{name}: tshark stun {stun:x?} classicstun {classic:x?}; turnscope stun+malformed {modern:x?} rfc3489 {:x?}",
                st.rfc3489_by_type
            ));
        }
    }
    eprintln!("{}", report.join("\n"));
    assert_eq!(
        mismatches,
        0,
        "captures where turnscope and tshark disagree:\n{}",
        report.join("\n")
    );
}
