#![no_main]
//! Arbitrary bytes as a chrome://webrtc-internals dump (either file, plain or gzip): sniff,
//! parse, serialise the model, walk its accessors and the verdicts.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    turnscope::sources::webrtc::fuzzing::webrtc_dump(data);
});
