//! Arbitrary client / peer / timer input through the sans-IO TURN core.
//! The logic (and the invariants it asserts) lives in `turnscope::turn::fuzzing::core` so that
//! `tests/turn_fuzz_corpus.rs` replays the committed corpus on stable Rust.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = turnscope::turn::fuzzing::core(data);
});
