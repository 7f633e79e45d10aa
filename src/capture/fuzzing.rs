//! Entry points for the cargo-fuzz targets (and for replaying their corpus as tests).
#![doc(hidden)]

use std::borrow::Cow;

use super::ip::TcpSegment;
use super::tcp::TcpReassembler;
use super::{CaptureFile, DatagramScan, Payload, ScanOptions, Scanned, Timestamp};

/// Treat `data` as a capture file and drain every event, checking a few invariants.
pub fn capture_file(data: &[u8]) {
    let Ok(file) = CaptureFile::from_bytes("fuzz".into(), data.to_vec()) else {
        return;
    };
    let _ = file.link_types();
    let frames = file.frame_count();
    let mut last = 0u32;
    let mut want = Vec::new();
    let mut events = file.events_batched(7);
    for batch in events.by_ref() {
        for ev in batch {
            if let Some(f) = ev.frame() {
                assert!(f >= 1 && u64::from(f) <= frames, "frame {f} of {frames}");
                last = last.max(f);
            }
            want.push(format!("{ev:?}"));
        }
    }
    assert_eq!(events.stats().frames, frames);
    // The parallel scan, cut into stretches of a size the input picks, must say the same.
    // One thread: the stretch logic is the same, and threads started per input would slow
    // the fuzzer down and trip its leak check on their thread-local bookkeeping.
    let stretch_bytes = 1 + usize::from(data.last().copied().unwrap_or(0)) * 7;
    let mut got = Vec::new();
    let stats = file.scan_with(
        &TakeNothing,
        ScanOptions {
            stretch_bytes,
            threads: 1,
        },
        |s| match s {
            Scanned::Stretch { events, .. } | Scanned::Events(events) => {
                got.extend(events.iter().map(|e| format!("{e:?}")))
            }
        },
    );
    assert_eq!(got, want, "scan with stretches of {stretch_bytes} bytes");
    assert_eq!(stats.frames, frames);
    // The streamed walk, in chunks of a size the input picks, must say the same too.
    let chunk = 1 + usize::from(data.get(data.len() / 2).copied().unwrap_or(0)) * 3;
    let mut streamed = Vec::new();
    let done = super::walk_read("fuzz", &mut &data[..], chunk, &mut |batch| {
        streamed.extend(batch.iter().map(|e| format!("{e:?}")))
    });
    let done = match done {
        Ok(done) => done,
        Err(e) => panic!("streamed walk refused what the mapped walk read: {e}"),
    };
    assert_eq!(streamed, want, "streamed in chunks of {chunk} bytes");
    assert_eq!(done.stats.frames, frames);
    assert_eq!(done.link_types, file.link_types());
}

struct TakeNothing;

impl DatagramScan for TakeNothing {
    type Part = ();
    fn part(&self) {}
    fn datagram(&self, _: &mut (), _: &Payload<'_>) -> bool {
        false
    }
}

/// Split `data` into TCP segments driven by the input itself and reassemble them: the first
/// byte of each chunk is a control byte (flags, and how far to shift the sequence number),
/// the next one the chunk length.
pub fn tcp_reassembly(data: &[u8]) {
    let src = "192.0.2.1:40000".parse().expect("literal address"); // ok: literal
    let dst = "198.51.100.2:3478".parse().expect("literal address"); // ok: literal
    let mut r = TcpReassembler::default();
    let mut out = Vec::new();
    let mut seq = 1000u32;
    let mut rest = data;
    let mut frame = 0u32;
    while let [ctl, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (chunk, after) = tail.split_at(n);
        rest = after;
        frame += 1;
        // Low bits: flags; high bits: jump the sequence number back or forward.
        let flags = match ctl & 0x7 {
            0 => 0x02,
            1 => 0x01 | 0x10,
            2 => 0x04,
            _ => 0x10,
        };
        let shift = i32::from(ctl >> 3) - 16;
        let this_seq = seq.wrapping_add((shift * 7) as u32);
        r.segment(
            frame,
            Timestamp(i64::from(frame)),
            TcpSegment {
                src: if ctl & 0x80 != 0 { dst } else { src },
                dst: if ctl & 0x80 != 0 { src } else { dst },
                seq: this_seq,
                ack: 0,
                flags,
                data: Cow::Borrowed(chunk),
                missing_tail: u32::from(ctl & 0x40 != 0) * 3,
            },
            &mut out,
        );
        seq = this_seq.wrapping_add(chunk.len() as u32);
        if out.len() > 10_000 {
            out.clear();
        }
    }
    r.finish(&mut out);
}
