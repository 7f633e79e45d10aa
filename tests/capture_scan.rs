//! `CaptureFile::scan` (stretches walked in parallel) gives what `CaptureFile::events` gives,
//! on every committed capture, the public ones when present, and crafted files whose payloads
//! hold fake record headers, for many stretch sizes and thread counts.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use turnscope::capture::{self, CaptureFile, DatagramScan, Event, Payload, ScanOptions, Scanned};

/// Takes nothing: every event comes back in order.
struct TakeNothing;

impl DatagramScan for TakeNothing {
    type Part = ();
    fn part(&self) {}
    fn datagram(&self, _: &mut (), _: &Payload<'_>) -> bool {
        false
    }
}

/// Takes every other datagram (by relative frame number), recording what it took.
struct TakeOdd;

impl DatagramScan for TakeOdd {
    type Part = Vec<String>;
    fn part(&self) -> Vec<String> {
        Vec::new()
    }
    fn datagram(&self, part: &mut Vec<String>, p: &Payload<'_>) -> bool {
        if p.frame % 2 == 1 {
            part.push(describe_payload(p, 0));
            true
        } else {
            false
        }
    }
}

fn describe_payload(p: &Payload<'_>, base: u32) -> String {
    format!(
        "{} {} {:?} {:?} {} {} {:02x?}",
        p.frame + base,
        p.ts.0,
        p.transport,
        p.framing,
        p.src,
        p.dst,
        &p.data[..]
    )
}

fn describe(ev: &Event<'_>) -> String {
    match ev {
        Event::Payload(p) => describe_payload(p, 0),
        other => format!("{other:?}"),
    }
}

fn reference(f: &CaptureFile) -> (Vec<String>, capture::CaptureStats) {
    let mut events = f.events();
    let mut out = Vec::new();
    for batch in events.by_ref() {
        out.extend(batch.iter().map(describe));
    }
    (out, events.stats().clone())
}

fn check(f: &CaptureFile, what: &str) {
    let (want, want_stats) = reference(f);
    for stretch_bytes in [37, 256, 1000, 4096, 65_536, 1 << 22] {
        for threads in [1, 2, 3] {
            let opts = ScanOptions {
                stretch_bytes,
                threads,
            };
            let mut got = Vec::new();
            let stats = f.scan_with(&TakeNothing, opts, |s| match s {
                Scanned::Stretch { events, .. } | Scanned::Events(events) => {
                    got.extend(events.iter().map(describe))
                }
            });
            assert_eq!(
                got, want,
                "{what}: stretch {stretch_bytes}, {threads} threads"
            );
            assert_eq!(stats, want_stats, "{what}: stretch {stretch_bytes}");

            // Taking some: what was taken plus what was left is everything, and left events
            // keep their order.
            let mut taken = Vec::new();
            let mut left = Vec::new();
            let stats = f.scan_with(&TakeOdd, opts, |s| match s {
                Scanned::Stretch {
                    part,
                    frame_base,
                    events,
                } => {
                    for t in part {
                        let (frame, rest) = t.split_once(' ').unwrap();
                        let frame: u32 = frame.parse().unwrap();
                        taken.push(format!("{} {rest}", frame + frame_base));
                    }
                    left.extend(events.iter().map(describe));
                }
                Scanned::Events(batch) => left.extend(batch.iter().map(describe)),
            });
            assert_eq!(
                stats, want_stats,
                "{what}: stretch {stretch_bytes} (taking)"
            );
            let mut all: Vec<String> = taken.iter().chain(&left).cloned().collect();
            let mut want_sorted = want.clone();
            all.sort();
            want_sorted.sort();
            assert_eq!(all, want_sorted, "{what}: stretch {stretch_bytes} (taking)");
            let left_in_order: Vec<&String> = want.iter().filter(|e| left.contains(e)).collect();
            assert_eq!(left.iter().collect::<Vec<_>>(), left_in_order);
        }
    }
}

#[test]
fn scan_matches_events_on_committed_fixtures() {
    let mut files = Vec::new();
    captures_under(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut files,
    );
    assert!(files.len() >= 50, "fixtures found: {}", files.len());
    for p in files {
        let f = capture::open(&p).unwrap();
        check(&f, &p.display().to_string());
    }
}

#[test]
fn scan_matches_events_on_public_captures_when_present() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(dir) = [
        here.join("../shared/pcaps"),
        PathBuf::from("/work/shared/pcaps"),
    ]
    .into_iter()
    .find(|p| p.is_dir()) else {
        eprintln!("skipped: no ../shared/pcaps");
        return;
    };
    let mut files = Vec::new();
    captures_under(&dir, &mut files);
    for p in files {
        if let Ok(f) = capture::open(&p) {
            check(&f, &p.display().to_string());
        }
    }
}

/// Payloads that are themselves pcap record headers with plausible chains: the guessed
/// starts land inside packets and must be corrected.
#[test]
fn scan_survives_payloads_that_look_like_records() {
    let mut fake = Vec::new();
    for i in 0..12u32 {
        fake.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        fake.extend_from_slice(&i.to_le_bytes());
        fake.extend_from_slice(&8u32.to_le_bytes());
        fake.extend_from_slice(&8u32.to_le_bytes());
        fake.extend_from_slice(&[0u8; 8]);
    }
    let frames: Vec<Vec<u8>> = (0..200u32)
        .map(|i| {
            let payload = if i % 3 == 0 {
                fake.clone()
            } else {
                stun(0x0001, 8 * (i as usize % 5), i as u8)
            };
            eth(
                0x0800,
                &ipv4_udp([10, 0, 0, 1], 5000, [10, 0, 0, 2], 3478, &payload),
            )
        })
        .collect();
    let packets: Vec<(u32, u32, &[u8])> = frames
        .iter()
        .enumerate()
        .map(|(i, d)| (1_700_000_000, i as u32, d.as_slice()))
        .collect();
    let f = CaptureFile::from_bytes("fake.pcap".into(), pcap_le(1, &packets)).unwrap();
    check(&f, "fake records");
    let f = CaptureFile::from_bytes("fake-be.pcap".into(), pcap_be_ns(1, &packets)).unwrap();
    check(&f, "fake records, big-endian ns");
}

/// A file cut inside its last record, and one with a corrupt record in the middle: the walk
/// ends where the sequential walk ends, with the same problem.
#[test]
fn scan_stops_where_the_walk_stops() {
    let bytes = udp_capture(300);
    let cut =
        CaptureFile::from_bytes("cut.pcap".into(), bytes[..bytes.len() - 5].to_vec()).unwrap();
    check(&cut, "cut");
    let mut corrupt = bytes.clone();
    // Claim a huge captured length in a record near the middle.
    let mut pos = 24usize;
    for _ in 0..150 {
        let incl = u32::from_le_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
        pos += 16 + incl;
    }
    corrupt[pos + 8..pos + 12].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    let corrupt = CaptureFile::from_bytes("corrupt.pcap".into(), corrupt).unwrap();
    check(&corrupt, "corrupt");
}

#[test]
fn scan_of_tcp_fragments_and_pcapng() {
    let (tcp, _) = tcp_capture();
    for (name, bytes) in [
        ("tcp", tcp),
        ("v4frag", ipv4_fragments_capture(&stun(0x0101, 3000, 7))),
        ("v6frag", ipv6_fragments_capture(&stun(0x0101, 3000, 9))),
        ("two.pcapng", pcapng_two_interfaces()),
        ("tls", tls_capture("turn.example.org")),
        ("icmp", icmp_capture(&stun(0x0001, 0, 1))),
    ] {
        let f = CaptureFile::from_bytes(name.into(), bytes).unwrap();
        check(&f, name);
    }
}

/// A pcapng file that declares interfaces after its first packets and starts a second section
/// (its own interface table) half-way: stretches guessed after those points start in the state
/// the leading blocks left, which is no longer the file's, and must be walked again from where
/// the walk before them ended.
fn pcapng_with_late_interfaces() -> Vec<u8> {
    let frame = |i: u32, link: u16| {
        let ip = ipv4_udp(
            [10, 0, 0, 1],
            1000,
            [10, 0, 0, 2],
            3478,
            &stun(0x0001, 40, i as u8),
        );
        if link == 1 {
            eth(0x0800, &ip)
        } else {
            sll2(0x0800, &ip)
        }
    };
    let mut b = shb();
    b.extend(idb(1, &[]));
    for i in 0..60 {
        b.extend(epb(0, 1_700_000_000_000_000 + u64::from(i), &frame(i, 1)));
    }
    // Declared after 60 packets, used from then on; the microsecond ticks read as nanoseconds.
    b.extend(idb(276, &[(9, vec![9])]));
    for i in 60..120 {
        b.extend(epb(
            i % 2,
            1_700_000_000_000_000 + u64::from(i),
            &frame(i, 1 + 275 * (i % 2) as u16),
        ));
    }
    // A new section: interface 0 is now SLL2, and interface 1 is undeclared.
    b.extend(shb());
    b.extend(idb(276, &[]));
    for i in 120..180 {
        b.extend(epb(0, 1_700_000_000_000_000 + u64::from(i), &frame(i, 276)));
    }
    b.extend(epb(1, 1_700_000_000_000_000, &frame(180, 1)));
    b
}

#[test]
fn scan_of_pcapng_declaring_interfaces_late() {
    let f = CaptureFile::from_bytes("late.pcapng".into(), pcapng_with_late_interfaces()).unwrap();
    let (events, stats) = reference(&f);
    assert_eq!(stats.frames, 181);
    assert!(events.len() >= 181, "{}", events.len());
    assert_eq!(f.link_types(), &[1, 276]);
    assert_eq!(stats.declared_links, f.link_types());
    check(&f, "late.pcapng");
}
