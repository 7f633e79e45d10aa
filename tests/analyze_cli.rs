//! The `analyze` command line: formats, exit codes, bundles, unusable inputs.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_turnscope"))
}

fn lab(s: &str, f: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/lab/default")
        .join(s)
        .join(f)
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("turnscope-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn tgz(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (n, d) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, n, &d[..]).unwrap();
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(&b.into_inner().unwrap()).unwrap();
    e.finish().unwrap()
}

#[test]
fn json_follows_the_contract() {
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(lab("bad-password", "client.pcap"))
        .arg(lab("bad-password", "server.pcap"))
        .args(["--credential", "turnuser:cisco"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["captures", "transactions", "allocations", "findings"] {
        assert!(v[k].is_array(), "{k}");
    }
    let c = &v["captures"][0];
    assert_eq!(c["role"], "client");
    assert!(c["frames"].as_u64().unwrap() > 0 && c["stun_messages"].as_u64().unwrap() > 0);
    let f = &v["findings"][0];
    assert_eq!(f["id"], "auth.password_mismatch");
    assert_eq!(f["severity"], "error");
    assert!(f["evidence"][0]["frame"].as_u64().is_some());
    assert!(f["remedy"].as_str().unwrap().contains("turnServers"));
}

#[test]
fn other_formats_render() {
    for (fmt, needle) in [
        ("table", "reach.response_lost"),
        ("markdown", "`reach.response_lost`"),
        ("html", "<svg"),
    ] {
        let out = bin()
            .args(["analyze", "--format", fmt])
            .arg(lab("blocked-return", "client.pcap"))
            .arg(lab("blocked-return", "server.pcap"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{fmt}");
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.contains(needle), "{fmt}: {s}");
    }
}

#[test]
fn exit_codes_and_unusable_inputs() {
    let bad = bin()
        .args(["analyze", "x.pcap", "--relay-ports", "5-1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let missing = bin()
        .args(["analyze", "/nonexistent/case.pcap"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("/nonexistent/case.pcap"), "{err}");
    // One unusable input among usable ones: named on stderr, the rest analysed.
    let dir = tmpdir("mixed");
    let junk = dir.join("notes.pcap");
    std::fs::write(&junk, b"this is not a capture at all").unwrap();
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(&junk)
        .arg(lab("ok-udp", "client.pcap"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.pcap") && err.contains("not a pcap"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["captures"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"][0]["path"], junk.display().to_string());
}

#[test]
fn bundle_of_both_sides() {
    let dir = tmpdir("bundle");
    let b = dir.join("diag.tgz");
    let inner = tgz(&[(
        "tcpdump/srv.dat",
        std::fs::read(lab("blocked-return", "server.pcap")).unwrap(),
    )]);
    std::fs::write(
        &b,
        tgz(&[
            ("readme.txt", b"case 123".to_vec()),
            (
                "client/capture",
                std::fs::read(lab("blocked-return", "client.pcap")).unwrap(),
            ),
            ("logs/expe.tar.gz", inner),
        ]),
    )
    .unwrap();
    let out = bin()
        .args(["analyze", "--format", "json"])
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let caps = v["captures"].as_array().unwrap();
    assert_eq!(caps.len(), 2);
    assert!(caps[1]["path"]
        .as_str()
        .unwrap()
        .ends_with("expe.tar.gz!tcpdump/srv.dat"));
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "reach.response_lost"));
}

#[test]
fn gzip_bomb_is_refused_with_a_message() {
    let r = turnscope::analyze(
        &[turnscope::Input::bytes(
            "bomb.tgz",
            tgz(&[("big.pcap", vec![0u8; 4 << 20])]),
        )],
        &turnscope::AnalyzeOptions {
            bundle_limit: 1 << 20,
            ..Default::default()
        },
    );
    assert!(r.captures.is_empty());
    assert!(r.errors[0].reason.contains("gzip bomb"), "{:?}", r.errors);
}

#[test]
fn decode_names_attributes_appended_after_the_integrity() {
    use turnscope::testsupport::{tid, Script, Turn};
    use turnscope::wire::Method;
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    s.udp(
        "192.0.2.10:40000",
        "198.51.100.10:3478",
        t.authed_then_appended(Method::REFRESH, tid(1), |b| b, |b| b.lifetime(0)),
    );
    s.udp(
        "192.0.2.10:40000",
        "198.51.100.10:3478",
        t.authed(Method::REFRESH, tid(2), |b| b.lifetime(0)),
    );
    let dir = tmpdir("unprotected");
    let path = dir.join("c.pcap");
    std::fs::write(&path, s.pcap()).unwrap();
    let out = bin()
        .args(["decode", "--format", "jsonl"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0]["unprotected_attributes"],
        serde_json::json!(["LIFETIME"])
    );
    assert!(lines[1].get("unprotected_attributes").is_none());
    let table = bin().arg("decode").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("AFTER-INTEGRITY=LIFETIME"), "{text}");
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let client = lab("webrtc-ok", "client.pcap");
    let runs: Vec<Vec<&str>> = vec![
        vec!["decode"],
        vec!["decode", "--format", "jsonl"],
        vec!["decode", "--stats", "--format", "jsonl"],
        vec!["analyze"],
        vec!["analyze", "--format", "json"],
        vec!["analyze", "--format", "markdown"],
        vec!["replay", "--credential", "turnuser:cisco"],
        vec![
            "replay",
            "--credential",
            "turnuser:cisco",
            "--format",
            "json",
        ],
    ];
    for args in runs {
        let mut child = bin()
            .args(&args)
            .arg(&client)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before the command writes anything: every write fails.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_command_reads_bundles_gzip_folders_and_stdin() {
    let client = std::fs::read(lab("bad-password", "client.pcap")).unwrap();
    let server = std::fs::read(lab("bad-password", "server.pcap")).unwrap();
    let dir = tmpdir("inputs");
    let bundle = dir.join("case.tgz");
    std::fs::write(
        &bundle,
        tgz(&[("c/client.pcap", client.clone()), ("s/server.pcap", server)]),
    )
    .unwrap();
    let gz = dir.join("client.pcap.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&client).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    let folder = lab("bad-password", "");

    // decode: a bundle's members are named bundle!member; a folder is every capture in it.
    let out = bin()
        .args(["decode", "--stats"])
        .arg(&bundle)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("case.tgz!c/client.pcap: 72 frames"), "{text}");
    assert!(text.contains("case.tgz!s/server.pcap: 78 frames"), "{text}");
    let out = bin()
        .args(["decode", "--stats"])
        .arg(&folder)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("client.pcap: 72 frames"), "{text}");
    assert!(text.contains("server.pcap: 78 frames"), "{text}");

    // `-` is standard input, gzip or not.
    for bytes in [client.clone(), std::fs::read(&gz).unwrap()] {
        let mut child = bin()
            .args(["decode", "--stats", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&bytes).unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.starts_with("-: 72 frames"), "{text}");
    }

    // replay: the same inputs.
    let out = bin()
        .args([
            "replay",
            "--credential",
            "turnuser:cisco",
            "--format",
            "json",
        ])
        .arg(&gz)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["requests"], 32);

    // analyze: a folder is one case.
    let out = bin()
        .args([
            "analyze",
            "--format",
            "json",
            "--credential",
            "turnuser:cisco",
        ])
        .arg(&folder)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["captures"].as_array().unwrap().len(), 2);
    assert!(v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "auth.password_mismatch"));
}

/// Run `args` with `stdin` (empty when `None`): exit code, standard output, standard error.
fn run_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> (Option<i32>, String, String) {
    let mut child = bin()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default()).unwrap();
    drop(pipe);
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn decode_replay_and_analyze_read_every_kind_of_input() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let pcapng = root.join("fixtures/pcapng/ok-udp-client.pcapng");
    let bundle = root.join("fixtures/bundles/alt-ok-udp.tar.gz");
    let dir = tmpdir("kinds");
    let gz = dir.join("client.pcap.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&std::fs::read(lab("bad-password", "client.pcap")).unwrap())
        .unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    let commands: [&[&str]; 3] = [
        &["decode", "--stats"],
        &[
            "replay",
            "--credential",
            "turnuser:cisco",
            "--format",
            "json",
        ],
        &["analyze", "--format", "json"],
    ];
    for command in commands {
        for input in [&pcapng, &gz, &bundle] {
            for from_stdin in [false, true] {
                let bytes = std::fs::read(input).unwrap();
                let path = input.to_str().unwrap();
                let mut args = command.to_vec();
                args.push(if from_stdin { "-" } else { path });
                let (code, out, err) = run_with_stdin(&args, from_stdin.then_some(&bytes[..]));
                let what = format!("{args:?} ({path})");
                assert_eq!(code, Some(0), "{what}: {err}");
                let read = match command[0] {
                    "decode" => out.contains(" frames, ") && !out.contains(": 0 frames"),
                    "replay" => serde_json::from_str::<serde_json::Value>(&out).unwrap()
                        ["requests"]
                        .as_u64()
                        .is_some_and(|n| n > 0),
                    _ => serde_json::from_str::<serde_json::Value>(&out).unwrap()["captures"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c["stun_messages"].as_u64() > Some(0))),
                };
                assert!(read, "{what}: nothing read: {out}");
            }
        }
    }
}

#[test]
fn a_folder_without_captures_says_so() {
    let empty = tmpdir("empty-folder");
    let notes = tmpdir("notes-folder");
    std::fs::write(
        notes.join("notes.txt"),
        "the customer says it fails from home\n",
    )
    .unwrap();
    for command in [
        vec!["decode"],
        vec!["replay", "--credential", "turnuser:cisco"],
        vec!["analyze"],
    ] {
        for (folder, says) in [
            (&empty, "folder holds no file to read"),
            (&notes, "notes.txt: not a pcap or pcapng file"),
        ] {
            let mut args = command.clone();
            args.push(folder.to_str().unwrap());
            let (code, _, err) = run_with_stdin(&args, None);
            assert_eq!(code, Some(1), "{args:?}: {err}");
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
}

#[test]
fn fail_on_and_the_format_from_out() {
    let case = |s: &str| [lab(s, "client.pcap"), lab(s, "server.pcap")];
    let run = |scenario: &str, extra: &[&str]| {
        bin()
            .arg("analyze")
            .args(case(scenario))
            .args(extra)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(run("bad-password", &["--fail-on", "error"]), Some(3));
    assert_eq!(run("bad-password", &["--fail-on", "warning"]), Some(3));
    assert_eq!(run("bad-password", &[]), Some(0));
    // flow.healthy is info only.
    assert_eq!(run("ok-udp", &["--fail-on", "warning"]), Some(0));
    assert_eq!(run("ok-udp", &["--fail-on", "error"]), Some(0));

    let dir = tmpdir("out-ext");
    for (file, starts) in [
        ("r.html", "<!doctype html>"),
        ("r.json", "{"),
        ("r.md", "#"),
        ("r.txt", "verdict: "),
    ] {
        let path = dir.join(file);
        assert_eq!(run("ok-udp", &["--out", path.to_str().unwrap()]), Some(0));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.trim_start().to_lowercase().starts_with(starts),
            "{file}: {}",
            &text[..text.len().min(80)]
        );
    }
    // --format wins over the extension.
    let path = dir.join("forced.html");
    run(
        "ok-udp",
        &["--format", "json", "--out", path.to_str().unwrap()],
    );
    assert!(std::fs::read_to_string(&path).unwrap().starts_with('{'));
}

#[test]
fn version_completions_and_manual() {
    let out = bin().arg("--version").output().unwrap();
    let v = String::from_utf8_lossy(&out.stdout);
    assert!(v.starts_with("turnscope "), "{v}");
    assert!(v.contains("commit "), "the version names the build: {v}");
    for shell in ["bash", "zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(s.contains("analyze") && s.contains("credential"), "{shell}");
    }
    let out = bin().arg("man").output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains(".TH turnscope 1"), "{s}");
    assert!(s.contains("analyze"), "{s}");
    for command in [
        None,
        Some("decode"),
        Some("analyze"),
        Some("replay"),
        Some("batch"),
    ] {
        let out = bin().args(command).arg("--help").output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let example = format!("  turnscope {}", command.unwrap_or(""));
        assert!(
            help.contains("Examples:") && help.contains(example.trim_end()),
            "{command:?}: {help}"
        );
    }
}
