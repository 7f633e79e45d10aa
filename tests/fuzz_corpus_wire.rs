//! Replays the committed cargo-fuzz corpus of the STUN parser as an ordinary test.

use std::path::Path;

#[test]
fn stun_message_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/stun_message");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory").flatten() {
        let data = std::fs::read(entry.path()).expect("corpus file");
        turnscope::wire::fuzzing::stun_message(&data);
        n += 1;
    }
    assert!(n >= 5, "corpus has {n} inputs");
}
