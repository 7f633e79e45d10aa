//! chrome://webrtc-internals dumps -> a typed picture of each peer connection's ICE (servers,
//! candidates, candidate errors, pairs, selected pair, state timelines). Bytes in, model out: no
//! I/O here. Every format Chrome has written is read (see `fixtures/README.md`, "WebRTC
//! dumps"): the "Create Dump" JSON of every era (text or JSON configuration, `time` locale
//! strings or `timestamp` milliseconds, text or JSON event values, long or short stats ids,
//! legacy Google stats), gzip-compressed or not, and the newer RTCStats dump.
//!
//! Memory is bounded: at most [`MAX_DUMP_BYTES`] are decompressed, at most
//! [`MAX_PEER_CONNECTIONS`] peer connections, [`builder::MAX_EVENTS`] of each kind of event and
//! [`stats::MAX_STATS_OBJECTS`] stats objects per connection are kept (with only the last sample
//! of each ICE property); [`model::Dropped`] says what was left out.

mod builder;
pub mod config;
mod events;
mod internals;
pub mod model;
mod rtcstats;
mod stats;
pub mod time;
pub mod verdict;

use std::io::Read;

pub use builder::MAX_EVENTS;
pub use model::*;
pub use stats::MAX_STATS_OBJECTS;
pub use time::{EventTime, UtcTime};
pub use verdict::{verdicts, Verdict, VerdictKind};

/// Peer connections kept per dump.
pub const MAX_PEER_CONNECTIONS: usize = 256;
/// What a dump may be, decompressed (webrtc-internals keeps 1000 samples of each stats series:
/// real dumps of long calls reach tens of megabytes).
pub const MAX_DUMP_BYTES: u64 = 512 << 20;

/// Why bytes are not a dump that can be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    /// The bytes are not a webrtc-internals or RTCStats dump.
    #[error("not a WebRTC dump: {reason}")]
    NotADump {
        /// What is missing or wrong.
        reason: String,
    },
    /// The JSON does not parse.
    #[error("JSON error at line {line}, column {column}: {reason}")]
    Json {
        /// Line of the error, 1-based.
        line: usize,
        /// Column of the error, 1-based.
        column: usize,
        /// serde_json's message, without its position.
        reason: String,
    },
    /// The first line of an RTCStats dump is not a header this reader knows.
    #[error("RTCStats dump header: {reason}")]
    Header {
        /// What is wrong with the header.
        reason: String,
    },
    /// The gzip stream is corrupt or truncated.
    #[error("gzip: {reason}")]
    Gzip {
        /// The decompressor's error.
        reason: String,
    },
    /// The dump decompresses to more than [`MAX_DUMP_BYTES`].
    #[error("decompresses to more than {limit} bytes (the limit for a dump)")]
    TooLarge {
        /// The limit, bytes.
        limit: u64,
    },
}

impl DumpError {
    fn from_json(e: serde_json::Error) -> DumpError {
        // serde_json appends " at line L column C" to its messages; the fields carry them.
        let full = e.to_string();
        let reason = match full.rfind(" at line ") {
            Some(at) => full[..at].to_string(),
            None => full,
        };
        DumpError::Json {
            line: e.line(),
            column: e.column(),
            reason,
        }
    }
}

/// What the first bytes of a file say about it being a dump (the whole file need not be read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    /// `{` ... `"getUserMedia"` / `"PeerConnections"` near the start.
    WebrtcInternals,
    /// `RTCStatsDump` on the first line.
    RtcStats,
    /// gzip: decompress a little and sniff again (see [`sniff_gzip`]).
    Gzip,
    /// Anything else: not a dump.
    Other,
}

/// How far into a file the sniffers look.
pub const SNIFF_BYTES: usize = 4096;

/// Recognise a dump by its first bytes (at most [`SNIFF_BYTES`] are looked at).
pub fn sniff(head: &[u8]) -> Sniffed {
    let head = &head[..head.len().min(SNIFF_BYTES)];
    if head.starts_with(&[0x1f, 0x8b]) {
        return Sniffed::Gzip;
    }
    let text = strip_bom(head);
    let text = &text[text.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
    if text.starts_with(rtcstats::MAGIC) {
        return Sniffed::RtcStats;
    }
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    if text.first() == Some(&b'{') && (has(b"\"getUserMedia\"") || has(b"\"PeerConnections\"")) {
        return Sniffed::WebrtcInternals;
    }
    Sniffed::Other
}

/// Sniff what a gzip stream holds, decompressing at most [`SNIFF_BYTES`].
pub fn sniff_gzip(bytes: &[u8]) -> Sniffed {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    let reader = flate2::read::MultiGzDecoder::new(bytes).take(SNIFF_BYTES as u64);
    // A stream cut short still gives its first bytes.
    let _ = { reader }.read_to_end(&mut head);
    match sniff(&head) {
        Sniffed::Gzip => Sniffed::Other,
        s => s,
    }
}

fn strip_bom(b: &[u8]) -> &[u8] {
    b.strip_prefix(&[0xef, 0xbb, 0xbf]).unwrap_or(b)
}

/// Read a dump: either format, plain or gzip.
pub fn parse(bytes: &[u8]) -> Result<WebrtcDump, DumpError> {
    let gzipped = bytes.starts_with(&[0x1f, 0x8b]);
    let inflated;
    let text = if gzipped {
        inflated = gunzip(bytes)?;
        strip_bom(&inflated)
    } else {
        strip_bom(bytes)
    };
    let start = text.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let text = &text[start..];
    if text.starts_with(rtcstats::MAGIC) {
        let d = rtcstats::parse(text)?;
        let mut dump = assemble(DumpFormat::RtcStats, gzipped, d.peer_connections);
        dump.user_agent = d.user_agent;
        dump.dropped.peer_connections = d.peer_connections_dropped;
        dump.dropped.unreadable += d.unreadable_lines;
        return Ok(dump);
    }
    if text.first() != Some(&b'{') {
        return Err(DumpError::NotADump {
            reason: "neither a JSON object nor an RTCStatsDump".into(),
        });
    }
    let d = internals::parse(text)?;
    let mut dump = assemble(DumpFormat::WebrtcInternals, gzipped, d.peer_connections);
    dump.user_agent = d.user_agent;
    dump.dumped_at = d.dumped_at;
    dump.dropped.peer_connections = d.peer_connections_dropped;
    Ok(dump)
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, DumpError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_DUMP_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| DumpError::Gzip {
            reason: e.to_string(),
        })?;
    if out.len() as u64 > MAX_DUMP_BYTES {
        return Err(DumpError::TooLarge {
            limit: MAX_DUMP_BYTES,
        });
    }
    Ok(out)
}

fn assemble(format: DumpFormat, gzipped: bool, built: Vec<builder::Built>) -> WebrtcDump {
    let mut dropped = Dropped::default();
    let mut peer_connections = Vec::with_capacity(built.len());
    for b in built {
        dropped.events += b.dropped_events;
        dropped.stats_objects += b.stats_dropped;
        dropped.unreadable += b.unreadable;
        dropped.ice_servers += b.pc.config.servers_dropped;
        peer_connections.push(b.pc);
    }
    WebrtcDump {
        format,
        gzipped,
        user_agent: None,
        dumped_at: None,
        peer_connections,
        dropped,
    }
}

/// Entry points for the fuzz targets and property tests: parse, then walk the whole model and
/// the verdicts (nothing may panic, whatever the bytes).
#[doc(hidden)]
#[cfg(feature = "testsupport")]
pub mod fuzzing {
    pub fn webrtc_dump(data: &[u8]) {
        let _ = super::sniff(data);
        if let Ok(dump) = super::parse(data) {
            let _ = serde_json::to_string(&dump);
            let _ = dump.time_range();
            let _ = dump.turn_usernames();
            let _ = dump.relay_candidates().count();
            for v in super::verdicts(&dump) {
                let _ = (v.proposed_id(), v.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    fn internals_with(pcs: usize, states: usize) -> String {
        let mut log = String::new();
        for i in 0..states {
            let sep = if i == 0 { "" } else { "," };
            write!(
                log,
                r#"{sep}{{"type":"iceconnectionstatechange","value":"checking","timestamp":{}}}"#,
                1_700_000_000_000u64 + i as u64
            )
            .unwrap();
        }
        let mut pcs_json = String::new();
        for i in 0..pcs {
            let sep = if i == 0 { "" } else { "," };
            write!(pcs_json, r#"{sep}"1-{i}":{{"updateLog":[{log}]}}"#).unwrap();
        }
        format!(r#"{{"getUserMedia":[],"PeerConnections":{{{pcs_json}}}}}"#)
    }

    #[test]
    fn caps_are_kept_and_counted() {
        let d = parse(internals_with(MAX_PEER_CONNECTIONS + 3, 2).as_bytes()).unwrap();
        assert_eq!(d.peer_connections.len(), MAX_PEER_CONNECTIONS);
        assert_eq!(d.dropped.peer_connections, 3);
        let d = parse(internals_with(1, MAX_EVENTS + 5).as_bytes()).unwrap();
        assert_eq!(d.peer_connections[0].ice_states.len(), MAX_EVENTS);
        assert_eq!(d.dropped.events, 5);
    }

    #[test]
    fn rtcstats_caps_count_connections_once() {
        let mut text = String::from("RTCStatsDump\n{\"fileFormat\":3}\n");
        for round in 0..2 {
            for i in 0..MAX_PEER_CONNECTIONS + 2 {
                let delta = if round + i == 0 {
                    1_700_000_000_000u64
                } else {
                    1
                };
                writeln!(
                    text,
                    r#"["onicegatheringstatechange","1-{i}","\"gathering\"",{delta}]"#
                )
                .unwrap();
            }
        }
        let d = parse(text.as_bytes()).unwrap();
        assert_eq!(d.peer_connections.len(), MAX_PEER_CONNECTIONS);
        assert_eq!(d.dropped.peer_connections, 2);
        assert_eq!(d.dropped.unreadable, 0);
    }

    #[test]
    fn errors_say_what_and_where() {
        let e = parse(b"{\"PeerConnections\": {\n  \"1-1\": [}").unwrap_err();
        assert!(matches!(e, DumpError::Json { line: 2, .. }), "{e}");
        assert!(matches!(
            parse(b"{\"a\": 1}"),
            Err(DumpError::NotADump { .. })
        ));
        assert!(matches!(
            parse(b"\x1f\x8b\x08garbage"),
            Err(DumpError::Gzip { .. })
        ));
        let e = parse(b"RTCStatsDump\n{\"fileFormat\":2}\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "RTCStats dump header: file format 2 (only format 3, what Chrome writes, is read)"
        );
    }

    #[test]
    fn rtcstats_lines_not_chromes_are_counted() {
        let text = "RTCStatsDump\n{\"fileFormat\":3}\n\
            [\"create\",\"1-1\",{\"iceServers\":[{\"urls\":[\"turn:192.0.2.1:3478\"]}]},\"https://p/?token=x\",1700000000000]\n\
            [24,\"1-1\",\"\\\"checking\\\"\",10]\n\
            not json\n\
            [\"oniceconnectionstatechange\",\"1-1\",\"\\\"failed\\\"\",5000]\n";
        let d = parse(text.as_bytes()).unwrap();
        assert_eq!(d.dropped.unreadable, 2);
        let pc = &d.peer_connections[0];
        assert_eq!(pc.url.as_deref(), Some("https://p/"));
        assert_eq!(pc.ice_states.len(), 1);
        assert_eq!(
            pc.ice_states[0]
                .at
                .as_ref()
                .and_then(EventTime::utc)
                .map(|t| t.millis()),
            Some(1_700_000_005_010.0)
        );
    }

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff(b"  {\n \"getUserMedia\": []"),
            Sniffed::WebrtcInternals
        );
        assert_eq!(
            sniff(b"{\"cpuPerformance\":2,\"PeerConnections\":{}}"),
            Sniffed::WebrtcInternals
        );
        assert_eq!(sniff(b"RTCStatsDump\n{}"), Sniffed::RtcStats);
        assert_eq!(sniff(b"{\"other\": 1}"), Sniffed::Other);
        assert_eq!(sniff(&[0xd4, 0xc3, 0xb2, 0xa1]), Sniffed::Other);
        assert_eq!(sniff(&[0x1f, 0x8b]), Sniffed::Gzip);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, b"RTCStatsDump\n{\"fileFormat\":3}\n").unwrap();
        assert_eq!(sniff_gzip(&gz.finish().unwrap()), Sniffed::RtcStats);
    }
}
