#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    turnscope::capture::fuzzing::capture_file(data);
    // The same bytes through the flows (STUN, DNS, TLS, HTTP) and every rule.
    turnscope::diagnose::fuzzing::capture_case(data);
});
