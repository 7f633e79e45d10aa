//! Inputs: a chrome://webrtc-internals dump among captures is recognised by its content (plain
//! or gzip, either of Chrome's files, whatever its name) and given back as a document; captures
//! and bundles resolve as before, and the commands say what a dump is instead of failing on it
//! as "not a pcap".

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use turnscope::input::{self, DocumentKind, Input};

fn lab(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/dumps/lab/guest-bad-password")
        .join(file)
}

fn gunzip(path: &Path) -> Vec<u8> {
    let gz = std::fs::read(path).expect("dump");
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

const LIMIT: u64 = 1 << 30;

#[test]
fn dumps_are_documents_by_content_captures_stay_captures() {
    let dir = std::env::temp_dir().join(format!("turnscope-docs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // A plain dump under a name that says nothing, as guests send them.
    let plain = dir.join("attachment-1");
    std::fs::write(&plain, gunzip(&lab("webrtc_internals_dump.gz"))).expect("write");
    let inputs = [
        Input::path(lab("guest.pcap")),
        Input::path(lab("webrtc_internals_dump.gz")),
        Input::path(lab("rtcstats_dump.gz")),
        Input::path(&plain),
        Input::bytes("stdin-like", gunzip(&lab("rtcstats_dump.gz"))),
    ];
    let r = input::resolve(&inputs, LIMIT);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    assert_eq!(r.captures.len(), 1);
    assert_eq!(r.documents.len(), 4);
    for d in &r.documents {
        assert_eq!(d.kind, DocumentKind::WebrtcDump);
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut d.reader().expect("opens"), &mut bytes).expect("reads");
        let dump = turnscope::sources::webrtc::parse(&bytes).expect("parses");
        assert_eq!(dump.peer_connections.len(), 1, "{}", d.name);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn other_json_and_text_are_not_documents() {
    let r = input::resolve(
        &[Input::bytes(
            "x.json",
            br#"{"PeerConnectionz": {}}"#.to_vec(),
        )],
        LIMIT,
    );
    assert!(r.documents.is_empty());
    assert_eq!(
        r.captures.len(),
        1,
        "left to the capture reader, which says why"
    );
}

fn turnscope(args: &[&Path]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .args(args)
        .output()
        .expect("run turnscope")
}

#[test]
fn commands_name_a_dump_instead_of_failing_on_it() {
    let dump = lab("webrtc_internals_dump.gz");
    let pcap = lab("guest.pcap");
    let decode = turnscope(&[Path::new("decode"), &pcap, &dump]);
    let err = String::from_utf8_lossy(&decode.stderr);
    assert_eq!(decode.status.code(), Some(0), "{err}");
    assert!(
        err.contains("a chrome://webrtc-internals dump, not a capture"),
        "{err}"
    );
    assert!(!err.contains("not a pcap"), "{err}");

    let analyze = turnscope(&[
        Path::new("analyze"),
        &pcap,
        &dump,
        Path::new("--format"),
        Path::new("json"),
    ]);
    let err = String::from_utf8_lossy(&analyze.stderr);
    assert_eq!(analyze.status.code(), Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_slice(&analyze.stdout).expect("json");
    assert_eq!(json["captures"].as_array().map(Vec::len), Some(1));
    // The dump is read as a document of the case, not refused.
    assert_eq!(json["errors"].as_array().map(Vec::len), Some(0), "{json}");
    assert_eq!(
        json["logs"]["documents"][0]["kind"], "webrtc_dump",
        "{json}"
    );
    assert_eq!(json["logs"]["documents"][0]["kept"], 1, "{json}");
}
