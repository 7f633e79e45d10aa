//! Opt-in checks against public captures in ../shared/pcaps (skipped when absent).
//!
//! The expected numbers were produced with TShark 4.0.17:
//!   frames:      `capinfos -c -M FILE`
//!   stun frames: `tshark -r FILE -Y stun -T fields -e frame.number | wc -l`
//! `tshark -Y stun` counts frames that hold STUN or ChannelData anywhere, including a STUN
//! header quoted in an ICMP error; we count frames with a payload that looks like STUN
//! (cookie, or a known legacy type) or ChannelData, plus ICMP unreachables quoting such.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use turnscope::capture::{self, Event, Framing};

fn dir() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../shared/pcaps"),
        PathBuf::from("/work/shared/pcaps"),
    ]
    .into_iter()
    .find(|p| p.join("README.md").exists())
}

fn looks_like_stun(d: &[u8]) -> bool {
    let Some(h) = d.get(..20) else { return false };
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    let ty = u16::from_be_bytes([h[0], h[1]]);
    let cookie = h[4..8] == [0x21, 0x12, 0xa4, 0x42];
    // With the cookie any length will do (some captures hold bad lengths on purpose);
    // without it (RFC 3489), the type must be known and the length exact.
    let legacy =
        (1..=0x0c).contains(&(ty & !0x0110)) && len.is_multiple_of(4) && 20 + len == d.len();
    h[0] & 0xc0 == 0 && (cookie || legacy)
}

fn looks_like_channel_data(d: &[u8]) -> bool {
    let Some(h) = d.get(..4) else { return false };
    let len = u16::from_be_bytes([h[2], h[3]]) as usize;
    (0x40..=0x7f).contains(&h[0]) && 4 + len <= d.len() && d.len() <= 4 + len + 3
}

struct Seen {
    frames: u64,
    stun_frames: BTreeSet<u32>,
    /// (frame, framing) of every payload.
    payloads: Vec<(u32, Framing)>,
    unreachable: Vec<u32>,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    problems: Vec<String>,
}

fn scan(path: &Path) -> Seen {
    let f = capture::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut seen = Seen {
        frames: f.frame_count(),
        stun_frames: BTreeSet::new(),
        payloads: Vec::new(),
        unreachable: Vec::new(),
        first_ts: None,
        last_ts: None,
        problems: Vec::new(),
    };
    let mut events = f.events();
    for batch in events.by_ref() {
        for ev in batch {
            match ev {
                Event::Payload(p) => {
                    seen.payloads.push((p.frame, p.framing));
                    seen.first_ts.get_or_insert(p.ts.0);
                    seen.last_ts = Some(p.ts.0);
                    if p.framing != Framing::Unframed
                        && (looks_like_stun(&p.data) || looks_like_channel_data(&p.data))
                    {
                        seen.stun_frames.insert(p.frame);
                    }
                }
                Event::Unreachable {
                    frame,
                    quoted_payload,
                    ..
                } => {
                    seen.unreachable.push(frame);
                    if quoted_payload.get(4..8) == Some(&[0x21, 0x12, 0xa4, 0x42][..]) {
                        seen.stun_frames.insert(frame);
                    }
                }
                Event::Problem(p) => seen.problems.push(format!("{:?}: {}", p.frame, p.kind)),
                _ => {}
            }
        }
    }
    assert_eq!(events.stats().frames, seen.frames, "{}", path.display());
    seen
}

/// (file, frames per capinfos, frames tshark shows as stun, frames we find STUN-like).
///
/// Where the last two differ:
/// - arkime_stun.pcap: frames 1, 6, 7 are RFC 3489 Binding requests (tshark: CLASSIC-STUN,
///   not matched by `-Y stun`); we count legacy messages too.
/// - ndpi_stun_classic.pcap: frames 1, 2 are RFC 3489 too.
/// - ndpi_teams.pcap: +6 frames (1416, 1417, 1431, 1432, 1437, 1439) are cookie STUN that
///   tshark's heuristics take for classic STUN; -2 frames (1424, 1427) are MS-TURN 0xff10
///   messages whose first two bits are not 00, which we do not call STUN.
const EXPECTED: &[(&str, u64, usize, usize)] = &[
    ("arkime_stun.pcap", 8, 1, 4),
    ("ndpi_adult_content.pcap", 25, 25, 25),
    ("ndpi_stun.pcap", 201, 172, 172),
    ("ndpi_stun_classic.pcap", 22, 0, 2),
    ("ndpi_stun_dtls_rtp.pcapng", 102, 43, 43),
    ("ndpi_stun_tcp_multiple_msgs_same_pkt.pcap", 5, 4, 4),
    ("ndpi_teams.pcap", 1540, 57, 61),
    ("pypacker_packets_stun.pcap", 1, 1, 1),
    ("zeek-spicy-stun_stun-attribute-length-ffff.pcap", 2, 2, 2),
    ("zeek-spicy-stun_stun-ice-testcall.pcap", 108, 108, 108),
    ("zeek-spicy-stun_stun-malformed-error.pcap", 2, 2, 2),
    ("zeek_webrtc-stun.pcap", 14, 10, 10),
];

fn check(name: &str, f: impl FnOnce(&Seen)) {
    let Some(dir) = dir() else {
        eprintln!("skipping: ../shared/pcaps not found");
        return;
    };
    let path = dir.join(name);
    if !path.exists() {
        eprintln!("skipping {name}: absent");
        return;
    }
    f(&scan(&path));
}

#[test]
fn frame_and_stun_counts_match_tshark() {
    for (name, frames, tshark_stun, our_stun) in EXPECTED {
        check(name, |seen| {
            eprintln!(
                "{name}: frames {} stun-like frames {} (tshark {tshark_stun}) problems {:?}",
                seen.frames,
                seen.stun_frames.len(),
                seen.problems
            );
            assert_eq!(seen.frames, *frames, "{name}: frame count");
            assert_eq!(
                seen.stun_frames.len(),
                *our_stun,
                "{name}: {:?}",
                seen.stun_frames
            );
        });
    }
}

#[test]
fn ndpi_stun_pcapng_details() {
    check("ndpi_stun.pcap", |seen| {
        // ICE-TCP with RFC 4571 framing in frames 3-14 (tshark: tcp.len 90-114, stun.type).
        let rfc4571: BTreeSet<u32> = seen
            .payloads
            .iter()
            .filter(|(_, f)| *f == Framing::Rfc4571)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(rfc4571, (3..=14).collect());
        // Frame 151 holds two TURN/TCP messages (tshark: stun.type 0x0008,0x0008).
        let in_151 = seen
            .payloads
            .iter()
            .filter(|(n, f)| *n == 151 && *f == Framing::Stream)
            .count();
        assert_eq!(in_151, 2);
        // Frame 24: ICMP port unreachable quoting a STUN response (not a payload).
        assert_eq!(seen.unreachable, vec![24]);
        assert!(!seen.payloads.iter().any(|(n, _)| *n == 24));
        assert!(seen.problems.is_empty(), "{:?}", seen.problems);
    });
}

#[test]
fn timestamps_match_tshark() {
    check("ndpi_stun.pcap", |_| {});
    let Some(dir) = dir() else { return };
    let f = capture::open(dir.join("ndpi_stun.pcap")).unwrap();
    let mut ts = Vec::new();
    for batch in f.events() {
        for ev in batch {
            if let Event::Tcp { frame, ts: t, .. } = ev {
                ts.push((frame, t.0));
            }
        }
    }
    // tshark -r ndpi_stun.pcap -Y 'frame.number==1' -T fields -e frame.time_epoch
    assert_eq!(ts.first(), Some(&(1, 1_568_718_599_876_883_000)));
}

#[test]
fn several_messages_per_segment() {
    check("ndpi_stun_tcp_multiple_msgs_same_pkt.pcap", |seen| {
        let in_5 = seen.payloads.iter().filter(|(n, _)| *n == 5).count();
        assert_eq!(in_5, 3, "{:?}", seen.payloads);
    });
}

/// Issue #9: no Cisco-specific finding (`version.*`, `nat.*`) on captures of other products,
/// each analysed alone and all of them as one case.
#[test]
fn no_cisco_specific_finding_on_other_products() {
    let Some(dir) = dir() else {
        eprintln!("skipping: ../shared/pcaps not found");
        return;
    };
    let mut all = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    for p in &files {
        let input = turnscope::Input::path(p);
        all.push(turnscope::Input::path(p));
        let r = turnscope::analyze(&[input], &turnscope::AnalyzeOptions::default());
        for f in &r.findings {
            assert!(
                !f.id.starts_with("version.") && !f.id.starts_with("nat."),
                "{}: {} {}",
                p.display(),
                f.id,
                f.summary
            );
        }
    }
    let r = turnscope::analyze(&all, &turnscope::AnalyzeOptions::default());
    assert!(
        !r.ids()
            .iter()
            .any(|id| id.starts_with("version.") || id.starts_with("nat.")),
        "{:?}",
        r.ids()
    );
}
