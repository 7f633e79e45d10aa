//! `analyze --export` and `--redact` end to end on the deployment lab's fixtures: the export,
//! opened with tshark, holds every evidence frame of the report, byte for byte the frame of
//! the original capture, with a comment naming its findings and its original file and frame;
//! `--export-flows` adds the frames of their flows; a bundle's members are exported from the
//! bundle; with `--redact`, no address, username or realm of the case is left in any report
//! format or in the export's bytes, pseudonyms are consistent, and the verdict is unchanged.
//! The tshark checks are skipped, saying so, when tshark is not installed.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The relay-blocked-in scenario of the default lab: guest, Expressway-E and CMS captures.
fn case_files() -> Vec<PathBuf> {
    let dir = root().join("fixtures/deploy/default/relay-blocked-in");
    ["guest.pcap", "expe-any.pcap", "cms.pcap"]
        .iter()
        .map(|f| dir.join(f))
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("turnscope-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir.join(name)
}

/// Run `turnscope analyze FILES ARGS`; its standard output.
fn analyze(files: &[PathBuf], args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("analyze")
        .args(files)
        .args(args)
        .output()
        .expect("run turnscope");
    assert!(
        out.status.success(),
        "analyze failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).expect("JSON report")
}

fn tshark_present() -> bool {
    let found = Command::new("tshark").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIP: tshark is not installed; the export is not opened");
    }
    found
}

/// `tshark -r FILE -T fields` with these fields, one row per packet.
fn tshark(file: &Path, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-T", "fields", "-E", "occurrence=a"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(out.status.success(), "tshark failed on {}", file.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Evidence of a JSON report: (capture, frame) -> finding ids.
fn evidence(report: &serde_json::Value) -> BTreeMap<(String, u64), BTreeSet<String>> {
    let mut out: BTreeMap<(String, u64), BTreeSet<String>> = BTreeMap::new();
    for f in report["findings"].as_array().expect("findings") {
        let id = f["id"].as_str().expect("id").to_string();
        for e in f["evidence"].as_array().expect("evidence") {
            let capture = e["capture"].as_str().expect("capture").to_string();
            let frame = e["frame"].as_u64().expect("frame");
            out.entry((capture, frame)).or_default().insert(id.clone());
        }
    }
    out
}

/// The comment's parts: finding ids (and whether it is a flow frame), file, frame.
fn parse_comment(c: &str) -> Option<(bool, BTreeSet<String>, String, u64)> {
    let rest = c.strip_prefix("turnscope: ")?;
    let (ids, place) = rest.split_once(" — ")?;
    let (flow, ids) = match ids.strip_prefix("flow of ") {
        Some(ids) => (true, ids),
        None => (false, ids),
    };
    let place = place.split(" (redacted").next()?;
    let (file, frame) = place.rsplit_once(" frame ")?;
    Some((
        flow,
        ids.split("; ").map(str::to_string).collect(),
        file.to_string(),
        frame.parse().ok()?,
    ))
}

#[test]
fn the_export_holds_every_evidence_frame_with_its_comment() {
    let files = case_files();
    let out = scratch("evidence.pcapng");
    let report = json(&analyze(
        &files,
        &["--format", "json", "--export", out.to_str().expect("path")],
    ));
    let wanted = evidence(&report);
    assert!(
        !wanted.is_empty(),
        "the scenario has findings with evidence"
    );
    if !tshark_present() {
        return;
    }
    let fields = [
        "frame.comment",
        "ip.src",
        "ip.dst",
        "frame.len",
        "frame.cap_len",
    ];
    let rows = tshark(&out, &fields);
    assert_eq!(rows.len(), wanted.len(), "one packet per evidence frame");
    let mut seen = BTreeSet::new();
    for row in &rows {
        let (flow, ids, file, frame) = parse_comment(&row[0]).expect("a turnscope comment");
        assert!(!flow, "no flow frames without --export-flows");
        assert_eq!(wanted.get(&(file.clone(), frame)), Some(&ids), "{}", row[0]);
        // The same frame as in the original capture: addresses and lengths.
        let original = tshark(Path::new(&file), &fields[1..]);
        let at = usize::try_from(frame - 1).expect("frame index");
        assert_eq!(row[1..], original[at][..], "{file} frame {frame}");
        seen.insert((file, frame));
    }
    assert_eq!(seen.len(), wanted.len());
    let _ = std::fs::remove_file(&out);
}

#[test]
fn export_flows_adds_the_frames_of_the_evidence_flows() {
    let files = case_files();
    let evidence_only = scratch("only.pcapng");
    let flows = scratch("flows.pcapng");
    analyze(&files, &["--export", evidence_only.to_str().expect("path")]);
    analyze(
        &files,
        &["--export", flows.to_str().expect("path"), "--export-flows"],
    );
    if !tshark_present() {
        return;
    }
    let only = tshark(&evidence_only, &["frame.comment"]);
    let all = tshark(&flows, &["frame.comment"]);
    let flow_frames = all.iter().filter(|r| r[0].contains(": flow of ")).count();
    assert!(flow_frames > 0, "flow frames are exported and marked");
    assert_eq!(all.len(), only.len() + flow_frames);
    let evidence_comments: BTreeSet<&String> = only.iter().map(|r| &r[0]).collect();
    for c in evidence_comments {
        assert!(all.iter().any(|r| &r[0] == c), "{c} still exported");
    }
    let _ = std::fs::remove_file(&evidence_only);
    let _ = std::fs::remove_file(&flows);
}

#[test]
fn a_bundles_members_are_exported_from_the_bundle() {
    let bundle = root().join("fixtures/bundles/default-relay-blocked-in-nested.tar.gz");
    let out = scratch("bundle.pcapng");
    let report = json(&analyze(
        &[bundle],
        &["--format", "json", "--export", out.to_str().expect("path")],
    ));
    let wanted = evidence(&report);
    assert!(
        wanted.keys().any(|(c, _)| c.contains(".tar.gz!")),
        "evidence in bundle members"
    );
    if !tshark_present() {
        return;
    }
    let rows = tshark(&out, &["frame.comment", "frame.interface_name"]);
    assert_eq!(rows.len(), wanted.len());
    for row in rows {
        let (_, ids, file, frame) = parse_comment(&row[0]).expect("a turnscope comment");
        assert_eq!(wanted.get(&(file.clone(), frame)), Some(&ids));
        assert_eq!(row[1], file, "the interface is named after the member");
    }
    let _ = std::fs::remove_file(&out);
}

/// Every IP address the captures show in their IP headers and STUN address attributes.
fn addresses_in(files: &[PathBuf]) -> BTreeSet<IpAddr> {
    let fields = [
        "ip.src",
        "ip.dst",
        "stun.att.ipv4",
        "stun.att.ipv4-xord",
        "ipv6.src",
        "ipv6.dst",
    ];
    let mut out = BTreeSet::new();
    for f in files {
        for row in tshark(f, &fields) {
            for cell in row {
                out.extend(cell.split(',').filter_map(|a| a.parse::<IpAddr>().ok()));
            }
        }
    }
    out
}

/// Whether `text` holds `addr` as a whole address (not inside a longer number).
fn holds_address(text: &str, addr: &str) -> bool {
    text.match_indices(addr).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + addr.len()..].chars().next();
        let part = |c: Option<char>| c.is_some_and(|c| c.is_ascii_hexdigit() || c == '.');
        !part(before) && !part(after)
    })
}

fn holds_bytes(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn redaction_leaves_no_address_or_name_and_keeps_the_verdict() {
    if !tshark_present() {
        return;
    }
    let files = case_files();
    let plain = json(&analyze(&files, &["--format", "json"]));
    let export = scratch("redacted.pcapng");
    let redacted_json = analyze(
        &files,
        &[
            "--format",
            "json",
            "--redact",
            "--export",
            export.to_str().expect("path"),
            "--export-flows",
        ],
    );
    let redacted = json(&redacted_json);
    let ids = |r: &serde_json::Value| -> Vec<String> {
        r["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["id"].to_string())
            .collect()
    };
    assert_eq!(ids(&plain), ids(&redacted), "the verdict is unchanged");
    let mut outputs = vec![("json", redacted_json)];
    for format in ["markdown", "html", "table"] {
        outputs.push((format, analyze(&files, &["--format", format, "--redact"])));
    }
    let export_bytes = std::fs::read(&export).expect("export written");
    let addresses = addresses_in(&files);
    assert!(
        addresses.len() >= 4,
        "the case shows addresses: {addresses:?}"
    );
    // What Wireshark decodes from the export (XOR-MAPPED addresses are not in the bytes as
    // such): pseudonyms only.
    let decoded = addresses_in(std::slice::from_ref(&export));
    assert!(
        decoded.len() >= 4,
        "the export shows addresses: {decoded:?}"
    );
    let left: Vec<&IpAddr> = decoded
        .intersection(&addresses)
        .filter(|a| !a.is_loopback() && !a.is_unspecified())
        .collect();
    assert!(
        left.is_empty(),
        "original addresses decoded from the export: {left:?}"
    );
    for a in &addresses {
        if a.is_loopback() || a.is_unspecified() {
            continue;
        }
        for (format, text) in &outputs {
            assert!(
                !holds_address(text, &a.to_string()),
                "{a} left in the {format} report"
            );
        }
        let bytes = match a {
            IpAddr::V4(v4) => v4.octets().to_vec(),
            IpAddr::V6(v6) => v6.octets().to_vec(),
        };
        assert!(
            !holds_bytes(&export_bytes, &bytes),
            "{a} left in the export"
        );
    }
    let mut names = BTreeSet::new();
    for a in plain["allocations"].as_array().expect("allocations") {
        for key in ["username", "realm"] {
            if let Some(n) = a[key].as_str() {
                names.insert(n.to_string());
            }
        }
    }
    assert!(!names.is_empty(), "the case shows usernames and realms");
    let dir = files[0]
        .parent()
        .expect("folder")
        .to_string_lossy()
        .to_string();
    for n in names.iter().chain([&dir]) {
        for (format, text) in &outputs {
            assert!(
                !text.contains(n.as_str()),
                "{n:?} left in the {format} report"
            );
        }
        assert!(
            !holds_bytes(&export_bytes, n.as_bytes()),
            "{n:?} left in the export"
        );
    }
    pseudonyms_are_consistent(&plain, &redacted);
    let _ = std::fs::remove_file(&export);
}

/// The same original address has the same pseudonym wherever the report shows it, and
/// addresses keep their class.
fn pseudonyms_are_consistent(plain: &serde_json::Value, redacted: &serde_json::Value) {
    let mut seen: BTreeMap<SocketAddr, SocketAddr> = BTreeMap::new();
    let pairs = plain["allocations"]
        .as_array()
        .expect("allocations")
        .iter()
        .zip(redacted["allocations"].as_array().expect("allocations"));
    let mut checked = 0;
    for (p, r) in pairs {
        for key in ["client", "server", "relayed", "mapped"] {
            let (Some(a), Some(b)) = (p[key].as_str(), r[key].as_str()) else {
                continue;
            };
            let a: SocketAddr = a.parse().expect("address");
            let b: SocketAddr = b.parse().expect("address");
            assert_eq!(a.port(), b.port(), "ports are kept");
            assert_eq!(*seen.entry(a).or_insert(b), b, "{a} has one pseudonym");
            let private = |ip: IpAddr| matches!(ip, IpAddr::V4(v) if v.is_private());
            assert_eq!(
                private(a.ip()),
                private(b.ip()),
                "{a} -> {b} keeps its class"
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "allocations with addresses to compare");
}

#[test]
fn the_byte_limit_bounds_the_export_and_says_so() {
    use turnscope::export::{export, ExportOptions};
    let inputs: Vec<turnscope::Input> = case_files().iter().map(turnscope::Input::path).collect();
    let report = turnscope::analyze(&inputs, &turnscope::AnalyzeOptions::default());
    let all = export(
        &report,
        &inputs,
        &ExportOptions::default(),
        None,
        Vec::new(),
    )
    .expect("export in memory");
    assert!(all.frames >= 4 && all.over_limit == 0, "{all:?}");
    // Room for about two frames of this case (142 to 200 bytes each).
    let limited = ExportOptions {
        max_bytes: 400,
        ..ExportOptions::default()
    };
    let mut bytes = Vec::new();
    let cut = export(&report, &inputs, &limited, None, &mut bytes).expect("export in memory");
    assert!(cut.frames >= 1 && cut.frames < all.frames, "{cut:?}");
    assert_eq!(cut.frames + cut.over_limit, all.frames);
    assert!(
        cut.notes
            .iter()
            .any(|n| n.contains("not exported: the export holds at most 400 bytes")),
        "{:?}",
        cut.notes
    );
    assert_eq!(
        &bytes[..4],
        &[0x0a, 0x0d, 0x0d, 0x0a],
        "a pcapng section header"
    );
}
