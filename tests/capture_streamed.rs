//! The streaming walk (a capture read chunk by chunk from a `Read`) gives the same events as
//! the memory-mapped walk, on every committed and public capture, whatever the chunk size;
//! rotated pieces walked as one capture give the events of the whole file.

use std::path::{Path, PathBuf};

use turnscope::capture::{self, walk_read, CaptureError, CaptureFile, Event, StreamWalk};

fn captures_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            captures_under(&p, out);
        } else if p.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
            out.push(p);
        }
    }
}

fn all_captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    captures_under(&root.join("fixtures"), &mut out);
    captures_under(&root.join("../shared/pcaps"), &mut out);
    out
}

fn mapped_events(bytes: &[u8]) -> (Vec<String>, u64) {
    let f = CaptureFile::from_bytes("c".into(), bytes.to_vec()).expect("capture");
    let mut ev = f.events();
    let mut out = Vec::new();
    for batch in ev.by_ref() {
        out.extend(batch.iter().map(|e| format!("{e:?}")));
    }
    (out, ev.stats().frames)
}

fn streamed_events(bytes: &[u8], chunk: usize) -> (Vec<String>, u64) {
    let mut out = Vec::new();
    let mut sink = |batch: &[Event<'_>]| out.extend(batch.iter().map(|e| format!("{e:?}")));
    let done = walk_read("c", &mut &bytes[..], chunk, &mut sink).expect("streamed capture");
    (out, done.stats.frames)
}

#[test]
fn streamed_walk_equals_the_mapped_walk_on_every_capture() {
    let files = all_captures();
    assert!(files.len() > 300, "{} captures", files.len());
    for path in files {
        let bytes = std::fs::read(&path).expect("read");
        let want = mapped_events(&bytes);
        // Chunks cutting every record (1, 7 bytes), some (100, 4096) and none.
        for chunk in [1, 7, 100, 4096, 1 << 20] {
            if chunk < 100 && bytes.len() > 40_000 {
                continue;
            }
            let got = streamed_events(&bytes, chunk);
            assert_eq!(got, want, "{} in chunks of {chunk}", path.display());
        }
        let f = CaptureFile::from_bytes("c".into(), bytes.clone()).expect("capture");
        let mut links = Vec::new();
        let mut walk = StreamWalk::new("c");
        walk.push(&bytes, &mut |_| {}).expect("push");
        walk.end_file(&mut |_| {}).expect("end");
        links.extend(walk.finish(&mut |_| {}).link_types);
        assert_eq!(links, f.link_types(), "{}", path.display());
    }
}

/// A little-endian microsecond pcap header with link type `link`.
fn pcap_header(link: u32) -> Vec<u8> {
    let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&262_144u32.to_le_bytes());
    v.extend_from_slice(&link.to_le_bytes());
    v
}

/// Cut a little-endian microsecond pcap into files of `per` records each, as `editcap -c`.
fn split_pcap(bytes: &[u8], per: usize) -> Vec<Vec<u8>> {
    let link = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    let mut pieces = vec![pcap_header(link)];
    let mut in_piece = 0;
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let incl = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
        let end = at + 16 + incl;
        if in_piece == per {
            pieces.push(pcap_header(link));
            in_piece = 0;
        }
        pieces
            .last_mut()
            .expect("a piece")
            .extend_from_slice(&bytes[at..end]);
        in_piece += 1;
        at = end;
    }
    pieces
}

#[test]
fn rotated_pieces_walked_as_one_capture_give_the_whole_files_events() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // TCP streams cross the cuts here (ok-tcp: STUN framed on one TCP stream).
    for rel in [
        "fixtures/deploy/default/ok-tcp/guest.pcap",
        "fixtures/deploy/default/ok-udp/expe-lan2.pcap",
        "fixtures/lab/default/webrtc-tcp/client.pcap",
    ] {
        let bytes = std::fs::read(root.join(rel)).expect("fixture");
        let (want, frames) = mapped_events(&bytes);
        for per in [1, 10, 37] {
            let pieces = split_pcap(&bytes, per);
            assert!(pieces.len() > 1);
            let mut got = Vec::new();
            let mut sink = |b: &[Event<'_>]| got.extend(b.iter().map(|e| format!("{e:?}")));
            let mut walk = StreamWalk::new("piece0");
            for (i, piece) in pieces.iter().enumerate() {
                if i > 0 {
                    walk.next_file(&format!("piece{i}"), &mut sink)
                        .expect("next");
                }
                for chunk in piece.chunks(333) {
                    walk.push(chunk, &mut sink).expect("push");
                }
            }
            walk.end_file(&mut sink).expect("end");
            let done = walk.finish(&mut sink);
            assert_eq!(done.stats.frames, frames, "{rel} per {per}");
            assert_eq!(done.file_frames.len(), pieces.len());
            assert_eq!(
                done.file_frames.iter().map(|&f| u64::from(f)).sum::<u64>(),
                frames
            );
            assert_eq!(got, want, "{rel} cut every {per} records");
        }
    }
}

#[test]
fn header_errors_and_files_ending_inside_a_record() {
    let e = walk_read(
        "notes.txt",
        &mut &b"2017-05-20\t19:43:21.805\tWarning"[..],
        8,
        &mut |_| {},
    )
    .expect_err("not a capture");
    assert!(matches!(e, CaptureError::NotACapture { .. }), "{e}");
    assert!(e.to_string().contains("notes.txt"));
    let e = walk_read("short", &mut &pcap_header(1)[..10], 3, &mut |_| {}).expect_err("short");
    assert!(
        matches!(e, CaptureError::TruncatedHeader { needed: 24, .. }),
        "{e}"
    );
    // A record claiming 4 GiB in a stream of a few bytes: said as the mapped walk says it,
    // without waiting for (or holding) 4 GiB.
    let mut b = pcap_header(1);
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(&[7; 100]);
    let want = mapped_events(&b);
    assert_eq!(streamed_events(&b, 5), want);
    assert!(
        want.0[0].contains("claims 4294967295 bytes, 100 remain"),
        "{want:?}"
    );
}

#[test]
fn a_record_larger_than_a_stream_may_hold_ends_the_file_with_a_problem() {
    // A pcapng block claiming 32 MiB, and the 32 MiB really there: the streamed walk does
    // not hold it, says why, and reads no further.
    let mut b = Vec::new();
    let shb: [u32; 7] = [
        0x0a0d_0d0a,
        28,
        0x1a2b_3c4d,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ];
    for w in shb {
        b.extend_from_slice(&w.to_le_bytes());
    }
    let total: u32 = 32 << 20;
    b.extend_from_slice(&0x0bad_u32.to_le_bytes());
    b.extend_from_slice(&total.to_le_bytes());
    b.resize(b.len() + total as usize - 12, 0);
    b.extend_from_slice(&total.to_le_bytes());
    let (events, _) = streamed_events(&b, 1 << 20);
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(
        events[0].contains("more than a streamed capture record may hold"),
        "{events:?}"
    );
    let _ = capture::DEFAULT_BATCH_FRAMES;
}
