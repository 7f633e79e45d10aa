//! Strings from the captures (user name, realm, reason phrase, SOFTWARE, SNI, file and folder
//! names) carrying terminal escape sequences, bidirectional overrides and markup come out of
//! every text format shown, never obeyed: the analyze table, Markdown and HTML, the JSON
//! report, `decode` (table and jsonl), the batch summary, and error messages.

use std::path::{Path, PathBuf};
use std::process::Command;

use turnscope::report::{html, markdown, table};
use turnscope::testsupport::{tid, tls_client_hello, tls_server_hello, Script, Turn};
use turnscope::wire::{Class, MessageBuilder, Method};
use turnscope::{analyze, AnalyzeOptions, Input, Report};

const CLIENT: &str = "10.1.1.10:50000";
const SERVER: &str = "198.51.100.20:3478";

const USER: &str = "ali\u{1b}[31mce|*_<b>bold</b>\u{202e}txt.exe";
const REALM: &str = "TAND\u{9b}2J`BERG`\n[link](http://x)";
const REASON: &str = "Unauth<script>alert('x')</script>\r\u{7f}&amp; \"q\"";
const SOFTWARE: &str = "srv\u{1b}]0;pwned\u{7}\u{2066}1.0";
const SNI: &str = "evil\u{1b}[2J<i>.example\u{2028}";
const FILE: &str = "case\u{1b}[2J|<x>\u{202d}.pcap";

/// Characters that must never come out raw (newlines only from the renderer's own layout).
fn hostile(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

fn assert_no_raw(what: &str, text: &str) {
    let chars: Vec<char> = text.chars().collect();
    if let Some(at) = chars.iter().position(|c| hostile(*c)) {
        let around: String = chars[at.saturating_sub(60)..(at + 8).min(chars.len())]
            .iter()
            .collect();
        panic!("{what}: raw {:?} in {around:?}", chars[at]);
    }
}

/// Challenge, then the authenticated Allocate rejected (user, realm, reason, SOFTWARE from the
/// strings above), and TURN over TLS with the SNI above.
fn script() -> Script {
    let t = Turn::new(USER, "pw", REALM);
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate(tid(1)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1)));
    s.after(5.0);
    s.udp(CLIENT, SERVER, t.allocate_auth(tid(2)));
    s.after(10.0);
    let rejected = MessageBuilder::new(Method::ALLOCATE, Class::Error, tid(2))
        .error_code(401, REASON)
        .nonce(t.nonce.as_bytes())
        .realm(REALM)
        .software(SOFTWARE)
        .fingerprint();
    s.udp(SERVER, CLIENT, rejected);
    let tls = "198.51.100.20:443";
    s.tcp_handshake("10.1.1.10:51000", tls);
    s.tcp_data("10.1.1.10:51000", tls, tls_client_hello(SNI));
    s.tcp_data(tls, "10.1.1.10:51000", tls_server_hello());
    s.after(3000.0);
    s
}

fn report() -> Report {
    let r = analyze(
        &[Input::bytes(FILE, script().pcap())],
        &AnalyzeOptions::default(),
    );
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    // The strings did reach the report (so the checks below check something).
    let rejected = r.finding("auth.rejected").expect("auth.rejected");
    for s in [USER, REALM, REASON] {
        assert!(
            rejected.summary.contains(s),
            "{s:?} not in {:?}",
            rejected.summary
        );
    }
    let tls = r.finding("transport.turn_tls").expect("transport.turn_tls");
    assert!(tls.summary.contains(SNI), "{:?}", tls.summary);
    assert_eq!(r.captures[0].path, FILE);
    r
}

#[test]
fn terminal_table_shows_escapes() {
    let text = table(&report());
    assert_no_raw("table", &text);
    for shown in [
        "ali\\x1b[31mce|*_<b>bold</b>\\u{202e}txt.exe",
        "TAND\\u{9b}2J`BERG`\\x0a[link](http://x)",
        "\\x0d\\x7f&amp;",
        "evil\\x1b[2J<i>.example\\u{2028}",
        "case\\x1b[2J|<x>\\u{202d}.pcap",
    ] {
        assert!(text.contains(shown), "{shown:?} not in\n{text}");
    }
}

/// `|` not preceded by a backslash (an escaped backslash before it does not escape it).
fn cell_separators(line: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => n += 1,
            _ => escaped = false,
        }
        if c != '\\' {
            escaped = false;
        }
    }
    n
}

#[test]
fn markdown_renders_input_as_text() {
    let md = markdown(&report());
    assert_no_raw("markdown", &md);
    // Markup from the input only ever appears escaped.
    for raw in [
        "<b>", "</b>", "<script>", "<i>", "[link](", "`BERG`", "*_", "<x>",
    ] {
        for (at, _) in md.match_indices(raw) {
            assert!(
                at > 0 && md.as_bytes()[at - 1] == b'\\',
                "unescaped {raw:?} in\n{md}"
            );
        }
    }
    assert!(
        md.contains("ali\\\\x1b\\[31mce\\|\\*\\_\\<b\\>bold\\</b\\>\\\\u{202e}txt.exe"),
        "{md}"
    );
    // Every table row keeps its cells: as many separators as its header.
    let mut header = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header = None;
            continue;
        }
        let n = cell_separators(line);
        match header {
            None => header = Some(n),
            Some(h) => assert_eq!(n, h, "cells of {line:?}"),
        }
    }
}

#[test]
fn html_escapes_text_attributes_and_svg() {
    let page = html(&report());
    assert_no_raw("html", &page);
    for raw in ["<b>", "<script>", "<i>", "<x>", "alert('x')", "\"q\""] {
        assert!(!page.contains(raw), "raw {raw:?} in the page");
    }
    for shown in [
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;",
        "&amp;amp; &quot;q&quot;",
        "\\u{202e}txt.exe",
        "case\\x1b[2J|&lt;x&gt;\\u{202d}.pcap",
    ] {
        assert!(page.contains(shown), "{shown:?} not in the page");
    }
}

#[test]
fn json_keeps_the_strings_and_writes_no_raw_controls() {
    let r = report();
    let text = r.json();
    assert_no_raw("json", &text);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["captures"][0]["path"], FILE);
    assert_eq!(v["allocations"][0]["username"], USER);
    assert_eq!(v["allocations"][0]["realm"], REALM);
    let reasons: Vec<&str> = v["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["reason"].as_str())
        .collect();
    assert!(reasons.contains(&REASON), "{reasons:?}");
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("turnscope-escape-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_capture(dir: &Path) -> PathBuf {
    let p = dir.join(FILE);
    std::fs::write(&p, script().pcap()).unwrap();
    p
}

fn run(args: &[&std::ffi::OsStr]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn decode_table_and_jsonl() {
    let dir = tmpdir("decode");
    let p = write_capture(&dir);
    let (table, _) = run(&["decode".as_ref(), p.as_os_str()]);
    assert_no_raw("decode table", &table);
    for shown in [
        "case\\x1b[2J|<x>\\u{202d}.pcap",
        "user=ali\\x1b[31mce|*_<b>bold</b>\\u{202e}txt.exe",
        "realm=TAND\\u{9b}2J`BERG`\\x0a[link](http://x)",
        "401 Unauth<script>alert('x')</script>\\x0d\\x7f",
    ] {
        assert!(table.contains(shown), "{shown:?} not in\n{table}");
    }
    let (jsonl, _) = run(&[
        "decode".as_ref(),
        "--format".as_ref(),
        "jsonl".as_ref(),
        p.as_os_str(),
    ]);
    assert_no_raw("decode jsonl", &jsonl);
    let mut software = Vec::new();
    for line in jsonl.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["capture"].as_str(), p.to_str());
        for a in v["attributes"].as_array().into_iter().flatten() {
            if a["name"] == "SOFTWARE" {
                software.push(a["value"].clone());
            }
        }
    }
    assert_eq!(software, [serde_json::json!(SOFTWARE)]);
    let (_, stderr) = run(&[
        "analyze".as_ref(),
        dir.join("gone\u{1b}[2J.pcap").as_os_str(),
    ]);
    assert!(stderr.contains("gone\\x1b[2J.pcap"), "{stderr}");
    assert_no_raw("stderr", &stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn batch_summary_and_reports() {
    let root = tmpdir("batch");
    let case = root.join("cases").join("ticket\u{1b}[2J|<b>");
    std::fs::create_dir_all(&case).unwrap();
    write_capture(&case);
    let out = root.join("out");
    let (stdout, _) = run(&[
        "batch".as_ref(),
        root.join("cases").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_no_raw("batch stdout", &stdout);
    assert!(stdout.contains("ticket\\x1b[2J|<b>"), "{stdout}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert_no_raw("summary.md", &summary);
    assert!(
        summary.contains("ticket\\\\x1b\\[2J\\|\\<b\\>"),
        "{summary}"
    );
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_no_raw(&p.display().to_string(), &text);
    }
    std::fs::remove_dir_all(&root).unwrap();
}
