//! A capture walked as its bytes arrive: from a decompressor, a bundle entry, a pipe. The
//! memory-mapped walks ([`CaptureFile::events`](super::CaptureFile::events),
//! [`CaptureFile::scan`](super::CaptureFile::scan)) need the whole file at hand; this one
//! holds at most one record that a chunk cut short, so memory does not grow with the
//! capture.
//!
//! The same stages run as in the mapped walks (record walk, link, IP, UDP, ICMP, then IP
//! defragmentation and TCP reassembly in frame order) and give the same events: the record
//! walk runs over each chunk in place, and only a record cut by a chunk's end is copied, to
//! be completed by the next chunk. Data that the stateful stages keep across chunks (TCP
//! segments waiting for a gap, IP fragments) is copied, since the chunk is gone by then.
//!
//! Several files can be walked as one capture ([`StreamWalk::next_file`]): the rotated
//! pieces of one interface's tcpdump. Frame numbers go on from one file to the next, and TCP
//! streams and fragments carry over, as if the pieces were one file.

use std::borrow::Cow;
use std::io::Read;

use super::ip::{Fragment, TcpSegment};
use super::scan::rebase;
use super::source::{
    header_format, CutShort, Item, Kind, RecordReader, HEADER_BYTES, MAX_STREAMED_RECORD,
};
use super::{
    parse_item, CaptureError, CaptureFormat, CaptureStats, Event, FrameOut, Parsed1, ProblemKind,
    Stateful, Timestamp, SUB_BATCH,
};

/// Where the walk of the current file is.
enum FileState {
    /// Waiting for the file header ([`HEADER_BYTES`], or the file's end).
    Header,
    /// The header is read; the first walk starts at the file's first byte.
    Fresh(CaptureFormat),
    /// Walking records, with the reader state.
    Records(Kind),
    /// A record claims more than a streamed record may hold: its bytes are counted, not
    /// kept, to say how the file ends.
    Oversized { cut: CutShort, seen: u64 },
    /// The file ended on a problem that ends it: the rest of its bytes are ignored.
    Stopped,
    /// [`StreamWalk::end_file`] was called; [`StreamWalk::next_file`] starts another.
    Ended,
}

/// What a streamed capture gave, once walked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Streamed {
    /// What the walk counted, all files together.
    pub stats: CaptureStats,
    /// Link types the files declared, in order of appearance (as
    /// [`CaptureFile::link_types`](super::CaptureFile::link_types)).
    pub link_types: Vec<u32>,
    /// Frames of each file walked, in order.
    pub file_frames: Vec<u32>,
}

/// The walk of one capture (or of consecutive files forming one) fed chunk by chunk.
///
/// ```
/// use turnscope::capture::{Event, StreamWalk};
/// // A pcap file header (little endian, microseconds, Ethernet) and no packets.
/// let mut bytes = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
/// bytes.extend([0; 8]);
/// bytes.extend(65535u32.to_le_bytes());
/// bytes.extend(1u32.to_le_bytes());
/// let mut walk = StreamWalk::new("call.pcap");
/// let mut payloads = 0;
/// let mut count = |events: &[Event<'_>]| payloads += events.len();
/// for chunk in bytes.chunks(4096) {
///     walk.push(chunk, &mut count)?;
/// }
/// walk.end_file(&mut count)?;
/// let done = walk.finish(&mut count);
/// assert_eq!(done.stats.frames, 0);
/// # Ok::<(), turnscope::capture::CaptureError>(())
/// ```
pub struct StreamWalk {
    /// The current file's name (for header errors).
    name: String,
    /// Bytes of the current file not walked yet: the start of a record (or of the file) that
    /// the last chunk cut short.
    pending: Vec<u8>,
    /// Offset in the current file of the next byte to walk (`pending[0]`, or the chunk's).
    offset: u64,
    /// The record `pending` starts, when the walk knows what it claims.
    cut: Option<CutShort>,
    file: FileState,
    /// Frames of the current file so far.
    file_frames: u32,
    /// Frames of the files before the current one: its frame numbers go on from there.
    frame_base: u32,
    stages: Stateful<'static>,
    /// Events of the stateful stages on their way into a batch.
    held: Vec<Event<'static>>,
    /// The latest record time walked (all files).
    last_ts: Option<Timestamp>,
    done: Streamed,
}

impl StreamWalk {
    /// A walk whose first file is called `name`.
    pub fn new(name: &str) -> StreamWalk {
        StreamWalk {
            name: name.to_string(),
            pending: Vec::new(),
            offset: 0,
            cut: None,
            file: FileState::Header,
            file_frames: 0,
            frame_base: 0,
            stages: Stateful::default(),
            held: Vec::new(),
            last_ts: None,
            done: Streamed::default(),
        }
    }

    /// The next bytes of the current file. `sink` gets the events they complete, in frame
    /// order, in batches. Fails only when the file's first bytes are no capture.
    pub fn push(
        &mut self,
        mut chunk: &[u8],
        sink: &mut dyn FnMut(&[Event<'_>]),
    ) -> Result<(), CaptureError> {
        while !chunk.is_empty() {
            match &mut self.file {
                FileState::Stopped | FileState::Ended => return Ok(()),
                FileState::Oversized { cut, seen } => {
                    *seen = seen.saturating_add(chunk.len() as u64);
                    if *seen >= cut.needed() {
                        let problem = oversized(*cut);
                        self.stop(problem, sink);
                    }
                    return Ok(());
                }
                _ => {}
            }
            if self.pending.is_empty() && !matches!(self.file, FileState::Header) {
                let walked = self.walk(chunk, true, sink);
                let tail = chunk.get(walked..).unwrap_or_default();
                self.keep_tail(tail);
                return Ok(());
            }
            // `pending` holds the start of a record or of the file: add what it lacks.
            let lacks = self.lacks();
            let take = lacks.min(chunk.len());
            let (head, rest) = chunk.split_at(take);
            self.pending.extend_from_slice(head);
            chunk = rest;
            if take < lacks {
                return Ok(());
            }
            if matches!(self.file, FileState::Header) {
                self.file = FileState::Fresh(header_format(&self.name, &self.pending)?);
            }
            let pending = std::mem::take(&mut self.pending);
            let walked = self.walk(&pending, true, sink);
            self.keep_tail(pending.get(walked..).unwrap_or_default());
        }
        Ok(())
    }

    /// The current file ends here: a record it cuts short is a problem, as at the end of a
    /// mapped file. Fails when the file is too short to be a capture or is none.
    pub fn end_file(&mut self, sink: &mut dyn FnMut(&[Event<'_>])) -> Result<(), CaptureError> {
        if matches!(self.file, FileState::Ended) {
            return Ok(());
        }
        let header = match self.file {
            FileState::Header => header_format(&self.name, &self.pending).map(FileState::Fresh),
            _ => Ok(std::mem::replace(&mut self.file, FileState::Stopped)),
        };
        match header {
            Ok(FileState::Oversized { cut, seen }) => self.stop(cut.at_end(seen), sink),
            Ok(state @ (FileState::Fresh(_) | FileState::Records(_))) => {
                self.file = state;
                let pending = std::mem::take(&mut self.pending);
                self.walk(&pending, false, sink);
            }
            Ok(_) => {}
            Err(e) => {
                self.close_file();
                return Err(e);
            }
        }
        self.close_file();
        Ok(())
    }

    /// Count the current file's frames and wait for the next file.
    fn close_file(&mut self) {
        self.done.file_frames.push(self.file_frames);
        self.frame_base = self.frame_base.saturating_add(self.file_frames);
        self.file_frames = 0;
        self.pending = Vec::new();
        self.offset = 0;
        self.cut = None;
        self.file = FileState::Ended;
    }

    /// Start the next file of the same capture: its frames are numbered on from the last
    /// one's, TCP streams carry over. Ends the current file first if need be.
    pub fn next_file(
        &mut self,
        name: &str,
        sink: &mut dyn FnMut(&[Event<'_>]),
    ) -> Result<(), CaptureError> {
        let ended = self.end_file(sink);
        self.name = name.to_string();
        self.file = FileState::Header;
        ended
    }

    /// The latest record time walked so far (all files).
    pub fn last_record_ts(&self) -> Option<Timestamp> {
        self.last_ts
    }

    /// Frames walked so far, all files together.
    pub fn frames(&self) -> u32 {
        self.frame_base.saturating_add(self.file_frames)
    }

    /// The capture ends: what the stateful stages still hold (TCP data waiting for a frame,
    /// fragments never completed) goes to `sink`.
    pub fn finish(mut self, sink: &mut dyn FnMut(&[Event<'_>])) -> Streamed {
        // A caller that did not end the last file does not ask for its header error.
        let _ = self.end_file(sink);
        self.stages.finish(&mut self.held);
        if !self.held.is_empty() {
            sink(&self.held);
        }
        self.done.stats = std::mem::take(&mut self.stages.stats);
        self.done
    }

    /// Bytes `pending` lacks before the walk can go on.
    fn lacks(&self) -> usize {
        match (&self.file, self.cut) {
            (FileState::Header, _) => HEADER_BYTES.saturating_sub(self.pending.len()),
            (_, Some(cut)) => {
                let needed = usize::try_from(cut.needed()).unwrap_or(usize::MAX);
                needed.saturating_sub(self.pending.len()).max(1)
            }
            (_, None) => 1,
        }
    }

    /// Keep what the walk could not finish (the start of a record) for the next chunk,
    /// unless the record is larger than any a streamed capture may hold.
    fn keep_tail(&mut self, tail: &[u8]) {
        if let Some(cut) = self.cut.filter(|c| c.needed() > MAX_STREAMED_RECORD as u64) {
            self.file = FileState::Oversized {
                cut,
                seen: tail.len() as u64,
            };
            self.pending = Vec::new();
            return;
        }
        self.pending.extend_from_slice(tail);
    }

    /// Walk the records `buf` holds, from the walk's current position; returns how many
    /// bytes of `buf` it used. `more`: bytes follow `buf` in the file.
    fn walk(&mut self, buf: &[u8], more: bool, sink: &mut dyn FnMut(&[Event<'_>])) -> usize {
        let reader = match &self.file {
            FileState::Fresh(format) => RecordReader::stream_start(buf, *format, more),
            FileState::Records(kind) => {
                RecordReader::stream_resume(buf, kind.clone(), self.file_frames, self.offset, more)
            }
            _ => return 0,
        };
        let end = walk_records(
            reader,
            self.frame_base,
            &mut self.stages,
            &mut self.held,
            sink,
        );
        self.last_ts = self.last_ts.max(end.last_ts);
        for link in end.links {
            if !self.done.link_types.contains(&link) {
                self.done.link_types.push(link);
            }
        }
        let walked = end.pos.min(buf.len());
        self.offset = self.offset.saturating_add(walked as u64);
        self.cut = end.starved;
        self.file_frames = end.frames;
        self.file = if end.stopped {
            FileState::Stopped
        } else {
            FileState::Records(end.kind)
        };
        walked
    }

    /// End the current file on `problem`: nothing more of it is walked.
    fn stop(&mut self, problem: ProblemKind, sink: &mut dyn FnMut(&[Event<'_>])) {
        let mut out = Vec::new();
        self.stages.problem(None, problem, &mut out);
        sink(&out);
        self.file = FileState::Stopped;
        self.pending = Vec::new();
    }
}

/// A record claiming more than a streamed record may hold.
fn oversized(cut: CutShort) -> ProblemKind {
    ProblemKind::Malformed {
        layer: "capture record",
        detail: format!(
            "the record at byte offset {} claims {} bytes, more than a streamed capture \
             record may hold ({MAX_STREAMED_RECORD} bytes): the rest of the file is not read",
            cut.at(),
            cut.needed()
        ),
    }
}

/// Where the walk of one buffer ended.
struct WalkEnd {
    pos: usize,
    kind: Kind,
    frames: u32,
    starved: Option<CutShort>,
    stopped: bool,
    links: Vec<u32>,
    last_ts: Option<Timestamp>,
}

/// Walk, parse and run the stateful stages over the records of one buffer, handing events
/// to `sink` a sub-batch at a time (they borrow from the buffer).
fn walk_records<'b>(
    mut reader: RecordReader<'b>,
    frame_base: u32,
    stages: &mut Stateful<'static>,
    held: &mut Vec<Event<'static>>,
    sink: &mut dyn FnMut(&[Event<'_>]),
) -> WalkEnd {
    let mut out: Vec<Event<'b>> = Vec::new();
    let mut last_ts = None;
    loop {
        let mut walked = 0;
        while walked < SUB_BATCH {
            let Some(item) = reader.next_item() else {
                break;
            };
            walked += 1;
            if let Item::Packet(r) = &item {
                last_ts = last_ts.max(Some(r.ts));
            }
            let mut parsed = parse_item(item);
            rebase(&mut parsed, frame_base);
            apply_streamed(stages, parsed, &mut out, held);
        }
        if !out.is_empty() {
            sink(&out);
            out.clear();
        }
        if walked < SUB_BATCH {
            break;
        }
    }
    WalkEnd {
        pos: reader.pos(),
        kind: reader.kind().clone(),
        frames: reader.frames(),
        starved: reader.starved(),
        stopped: reader.stopped(),
        links: reader.declared_links(),
        last_ts,
    }
}

/// [`Stateful::apply`] for a frame borrowed from a buffer that is gone before the stages
/// are done with it: what they keep is copied first.
fn apply_streamed<'b>(
    stages: &mut Stateful<'static>,
    parsed: Parsed1<'b>,
    out: &mut Vec<Event<'b>>,
    held: &mut Vec<Event<'static>>,
) {
    let Some(rest) = stages.take_frame(parsed, out) else {
        return;
    };
    match rest.out {
        FrameOut::Tcp(seg) => {
            let owned = TcpSegment {
                src: seg.src,
                dst: seg.dst,
                seq: seg.seq,
                ack: seg.ack,
                flags: seg.flags,
                data: Cow::Owned(seg.data.into_owned()),
                missing_tail: seg.missing_tail,
            };
            stages.tcp_segment(rest.frame, rest.ts, owned, held);
        }
        FrameOut::Fragment(f) => {
            let owned = Fragment {
                key: f.key,
                offset: f.offset,
                more: f.more,
                data: Cow::Owned(f.data.into_owned()),
                proto: f.proto,
            };
            stages.fragment(rest.frame, rest.ts, owned, held);
        }
        FrameOut::Nothing | FrameOut::Event(_) | FrameOut::UnknownLink(_) => {}
    }
    for ev in held.drain(..) {
        out.push(ev);
    }
}

/// Walk a whole capture from a reader, `chunk` bytes at a time (at least 1).
pub fn walk_read(
    name: &str,
    r: &mut dyn Read,
    chunk: usize,
    sink: &mut dyn FnMut(&[Event<'_>]),
) -> Result<Streamed, CaptureError> {
    let io = |source| CaptureError::Io {
        file: name.to_string(),
        source,
    };
    let mut walk = StreamWalk::new(name);
    let mut buf = vec![0u8; chunk.max(1)];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        walk.push(buf.get(..n).unwrap_or_default(), sink)?;
    }
    walk.end_file(sink)?;
    Ok(walk.finish(sink))
}

/// What the first bytes of a capture say about its first record's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstRecord {
    /// The bytes end before the first record does: give more.
    NeedMore,
    /// The first record's time (nanoseconds since the Unix epoch).
    At(Timestamp),
    /// No record with a time (no packet, or not a capture).
    None,
}

/// The time of the first packet record in `head`, the first bytes of a capture (`complete`:
/// the whole file). Used to put rotated pieces in time order before walking them.
pub fn first_record_time(head: &[u8], complete: bool) -> FirstRecord {
    if head.len() < HEADER_BYTES && !complete {
        return FirstRecord::NeedMore;
    }
    let Ok(format) = header_format("", head) else {
        return FirstRecord::None;
    };
    let mut reader = RecordReader::stream_start(head, format, !complete);
    while let Some(item) = reader.next_item() {
        match item {
            Item::Packet(r) => return FirstRecord::At(r.ts),
            Item::Frame { .. } => {}
            Item::Problem(_) => return FirstRecord::None,
        }
    }
    match reader.starved() {
        Some(cut) if cut.needed() <= MAX_STREAMED_RECORD as u64 => FirstRecord::NeedMore,
        _ => FirstRecord::None,
    }
}
