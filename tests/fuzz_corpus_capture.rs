//! Replays the cargo-fuzz corpora of the capture targets as ordinary tests, through the same
//! functions the fuzz targets call.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        panic!("no corpus at {}", dir.display());
    };
    let mut n = 0;
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_file() {
            let data = std::fs::read(&path).unwrap();
            eprintln!("{}", path.display());
            f(&data);
            n += 1;
        }
    }
    n
}

#[test]
fn capture_file_corpus() {
    let n = replay("capture_file", |data| {
        turnscope::capture::fuzzing::capture_file(data);
        turnscope::diagnose::fuzzing::capture_case(data);
    });
    assert!(n > 0);
}

#[test]
fn tcp_reassembly_corpus() {
    let n = replay(
        "tcp_reassembly",
        turnscope::capture::fuzzing::tcp_reassembly,
    );
    assert!(n > 0);
}
