//! Replays the committed `turn_core` fuzz corpus (seeds and anything the fuzzer found) through
//! the same harness the fuzz target runs, on stable Rust.

use std::path::Path;

use turnscope::turn::fuzzing::{core, Reached};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/turn_core");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn corpus_replays_without_violations() {
    let all = corpus();
    assert!(all.len() >= 7, "seeds are committed");
    for (name, data) in &all {
        let r = std::panic::catch_unwind(|| core(data));
        assert!(r.is_ok(), "corpus input {name} violates an invariant");
    }
}

#[test]
fn seeds_reach_relaying() {
    for (name, data) in corpus() {
        let r: Reached = core(&data);
        if name.ends_with("-flow") || name == "two-clients" {
            assert!(r.allocations >= 1, "{name}: {r:?}");
            assert!(r.to_peer >= 2, "{name}: {r:?}");
            assert!(r.to_client_data >= 1, "{name}: {r:?}");
        }
    }
}
