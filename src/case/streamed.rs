//! A diagnostic bundle (or any input read as a stream: a gzip, standard input) read into the
//! case: its captures into flows as they stream, its documents into their models.
//!
//! Two threads: this one inflates the bundle and walks its archive
//! ([`bundle::walk`]), handing each capture's bytes over in chunks; a worker walks the
//! records of those chunks ([`StreamWalk`]) and files them ([`Ingest`]). Chunks are recycled
//! and at most [`CHUNKS_IN_FLIGHT`] wait between the two, so memory stays a few megabytes
//! whatever the bundle's size. Documents are parsed on this thread as they stream by.
//!
//! The rotated pieces of one interface's tcpdump (`eth0_diagnostic_logging_tcpdump00_…`,
//! `…01_…`) are one capture: a piece whose first packet comes after everything read of a
//! run of pieces continues that run (one stream: transactions, allocations and TCP streams
//! cross the cut whole); a piece that comes earlier (a wrapped ring, or an archive listing
//! pieces out of order) starts another run, and runs are joined in time order at the end
//! ([`pieces::join`]). Gaps in the rotation numbers are said, as is a bundle with no capture.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use crate::capture::bundle::{self, Kind, Limits, Member, Take, Visitor};
use crate::capture::{first_record_time, FirstRecord, StreamWalk, Timestamp};
use crate::flow::{pieces, CaptureFlows, FlowOptions, Ingest, Piece, Role};
use crate::sources::expressway::{BundleFile, TcpdumpPiece};
use crate::sources::{self, Document};

use super::input::{BundleInput, InputError};

/// Bytes per chunk handed from the inflating thread to the walking one.
const CHUNK: usize = 256 * 1024;
/// Chunks waiting between the two threads, at most.
const CHUNKS_IN_FLIGHT: usize = 8;

/// A capture of the bundle, read.
#[derive(Debug)]
pub struct StreamedCapture {
    /// Its flows (rotated pieces of one interface joined in time order).
    pub flows: CaptureFlows,
    /// `Some(Server)` for the Expressway's own tcpdump; `None` when the role is left to infer.
    pub role: Option<Role>,
    /// The Expressway interface it was taken on (`n` of `eth<n>`), from its name.
    pub interface: Option<u32>,
}

/// Everything a bundle gave.
#[derive(Debug, Default)]
pub struct StreamedInput {
    /// The captures found in it, read.
    pub captures: Vec<StreamedCapture>,
    /// The documents found in it (logs, xconf, xstat, dumps), parsed.
    pub documents: Vec<Document>,
    /// What the engineer should know about the bundle (incomplete rotations, no capture).
    pub notes: Vec<String>,
    /// Members that could not be used, with why.
    pub errors: Vec<InputError>,
    /// Bytes inflated, all gzip layers together.
    pub inflated: u64,
    /// Tar entries walked.
    pub entries: u64,
}

/// What the inflating thread tells the walking one.
enum Feed {
    /// A capture member begins.
    Begin {
        name: String,
        /// Members with the same key are pieces of one capture.
        key: String,
        /// The name of the capture they form.
        capture_name: String,
        piece: Option<TcpdumpPiece>,
    },
    Chunk(Vec<u8>),
    End,
}

/// Read one streamed input.
pub fn read(input: &BundleInput, opts: &FlowOptions, limits: Limits) -> StreamedInput {
    let (feed_tx, feed_rx) = sync_channel::<Feed>(CHUNKS_IN_FLIGHT);
    let (recycle_tx, recycle_rx) = channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let mut asm = Assembler::new(opts);
            for feed in feed_rx {
                asm.feed(feed, &recycle_tx);
            }
            asm.finish(input.role)
        });
        let mut feeder = Feeder {
            tx: feed_tx,
            recycle: recycle_rx,
            documents: Vec::new(),
        };
        let walked = input
            .reader()
            .map_err(|e| InputError::new(&input.name, format!("cannot read: {e}")))
            .and_then(|mut r| {
                bundle::walk(&input.name, &mut r, limits, &mut feeder).map_err(|e| {
                    InputError::new(
                        &input.name,
                        super::input::strip_name(&input.name, &e.to_string()),
                    )
                })
            });
        let Feeder { tx, documents, .. } = feeder;
        drop(tx);
        let mut out = match worker.join() {
            Ok(out) => out,
            Err(_) => StreamedInput {
                errors: vec![InputError::new(&input.name, "reading its captures failed")],
                ..StreamedInput::default()
            },
        };
        out.documents = documents;
        match walked {
            Ok(w) => {
                out.inflated = w.inflated;
                out.entries = w.entries;
                if out.captures.is_empty() && out.errors.is_empty() {
                    out.notes
                        .push(no_capture_note(&out.documents, w.skipped.len()));
                }
            }
            Err(e) => out.errors.push(e),
        }
        out
    })
}

fn no_capture_note(documents: &[Document], skipped: usize) -> String {
    if documents.is_empty() {
        return format!(
            "no capture and no known document in it ({skipped} other members): nothing to analyse"
        );
    }
    let names: Vec<&str> = documents.iter().map(|d| d.kind.describe()).collect();
    format!(
        "no capture in it, only {}: the packets are missing (a log started after a restart, \
         or 'Take tcpdump while logging' not ticked, holds only the log)",
        names.join(", ")
    )
}

/// The inflating side: decides what to read, hands captures over, parses documents.
struct Feeder {
    tx: SyncSender<Feed>,
    recycle: Receiver<Vec<u8>>,
    documents: Vec<Document>,
}

impl Visitor for Feeder {
    fn member(&mut self, m: &Member<'_>) -> Take {
        match m.kind {
            Kind::Pcap | Kind::PcapNg => Take::Read,
            _ if sources::sniff(m.head, m.path).is_some() => Take::Read,
            _ => Take::Skip("not a capture, an archive or a known document".into()),
        }
    }

    fn read(&mut self, m: &Member<'_>, data: &mut dyn Read) -> io::Result<()> {
        if let Some(kind) = sources::sniff(m.head, m.path).filter(|_| m.kind == Kind::Other) {
            let doc = sources::read(m.name, kind, data);
            let error = doc.error.clone();
            self.documents.push(doc);
            return match error {
                Some(e) => Err(io::Error::other(e)),
                None => Ok(()),
            };
        }
        let piece = match BundleFile::from_name(m.path) {
            Some(BundleFile::Tcpdump(p)) => Some(p),
            _ => None,
        };
        let capture_name = piece
            .as_ref()
            .map_or_else(|| m.name.to_string(), |_| rotation_name(m.name));
        let begin = Feed::Begin {
            name: m.name.to_string(),
            key: capture_name.clone(),
            capture_name,
            piece,
        };
        self.send(begin)?;
        let copied = self.copy(data);
        self.send(Feed::End)?;
        copied
    }
}

impl Feeder {
    fn send(&self, feed: Feed) -> io::Result<()> {
        self.tx
            .send(feed)
            .map_err(|_| io::Error::other("the capture reader stopped"))
    }

    /// Hand the member's bytes over in chunks.
    fn copy(&self, data: &mut dyn Read) -> io::Result<()> {
        loop {
            let mut buf = self.recycle.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
            let n = match data.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            buf.truncate(n);
            self.send(Feed::Chunk(buf))?;
        }
    }
}

/// The capture name of a rotated piece: its label with the rotation number as `*`
/// (`b.tgz!eth0_diagnostic_logging_tcpdump*_expe_….pcap`).
fn rotation_name(label: &str) -> String {
    let base_at = label.rfind(['/', '!']).map_or(0, |i| i + 1);
    let (dir, base) = label.split_at(base_at);
    let lower = base.to_ascii_lowercase();
    let Some(at) = lower.find("tcpdump").map(|i| i + "tcpdump".len()) else {
        return label.to_string();
    };
    let digits = base
        .get(at..)
        .unwrap_or_default()
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    let (head, tail) = base.split_at(at);
    format!("{dir}{head}*{}", tail.get(digits..).unwrap_or_default())
}

/// A run of pieces read as one stream.
struct Run<'o> {
    key: String,
    capture_name: String,
    interface: Option<u32>,
    walk: StreamWalk,
    ingest: Ingest<'o>,
    pieces: Vec<Piece>,
    /// Rotation numbers of the pieces (when their names have one).
    numbers: Vec<u32>,
    digits: usize,
    first_ts: Option<Timestamp>,
}

/// The piece being fed.
enum Current {
    Idle,
    /// Its first bytes, until the time of its first packet is known.
    Probing {
        name: String,
        key: String,
        capture_name: String,
        piece: Option<TcpdumpPiece>,
        head: Vec<u8>,
    },
    /// Walking it in run `run`; `failed` once its header was refused.
    Feeding {
        run: usize,
        failed: bool,
    },
}

/// The walking side.
struct Assembler<'o> {
    opts: &'o FlowOptions,
    runs: Vec<Run<'o>>,
    current: Current,
    errors: Vec<InputError>,
}

impl<'o> Assembler<'o> {
    fn new(opts: &'o FlowOptions) -> Self {
        Assembler {
            opts,
            runs: Vec::new(),
            current: Current::Idle,
            errors: Vec::new(),
        }
    }

    fn feed(&mut self, feed: Feed, recycle: &Sender<Vec<u8>>) {
        match feed {
            Feed::Begin {
                name,
                key,
                capture_name,
                piece,
            } => {
                self.current = Current::Probing {
                    name,
                    key,
                    capture_name,
                    piece,
                    head: Vec::new(),
                }
            }
            Feed::Chunk(buf) => {
                self.chunk(&buf);
                let _ = recycle.send(buf);
            }
            Feed::End => self.end(),
        }
    }

    fn chunk(&mut self, buf: &[u8]) {
        let mut probed = false;
        match &mut self.current {
            Current::Probing { head, .. } => {
                head.extend_from_slice(buf);
                probed = first_record_time(head, false) != FirstRecord::NeedMore;
            }
            Current::Feeding { run, failed } => {
                if *failed {
                    return;
                }
                let Some(r) = self.runs.get_mut(*run) else {
                    return;
                };
                let Run { walk, ingest, .. } = r;
                if let Err(e) = walk.push(buf, &mut |events| ingest.events(events)) {
                    *failed = true;
                    let name = r.pieces.last().map_or("", |p| p.name.as_str()).to_string();
                    self.errors.push(capture_error(&name, &e.to_string()));
                }
            }
            Current::Idle => {}
        }
        if probed {
            self.start_piece(false);
        }
    }

    fn end(&mut self) {
        if matches!(self.current, Current::Probing { .. }) {
            self.start_piece(true);
        }
        let Current::Feeding { run, failed } = std::mem::replace(&mut self.current, Current::Idle)
        else {
            return;
        };
        let Some(r) = self.runs.get_mut(run) else {
            return;
        };
        let Run { walk, ingest, .. } = r;
        let ended = walk.end_file(&mut |events| ingest.events(events));
        let frames = walk.frames();
        let last = walk.last_record_ts();
        if let Some(p) = r.pieces.last_mut() {
            p.frames = frames.saturating_sub(p.frame_base);
            p.last_ts = last;
        }
        if let (Err(e), false) = (ended, failed) {
            let name = r.pieces.last().map_or("", |p| p.name.as_str()).to_string();
            self.errors.push(capture_error(&name, &e.to_string()));
        }
    }

    /// The piece's first packet time is known (or will never be): put it in its run and
    /// walk the bytes held so far.
    fn start_piece(&mut self, complete: bool) {
        let Current::Probing {
            name,
            key,
            capture_name,
            piece,
            head,
        } = std::mem::replace(&mut self.current, Current::Idle)
        else {
            return;
        };
        let first = match first_record_time(&head, complete) {
            FirstRecord::At(ts) => Some(ts),
            _ => None,
        };
        let run = self.run_for(&key, &capture_name, &name, piece.as_ref(), first);
        let Some(r) = self.runs.get_mut(run) else {
            return;
        };
        r.first_ts = r.first_ts.or(first);
        r.pieces.push(Piece {
            name: name.clone(),
            frame_base: r.walk.frames(),
            frames: 0,
            first_ts: first,
            last_ts: None,
        });
        if let Some(n) = piece.as_ref().and_then(|p| p.piece) {
            r.numbers.push(n);
            r.digits = r.digits.max(piece.as_ref().map_or(0, |p| p.piece_digits));
        }
        self.current = Current::Feeding { run, failed: false };
        self.chunk(&head);
    }

    /// The run a piece continues (the one of its capture whose last packet is the latest
    /// not after the piece's first), or a new one.
    fn run_for(
        &mut self,
        key: &str,
        capture_name: &str,
        name: &str,
        piece: Option<&TcpdumpPiece>,
        first: Option<Timestamp>,
    ) -> usize {
        let fits = |r: &Run<'_>| {
            let last = r.walk.last_record_ts();
            match (last, first) {
                (Some(last), Some(first)) => last <= first,
                _ => true,
            }
        };
        let best = self
            .runs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.key == key && fits(r))
            .max_by_key(|(_, r)| r.walk.last_record_ts())
            .map(|(i, _)| i);
        if let Some(i) = best {
            if let Some(r) = self.runs.get_mut(i) {
                let Run { walk, ingest, .. } = r;
                // The last piece was ended; a header error there was already said.
                let _ = walk.next_file(name, &mut |events| ingest.events(events));
            }
            return i;
        }
        self.runs.push(Run {
            key: key.to_string(),
            capture_name: capture_name.to_string(),
            interface: piece.map(|p| p.interface),
            walk: StreamWalk::new(name),
            ingest: Ingest::new(capture_name, self.opts),
            pieces: Vec::new(),
            numbers: Vec::new(),
            digits: 0,
            first_ts: None,
        });
        self.runs.len() - 1
    }

    /// Every run finished; runs of one capture joined in time order.
    fn finish(self, role: Option<Role>) -> StreamedInput {
        let mut out = StreamedInput {
            errors: self.errors,
            ..StreamedInput::default()
        };
        let mut by_key: BTreeMap<String, Vec<(Option<Timestamp>, Run<'o>)>> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for run in self.runs {
            if !by_key.contains_key(&run.key) {
                order.push(run.key.clone());
            }
            by_key
                .entry(run.key.clone())
                .or_default()
                .push((run.first_ts, run));
        }
        for key in order {
            let Some(mut runs) = by_key.remove(&key) else {
                continue;
            };
            // Time order; runs without a packet last.
            runs.sort_by_key(|(first, _)| (first.is_none(), *first));
            let runs: Vec<Run<'o>> = runs.into_iter().map(|(_, r)| r).collect();
            if let Some(note) = rotation_gaps(&runs) {
                out.notes.push(note);
            }
            out.captures.push(join_runs(runs, role));
        }
        out
    }
}

fn capture_error(name: &str, reason: &str) -> InputError {
    InputError::new(name, super::input::strip_name(name, reason))
}

/// Finish each run and join them into one capture.
fn join_runs(runs: Vec<Run<'_>>, role: Option<Role>) -> StreamedCapture {
    let interface = runs.first().and_then(|r| r.interface);
    let piece_count: usize = runs.iter().map(|r| r.pieces.len()).sum();
    let mut flows = Vec::new();
    for run in runs {
        let Run {
            capture_name,
            walk,
            mut ingest,
            pieces,
            ..
        } = run;
        let done = walk.finish(&mut |events| ingest.events(events));
        ingest.set_link_types(done.link_types);
        ingest.set_frames(done.stats.frames);
        let mut f = ingest.finish();
        f.name = capture_name;
        f.pieces = pieces;
        flows.push(f);
    }
    let mut joined = pieces::join(flows);
    if piece_count <= 1 {
        // One file: the evidence names it, no piece table needed.
        if let Some(p) = joined.pieces.pop() {
            joined.name = p.name;
        }
    }
    StreamedCapture {
        flows: joined,
        // A tcpdump of the Expressway's diagnostic logging is the TURN server's own vantage
        // point, even when it holds nothing (no request reached that interface); a role
        // given for the whole input still wins.
        role: role.or(interface.map(|_| Role::Server)),
        interface,
    }
}

/// Rotation numbers missing between the lowest and the highest of a capture's pieces.
fn rotation_gaps(runs: &[Run<'_>]) -> Option<String> {
    let mut numbers: Vec<u32> = runs
        .iter()
        .flat_map(|r| r.numbers.iter().copied())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    let (&lo, &hi) = (numbers.first()?, numbers.last()?);
    let missing: Vec<u32> = (lo..=hi)
        .filter(|n| numbers.binary_search(n).is_err())
        .take(50)
        .collect();
    if missing.is_empty() {
        return None;
    }
    let digits = runs.iter().map(|r| r.digits).max().unwrap_or(0);
    let show = |n: u32| format!("{n:0digits$}");
    let list: Vec<String> = missing.iter().map(|&n| show(n)).collect();
    let name = runs.first().map_or("", |r| r.capture_name.as_str());
    Some(format!(
        "{name}: rotation pieces {} missing between {} and {}: the packets of that time are not in the bundle",
        list.join(", "),
        show(lo),
        show(hi)
    ))
}
