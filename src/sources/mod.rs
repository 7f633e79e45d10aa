//! Evidence other than packet captures, read from bytes (no I/O here): what the guest's browser
//! says about its side of the call. Today: chrome://webrtc-internals dumps ([`webrtc`]).
//! `analyze` does not use them yet; the join with the Expressway-E capture (relay addresses,
//! TURN usernames, time) is built on [`webrtc::WebrtcDump`].

pub mod webrtc;
