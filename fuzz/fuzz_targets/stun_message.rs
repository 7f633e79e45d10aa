#![no_main]
//! Arbitrary bytes as a STUN / ChannelData payload: parse, walk, decode every attribute, verify.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    turnscope::wire::fuzzing::stun_message(data);
});
