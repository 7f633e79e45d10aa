//! Packet records as the file holds them: the bytes as captured, the time, the link type and
//! the frame number Wireshark shows. What `analyze --export` copies into a new capture.
//!
//! Both walks use the same record walk as the analysis, so a frame number here is the frame
//! number the findings' evidence names. [`CaptureFile::raw_frames`] walks a mapped (or
//! in-memory) file; [`walk_raw_read`] walks a stream (a bundle member, a gzip) holding at most
//! one chunk and one record that a chunk cut short.

use std::io::Read;

use super::source::{header_format, Item, Kind, RecordReader, HEADER_BYTES, MAX_STREAMED_RECORD};
use super::{CaptureError, CaptureFile, CaptureFormat, Timestamp};

/// Bytes read from a stream at a time by [`walk_raw_read`].
const RAW_CHUNK: usize = 256 * 1024;

/// One packet record, borrowed from the capture bytes (or the stream's buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame<'a> {
    /// 1-based frame number in its file, as Wireshark shows it.
    pub frame: u32,
    /// When the record was captured, as the file says (nanoseconds since the Unix epoch).
    pub ts: Timestamp,
    /// The link type of the interface the record was captured on.
    pub link: u32,
    /// The bytes as captured (may be fewer than `orig_len`: cut by the snap length).
    pub data: &'a [u8],
    /// The length of the packet on the wire.
    pub orig_len: u32,
}

/// Bytes walked between two drops of a mapped file's walked pages.
const FORGET_EVERY: usize = 8 << 20;

/// Iterator over the packet records of a capture file; see [`CaptureFile::raw_frames`].
pub struct RawFrames<'a> {
    file: &'a CaptureFile,
    reader: RecordReader<'a>,
    /// Where the walked pages were last dropped.
    forgotten: usize,
}

impl CaptureFile {
    /// The packet records in file order. Records that carry no readable packet (and
    /// file-level problems) are passed over; they still count in the frame numbers. The pages
    /// of a mapped file are dropped behind the walk, as in the analysis's scan, so a walk of
    /// a large capture does not keep it all resident.
    pub fn raw_frames(&self) -> RawFrames<'_> {
        RawFrames {
            file: self,
            reader: self.records(),
            forgotten: 0,
        }
    }
}

impl<'a> Iterator for RawFrames<'a> {
    type Item = RawFrame<'a>;

    fn next(&mut self) -> Option<RawFrame<'a>> {
        loop {
            let at = self.reader.pos();
            if at >= self.forgotten + FORGET_EVERY {
                self.file.forget_pages(self.forgotten, at);
                self.forgotten = at;
            }
            if let Item::Packet(r) = self.reader.next_item()? {
                return Some(RawFrame {
                    frame: r.frame,
                    ts: r.ts,
                    link: r.link,
                    data: r.data,
                    orig_len: r.orig_len,
                });
            }
        }
    }
}

/// Where a streamed walk is between two chunks.
enum StreamState {
    /// The file header is not complete yet.
    Header,
    Fresh(CaptureFormat),
    Records {
        kind: Kind,
        frames: u32,
        base: u64,
    },
    /// A problem ended the file (or a record larger than a streamed record may be).
    Stopped,
}

/// Walk the packet records of a capture read from `r` (named `name` in errors), handing each
/// to `sink` in file order; returns the frames walked. Memory: one chunk and at most one
/// record of up to 16 MiB that a chunk cut short. Fails only on a read error or when the
/// stream is no capture; a record cut short at the end ends the walk quietly (the analysis
/// says so).
pub fn walk_raw_read(
    name: &str,
    r: &mut dyn Read,
    sink: &mut dyn FnMut(RawFrame<'_>),
) -> Result<u32, CaptureError> {
    let io = |source| CaptureError::Io {
        file: name.to_string(),
        source,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(RAW_CHUNK);
    let mut state = StreamState::Header;
    let mut frames = 0u32;
    loop {
        let kept = buf.len();
        buf.resize(kept + RAW_CHUNK, 0);
        let n = loop {
            match r.read(buf.get_mut(kept..).unwrap_or_default()) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(e)),
            }
        };
        buf.truncate(kept + n);
        let more = n > 0;
        if let StreamState::Header = state {
            if buf.len() < HEADER_BYTES && more {
                continue;
            }
            state = StreamState::Fresh(header_format(name, &buf)?);
        }
        let used = walk_buffer(&buf, &mut state, more, &mut frames, sink);
        buf.drain(..used.min(buf.len()));
        if !more || matches!(state, StreamState::Stopped) {
            return Ok(frames);
        }
    }
}

/// Walk the records `buf` holds from the state the last buffer left; returns the bytes used
/// (the rest starts a record the next bytes complete).
fn walk_buffer(
    buf: &[u8],
    state: &mut StreamState,
    more: bool,
    frames: &mut u32,
    sink: &mut dyn FnMut(RawFrame<'_>),
) -> usize {
    let (mut reader, base) = match state {
        StreamState::Fresh(format) => (RecordReader::stream_start(buf, *format, more), 0),
        StreamState::Records { kind, frames, base } => (
            RecordReader::stream_resume(buf, kind.clone(), *frames, *base, more),
            *base,
        ),
        StreamState::Header | StreamState::Stopped => return buf.len(),
    };
    while let Some(item) = reader.next_item() {
        if let Item::Packet(r) = item {
            sink(RawFrame {
                frame: r.frame,
                ts: r.ts,
                link: r.link,
                data: r.data,
                orig_len: r.orig_len,
            });
        }
    }
    *frames = reader.frames();
    let oversized = reader
        .starved()
        .is_some_and(|cut| cut.needed() > MAX_STREAMED_RECORD as u64);
    *state = if reader.stopped() || oversized {
        StreamState::Stopped
    } else {
        StreamState::Records {
            kind: reader.kind().clone(),
            frames: reader.frames(),
            base: base.saturating_add(reader.pos() as u64),
        }
    };
    reader.pos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::source::tests::pcap;

    fn frames_of(bytes: &[u8], chunk: usize) -> Vec<(u32, Vec<u8>)> {
        struct Chunked<'a>(&'a [u8], usize);
        impl Read for Chunked<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(out.len());
                let (head, rest) = self.0.split_at(n);
                out[..n].copy_from_slice(head);
                self.0 = rest;
                Ok(n)
            }
        }
        let mut got = Vec::new();
        walk_raw_read("t.pcap", &mut Chunked(bytes, chunk), &mut |f| {
            got.push((f.frame, f.data.to_vec()))
        })
        .unwrap();
        got
    }

    #[test]
    fn streamed_and_mapped_walks_give_the_same_frames() {
        let big = vec![7u8; 3000];
        let file = pcap(1, &[(1, 0, &[1, 2, 3]), (2, 0, &big), (3, 0, &[9])]);
        let mapped: Vec<(u32, Vec<u8>)> = CaptureFile::from_bytes("t.pcap".into(), file.clone())
            .unwrap()
            .raw_frames()
            .map(|f| (f.frame, f.data.to_vec()))
            .collect();
        assert_eq!(mapped.len(), 3);
        assert_eq!(mapped[1], (2, big.clone()));
        // Chunks smaller than the header and than a record: records are carried over.
        for chunk in [1, 7, 100, 4096] {
            assert_eq!(frames_of(&file, chunk), mapped, "chunk {chunk}");
        }
    }
}
