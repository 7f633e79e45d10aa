//! Replays the committed cargo-fuzz corpus of the WebRTC dump parser as an ordinary test.

use std::path::Path;

#[test]
fn webrtc_dump_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/webrtc_dump");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory").flatten() {
        let data = std::fs::read(entry.path()).expect("corpus file");
        turnscope::sources::webrtc::fuzzing::webrtc_dump(&data);
        n += 1;
    }
    assert!(n >= 10, "corpus has {n} inputs");
}
