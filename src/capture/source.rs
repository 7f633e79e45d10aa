//! Capture sources: a memory-mapped file or bytes already in memory, recognised as pcap or
//! pcapng by magic number, and walked record by record without copying packet bytes.
//!
//! Headers are parsed here by hand (no pcap-file): pcapng `if_tsresol` / `if_tsoffset` are
//! honoured per interface, several sections and interfaces are supported, and every packet
//! record (EPB, SPB, obsolete PB) counts as one frame, as in Wireshark.

use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;

use super::{Problem, ProblemKind, Timestamp};

/// Why a capture could not be opened at all. Problems after the headers (a record cut short,
/// a corrupt block) are not errors: they end the walk with a [`ProblemKind`] event.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a pcap or pcapng file (first 4 bytes {magic:#010x} at byte offset 0)")]
    NotACapture { file: String, magic: u32 },
    #[error("{file}: truncated {what} at byte offset {offset}: need {needed} bytes, {available} available")]
    TruncatedHeader {
        file: String,
        what: &'static str,
        offset: u64,
        needed: u64,
        available: u64,
    },
    #[error("{file}: malformed {what} at byte offset {offset}: {detail}")]
    Malformed {
        file: String,
        what: &'static str,
        offset: u64,
        detail: String,
    },
}

/// The container format, as recognised from the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap. `nanosecond` for the 0xa1b23c4d magic, `big_endian` for a file
    /// written on a big-endian host, `modified` for Kuznetzov's patched format.
    Pcap {
        nanosecond: bool,
        big_endian: bool,
        modified: bool,
    },
    /// pcapng (byte order per section).
    PcapNg,
}

enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// An opened capture: the bytes (mapped or owned) and what its headers say.
pub struct CaptureFile {
    name: String,
    backing: Backing,
    format: CaptureFormat,
    /// What the file says before its first packet: the state stretches after the first one
    /// start from (see [`CaptureFile::segments`]).
    lead: Lead,
    /// Link types declared anywhere in the file; for a pcapng file with interfaces declared
    /// after its first packet, found by a walk of the block headers when first asked for.
    link_types: OnceLock<Vec<u32>>,
}

/// The blocks before the first packet (pcapng: section header and interface descriptions;
/// pcap: the file header), walked when the file is opened. Nothing after them is read then:
/// a walk of the whole file at open would fault every page in on one thread before the
/// parallel scan starts.
#[derive(Clone)]
struct Lead {
    /// The reader state after them.
    kind: Kind,
    /// Where the first record or block after them starts.
    end: usize,
    /// Link types they declare, in order, without repeats.
    links: Vec<u32>,
    /// They run to the end of the file (or to a problem that ends the walk): `links` are all
    /// the file declares.
    complete: bool,
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("name", &self.name)
            .field("len", &self.bytes().len())
            .field("format", &self.format)
            .field("link_types", &self.lead.links)
            .finish()
    }
}

/// Memory-map a pcap or pcapng file. The format is found from the magic number, not the name.
pub fn open(path: impl AsRef<Path>) -> Result<CaptureFile, CaptureError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let io = |source| CaptureError::Io {
        file: name.clone(),
        source,
    };
    let file = File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len == 0 {
        return Err(CaptureError::TruncatedHeader {
            file: name,
            what: "file header",
            offset: 0,
            needed: 4,
            available: 0,
        });
    }
    // SAFETY: the map is read-only and private to this process. If another process truncates
    // the file while it is mapped, reads past the new end fault (SIGBUS); that is the usual,
    // accepted risk of mapping captures and is why `from_bytes` exists for untrusted storage.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    CaptureFile::with_backing(name, Backing::Mapped(map))
}

impl CaptureFile {
    /// Wrap a capture already in memory (e.g. read from a diagnostic bundle).
    pub fn from_bytes(name: String, bytes: Vec<u8>) -> Result<CaptureFile, CaptureError> {
        CaptureFile::with_backing(name, Backing::Owned(bytes))
    }

    fn with_backing(name: String, backing: Backing) -> Result<CaptureFile, CaptureError> {
        let bytes: &[u8] = match &backing {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        };
        let (format, lead) = sniff(&name, bytes)?;
        let link_types = OnceLock::new();
        if lead.complete {
            let _ = link_types.set(lead.links.clone());
        }
        Ok(CaptureFile {
            name,
            backing,
            format,
            lead,
            link_types,
        })
    }

    /// Drop the page-table entries of a walked stretch of a mapped file (the page cache keeps
    /// the data). Unmapping a few hundred megabytes at the end costs milliseconds on one
    /// thread and blocks other threads' allocations meanwhile; done stretch by stretch behind
    /// the walk, the cost is spread over the scan. Reading the bytes later still works: the
    /// pages fault back in from the file.
    pub(crate) fn forget_pages(&self, from: usize, to: usize) {
        const PAGE: usize = 4096;
        let Backing::Mapped(m) = &self.backing else {
            return;
        };
        let from = from.div_ceil(PAGE) * PAGE;
        let to = (to.min(m.len()) / PAGE) * PAGE;
        if to <= from {
            return;
        }
        // SAFETY: the map is read-only (never written through), so dropping its pages
        // discards nothing: they stay in the page cache, and a later read faults the file's
        // contents back in.
        let _ = unsafe {
            m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from)
        };
    }

    /// The name given at open (the path as given, or the bundle member name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole capture file.
    pub fn bytes(&self) -> &[u8] {
        match &self.backing {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }

    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Distinct link types declared by the file (pcap header, or pcapng interfaces in order
    /// of appearance across all sections). For a pcapng file declaring interfaces after its
    /// first packet, the first call walks the block headers of the whole file; a scan says
    /// the same without that walk ([`CaptureStats::declared_links`](super::CaptureStats)).
    pub fn link_types(&self) -> &[u32] {
        self.link_types.get_or_init(|| {
            let mut reader = self.records();
            reader.headers_only = true;
            while reader.next_item().is_some() {}
            distinct(reader.declared_links())
        })
    }

    /// Number of frames (packet records), counted the way Wireshark numbers them. Walks the
    /// record headers only.
    pub fn frame_count(&self) -> u64 {
        let mut reader = self.records();
        let mut n = 0u64;
        while let Some(item) = reader.next_item() {
            if item.frame().is_some() {
                n += 1;
            }
        }
        n
    }

    pub(crate) fn records(&self) -> RecordReader<'_> {
        RecordReader::new(self.bytes(), self.format)
    }

    /// Split the file into stretches of about `bytes` each that can be walked on their own:
    /// the first from the file's start, the others from the first plausible record or block
    /// at or after their nominal offset ([`CaptureFile::segment_reader`]), in the reader state
    /// the file's leading blocks left. The scan checks both guesses against where the walk of
    /// the stretch before really ended, and in which state.
    pub(crate) fn segments(&self, bytes: usize) -> Vec<SegmentPlan> {
        let bytes = bytes.max(1);
        let len = self.bytes().len();
        let mut starts: Vec<usize> = (self.lead.end..len).step_by(bytes).collect();
        if starts.is_empty() {
            starts.push(0);
        }
        let limits: Vec<usize> = starts
            .iter()
            .skip(1)
            .copied()
            .chain(std::iter::once(usize::MAX))
            .collect();
        starts
            .into_iter()
            .zip(limits)
            .enumerate()
            .map(|(i, (from, limit))| SegmentPlan {
                from,
                limit,
                start: if i == 0 {
                    SegmentStart::FromHeader
                } else {
                    SegmentStart::Guess
                },
            })
            .collect()
    }

    /// The walker for one stretch, or `None` when no record plausibly starts in it (then the
    /// walk of the stretch before runs through it).
    pub(crate) fn segment_reader(&self, plan: &SegmentPlan) -> Option<RecordReader<'_>> {
        if let Backing::Mapped(m) = &self.backing {
            let from = plan.from.min(m.len());
            let to = plan.limit.saturating_add(64 * 1024).min(m.len());
            let _ = m.advise_range(memmap2::Advice::PopulateRead, from, to - from);
        }
        let mut r = self.records();
        r.limit = plan.limit;
        if let SegmentStart::Guess = plan.start {
            let b = self.bytes();
            let end = plan.limit.min(b.len());
            r.pos = match &self.lead.kind {
                Kind::Pcap {
                    big,
                    nanos,
                    rec_hdr,
                    ..
                } => (plan.from..end)
                    .find(|&p| pcap_records_plausible(b, p, *big, *nanos, *rec_hdr))?,
                // Blocks start at multiples of 4: the section header at 0, lengths multiples of 4.
                Kind::PcapNg { big, ifaces } => (plan.from.next_multiple_of(4)..end)
                    .step_by(4)
                    .find(|&p| pcapng_blocks_plausible(b, p, *big, ifaces.len()))?,
            };
            r.kind = self.lead.kind.clone();
        }
        Some(r)
    }
}

/// Where a stretch's walk begins.
pub(crate) enum SegmentStart {
    /// At the start of the file (the first stretch).
    FromHeader,
    /// At the first plausible pcap record or pcapng block at or after `from`, in the state
    /// the file's leading blocks left.
    Guess,
}

/// One stretch of a capture file for a parallel walk.
pub(crate) struct SegmentPlan {
    /// Nominal start.
    pub from: usize,
    /// The walk takes records starting before this offset (the next stretch's nominal start).
    pub limit: usize,
    pub start: SegmentStart,
}

const PCAP_HEADER: usize = 24;

/// True when a chain of pcap record headers starting at `pos` looks real: sub-second parts
/// in range, captured lengths no longer than original ones and at most 256 KiB, seconds
/// within a day of each other, and the chain ends at the end of the file or runs for eight
/// records. A wrong guess costs time only: the walk of the previous stretch checks where
/// records really start.
fn pcap_records_plausible(b: &[u8], pos: usize, big: bool, nanos: bool, rec_hdr: usize) -> bool {
    const CHAIN: usize = 8;
    const MAX_CAPLEN: u32 = 256 * 1024;
    let frac_limit = if nanos { 1_000_000_000 } else { 1_000_000 };
    let mut at = pos;
    let mut prev_sec: Option<u32> = None;
    for _ in 0..CHAIN {
        if at == b.len() {
            return true;
        }
        let (Some(sec), Some(frac), Some(incl), Some(orig)) = (
            rd32(b, at, big),
            rd32(b, at + 4, big),
            rd32(b, at + 8, big),
            rd32(b, at + 12, big),
        ) else {
            return false;
        };
        if frac >= frac_limit || incl > orig || incl > MAX_CAPLEN {
            return false;
        }
        if prev_sec.is_some_and(|p| p.abs_diff(sec) > 86_400) {
            return false;
        }
        prev_sec = Some(sec);
        at = at + rec_hdr + incl as usize;
        if at > b.len() {
            return false;
        }
    }
    true
}

/// True when a chain of pcapng blocks starting at `pos` looks real: block types pcapng
/// defines, lengths multiples of 4 repeated in the trailer, no block longer than a streamed
/// one may be, enhanced packets on declared interfaces (`ifaces`) with their data inside the
/// block; the chain ends at the end of the file or at a section header, or runs for eight
/// blocks. As for pcap, a wrong guess costs time only.
fn pcapng_blocks_plausible(b: &[u8], pos: usize, big: bool, ifaces: usize) -> bool {
    const CHAIN: usize = 8;
    const KNOWN: [u32; 10] = [1, 2, 3, 4, 5, 6, 9, 10, 0x0bad, 0x4000_0bad];
    let mut at = pos;
    for _ in 0..CHAIN {
        if at == b.len() {
            return true;
        }
        if be32(b, at) == Some(PCAPNG_SHB) {
            let bom = be32(b, at + 8);
            return bom == Some(PCAPNG_BOM) || bom.map(u32::swap_bytes) == Some(PCAPNG_BOM);
        }
        let (Some(ty), Some(total)) = (rd32(b, at, big), rd32(b, at + 4, big)) else {
            return false;
        };
        let total = total as usize;
        if !KNOWN.contains(&ty)
            || total < 12
            || !total.is_multiple_of(4)
            || total > MAX_STREAMED_RECORD
        {
            return false;
        }
        let Some(end) = at.checked_add(total).filter(|e| *e <= b.len()) else {
            return false;
        };
        if rd32(b, end - 4, big) != Some(total as u32) {
            return false;
        }
        if ty == 6 {
            let (Some(ifid), Some(caplen)) = (rd32(b, at + 8, big), rd32(b, at + 20, big)) else {
                return false;
            };
            if ifid as usize >= ifaces || caplen as usize > total.saturating_sub(32) {
                return false;
            }
        }
        at = end;
    }
    true
}

/// `links` without repeats, in order of first appearance.
fn distinct(links: Vec<u32>) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for l in links {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

const PCAP_US: u32 = 0xa1b2_c3d4;
const PCAP_NS: u32 = 0xa1b2_3c4d;
const PCAP_MODIFIED: u32 = 0xa1b2_cd34;
const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
const PCAPNG_BOM: u32 = 0x1a2b_3c4d;

/// The format and the leading blocks of a capture ([`Lead`]).
fn sniff(name: &str, b: &[u8]) -> Result<(CaptureFormat, Lead), CaptureError> {
    let format = header_format(name, b)?;
    let mut reader = RecordReader::new(b, format);
    if let CaptureFormat::PcapNg = format {
        reader.lead_only = true;
        while reader.next_item().is_some() {}
    }
    let lead = Lead {
        links: distinct(reader.declared_links()),
        end: reader.pos,
        // A pcap file header declares the one link type of the file.
        complete: matches!(format, CaptureFormat::Pcap { .. })
            || reader.pos >= b.len()
            || reader.fatal,
        kind: reader.kind,
    };
    Ok((format, lead))
}

/// Bytes a streamed capture needs before [`header_format`] can tell its format (fewer only
/// when the file is shorter).
pub(crate) const HEADER_BYTES: usize = PCAP_HEADER;

/// The format of a capture from its first bytes (the pcap file header, or the pcapng
/// section header's byte-order magic), without walking it.
pub(crate) fn header_format(name: &str, b: &[u8]) -> Result<CaptureFormat, CaptureError> {
    let truncated = |what, needed: usize| CaptureError::TruncatedHeader {
        file: name.to_string(),
        what,
        offset: 0,
        needed: needed as u64,
        available: b.len() as u64,
    };
    let magic_be = be32(b, 0).ok_or_else(|| truncated("file header", 4))?;
    let magic_le = magic_be.swap_bytes();
    let pcap = |magic: u32| match magic {
        PCAP_US => Some((false, false)),
        PCAP_NS => Some((true, false)),
        PCAP_MODIFIED => Some((false, true)),
        _ => None,
    };
    let pcap_format = |big_endian: bool, (nanosecond, modified): (bool, bool)| {
        if b.len() < PCAP_HEADER {
            return Err(truncated("pcap file header", PCAP_HEADER));
        }
        Ok(CaptureFormat::Pcap {
            nanosecond,
            big_endian,
            modified,
        })
    };
    if let Some(kind) = pcap(magic_le) {
        return pcap_format(false, kind);
    }
    if let Some(kind) = pcap(magic_be) {
        return pcap_format(true, kind);
    }
    if magic_be == PCAPNG_SHB {
        let bom = be32(b, 8).ok_or_else(|| truncated("pcapng section header", 12))?;
        if bom != PCAPNG_BOM && bom.swap_bytes() != PCAPNG_BOM {
            return Err(CaptureError::Malformed {
                file: name.to_string(),
                what: "pcapng section header",
                offset: 8,
                detail: format!("byte-order magic {bom:#010x}"),
            });
        }
        return Ok(CaptureFormat::PcapNg);
    }
    Err(CaptureError::NotACapture {
        file: name.to_string(),
        magic: magic_be,
    })
}

pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn rd16(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let v = be16(b, at)?;
    Some(if big { v } else { v.swap_bytes() })
}

fn rd32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let v = be32(b, at)?;
    Some(if big { v } else { v.swap_bytes() })
}

fn rd64(b: &[u8], at: usize, big: bool) -> Option<u64> {
    let hi = rd32(b, at, big)?;
    let lo = rd32(b, at + 4, big)?;
    Some(if big {
        (u64::from(hi) << 32) | u64::from(lo)
    } else {
        (u64::from(lo) << 32) | u64::from(hi)
    })
}

/// The record walk is a chain of dependent loads through the whole file. Ask for the next
/// record's header as soon as its offset is known, so it arrives while this packet is parsed,
/// and for bytes a few pages ahead, where hardware prefetchers (which stop at page
/// boundaries) do not look.
#[inline(always)]
fn prefetch_ahead(b: &[u8], next: usize) {
    const AHEAD: usize = 8 * 1024;
    prefetch(b, next);
    prefetch(b, next.wrapping_add(AHEAD));
}

#[inline(always)]
fn prefetch(b: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = b.get(at) {
        // SAFETY: prefetching is a hint with no architectural effect; the address lies
        // inside the slice.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                (p as *const u8).cast::<i8>(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (b, at);
}

/// One packet record, borrowed from the capture bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'a> {
    pub frame: u32,
    pub ts: Timestamp,
    pub link: u32,
    pub data: &'a [u8],
    pub orig_len: u32,
}

/// What the record walk yields.
#[derive(Debug, Clone)]
pub(crate) enum Item<'a> {
    Packet(Record<'a>),
    /// A frame Wireshark counts but that carries no packet we can read.
    Frame {
        frame: u32,
        problem: Option<ProblemKind>,
    },
    /// A file-level problem (no frame number); after a fatal one the walk stops.
    Problem(Problem),
}

impl Item<'_> {
    pub fn frame(&self) -> Option<u32> {
        match self {
            Item::Packet(r) => Some(r.frame),
            Item::Frame { frame, .. } => Some(*frame),
            Item::Problem(_) => None,
        }
    }
}

/// Timestamp resolution of a pcapng interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsUnit {
    /// 10^-n seconds.
    Pow10(u8),
    /// 2^-n seconds.
    Pow2(u8),
}

impl TsUnit {
    pub fn from_option(v: u8) -> TsUnit {
        if v & 0x80 != 0 {
            TsUnit::Pow2(v & 0x7f)
        } else {
            TsUnit::Pow10(v)
        }
    }

    /// Ticks of this unit to nanoseconds (saturating).
    #[inline]
    pub fn to_ns(self, ticks: u64) -> i64 {
        // Every packet of a pcapng file comes here: the usual units (µs, ns) in 64 bits, the
        // rest in 128.
        const NS_PER_TICK: [u64; 10] = [
            1_000_000_000,
            100_000_000,
            10_000_000,
            1_000_000,
            100_000,
            10_000,
            1_000,
            100,
            10,
            1,
        ];
        if let TsUnit::Pow10(n) = self {
            let ns = NS_PER_TICK
                .get(usize::from(n))
                .and_then(|s| ticks.checked_mul(*s));
            if let Some(ns) = ns {
                return i64::try_from(ns).unwrap_or(i64::MAX);
            }
        }
        let ns: u128 = match self {
            TsUnit::Pow10(n) if n <= 9 => u128::from(ticks) * 10u128.pow(u32::from(9 - n)),
            TsUnit::Pow10(n) => {
                let div = 10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX);
                u128::from(ticks) / div
            }
            TsUnit::Pow2(n) => (u128::from(ticks) * 1_000_000_000u128) >> n,
        };
        i64::try_from(ns).unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Iface {
    link: u32,
    snaplen: u32,
    unit: TsUnit,
    offset_ns: i64,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Pcap {
        big: bool,
        nanos: bool,
        rec_hdr: usize,
        link: u32,
    },
    PcapNg {
        big: bool,
        ifaces: Vec<Iface>,
    },
}

/// Walks records in file order; never panics, never copies packet bytes.
pub(crate) struct RecordReader<'a> {
    b: &'a [u8],
    pos: usize,
    frame: u32,
    kind: Kind,
    done: bool,
    /// Only interested in interface descriptions (used when sniffing link types).
    headers_only: bool,
    /// Only the blocks before the first packet: stop, without taking it, at the first block
    /// that is neither a section header nor an interface description.
    lead_only: bool,
    all_links: Vec<u32>,
    /// Walk no further than a record or block starting at or after this offset.
    limit: usize,
    /// The walk stopped on a problem that ends it (not at the end or the limit).
    fatal: bool,
    /// More bytes may follow `b` (a streamed capture): a record that `b` cuts short ends the
    /// walk of this buffer without a problem, [`RecordReader::starved`], at its start.
    streaming: bool,
    /// The walk stopped at a record that `b` holds only in part.
    starved: Option<CutShort>,
    /// Where `b` starts in the capture file, for the offsets problems name.
    base: u64,
}

/// Most bytes one record (pcap record or pcapng block) of a streamed capture may claim: the
/// walk holds a whole record in memory before it is parsed. Real ones are at most 256 KiB.
pub(crate) const MAX_STREAMED_RECORD: usize = 16 << 20;

/// A record that the bytes at hand hold only in part: what it claims, to say so if the
/// capture ends inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CutShort {
    /// A pcap record header of `needed` bytes.
    PcapHeader { at: u64, needed: usize },
    /// A pcap record whose header claims `incl` bytes after its `header` bytes.
    PcapRecord { at: u64, incl: u32, header: usize },
    /// A pcapng block header (12 bytes).
    BlockHeader { at: u64 },
    /// A pcapng block of `total` bytes.
    Block { at: u64, total: usize },
}

impl CutShort {
    /// Where the record starts in the file.
    pub fn at(self) -> u64 {
        match self {
            CutShort::PcapHeader { at, .. }
            | CutShort::PcapRecord { at, .. }
            | CutShort::BlockHeader { at }
            | CutShort::Block { at, .. } => at,
        }
    }

    /// Bytes the record needs from its start.
    pub fn needed(self) -> u64 {
        match self {
            CutShort::PcapHeader { needed, .. } => needed as u64,
            CutShort::PcapRecord { incl, header, .. } => u64::from(incl) + header as u64,
            CutShort::BlockHeader { .. } => 12,
            CutShort::Block { total, .. } => total as u64,
        }
    }

    /// The problem when the file ends `available` bytes after the record's start.
    pub fn at_end(self, available: u64) -> ProblemKind {
        ProblemKind::TruncatedFile(match self {
            CutShort::PcapHeader { at, needed } => {
                format!("record header at byte offset {at} has {available} of {needed} bytes")
            }
            CutShort::PcapRecord { at, incl, header } => format!(
                "record at byte offset {at} claims {incl} bytes, {} remain",
                available.saturating_sub(header as u64)
            ),
            CutShort::BlockHeader { at } => {
                format!("block header at byte offset {at} has {available} of 12 bytes")
            }
            CutShort::Block { at, total } => {
                format!("block at byte offset {at} claims {total} bytes, {available} remain")
            }
        })
    }
}

impl<'a> RecordReader<'a> {
    fn new(b: &'a [u8], format: CaptureFormat) -> RecordReader<'a> {
        match format {
            CaptureFormat::Pcap {
                nanosecond,
                big_endian,
                modified,
            } => RecordReader {
                b,
                pos: PCAP_HEADER,
                frame: 0,
                kind: Kind::Pcap {
                    big: big_endian,
                    nanos: nanosecond,
                    rec_hdr: if modified { 24 } else { 16 },
                    link: rd32(b, 20, big_endian).unwrap_or(u32::MAX) & 0xffff,
                },
                done: false,
                headers_only: false,
                lead_only: false,
                all_links: Vec::new(),
                limit: usize::MAX,
                fatal: false,
                streaming: false,
                starved: None,
                base: 0,
            },
            CaptureFormat::PcapNg => RecordReader {
                b,
                pos: 0,
                frame: 0,
                kind: Kind::PcapNg {
                    big: false,
                    ifaces: Vec::new(),
                },
                done: false,
                headers_only: false,
                lead_only: false,
                all_links: Vec::new(),
                limit: usize::MAX,
                fatal: false,
                streaming: false,
                starved: None,
                base: 0,
            },
        }
    }

    /// The walker of a streamed capture's first buffer: `b` starts at the file's first byte;
    /// `more` when more bytes may follow it.
    pub fn stream_start(b: &'a [u8], format: CaptureFormat, more: bool) -> RecordReader<'a> {
        let mut r = RecordReader::new(b, format);
        r.streaming = more;
        r
    }

    /// Walk on in a later buffer of a streamed capture: `b` starts at byte `base` of the file,
    /// on a record boundary, with the reader state `kind` and `frames` walked so far. With
    /// `more` false, `b` ends the file (a record it cuts short is a problem).
    pub fn stream_resume(
        b: &'a [u8],
        kind: Kind,
        frames: u32,
        base: u64,
        more: bool,
    ) -> RecordReader<'a> {
        RecordReader {
            b,
            pos: 0,
            frame: frames,
            kind,
            done: false,
            headers_only: false,
            lead_only: false,
            all_links: Vec::new(),
            limit: usize::MAX,
            fatal: false,
            streaming: more,
            starved: None,
            base,
        }
    }

    /// The record the walk stopped at because the buffer holds it only in part
    /// ([`Self::pos`] is its start): walk on once more bytes are there.
    pub fn starved(&self) -> Option<CutShort> {
        self.starved
    }

    /// The reader state to resume with ([`RecordReader::stream_resume`]).
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// Link types of the interfaces declared so far (pcapng) or of the file (pcap).
    pub fn declared_links(&self) -> Vec<u32> {
        match &self.kind {
            Kind::Pcap { link, .. } => vec![*link],
            Kind::PcapNg { .. } => self.all_links.clone(),
        }
    }

    /// The offset in the file of byte `pos` of the buffer.
    fn at(&self, pos: usize) -> u64 {
        self.base.saturating_add(pos as u64)
    }

    /// The record at `pos` is cut short by the end of the buffer. Streaming, the walk of this
    /// buffer ends there and [`RecordReader::cut`] says what the record needs; otherwise the
    /// capture ends inside it.
    fn cut_short(&mut self, pos: usize, cut: CutShort) -> Option<Item<'a>> {
        if self.streaming {
            self.pos = pos;
            self.done = true;
            self.starved = Some(cut);
            return None;
        }
        let available = self.b.len().saturating_sub(pos) as u64;
        self.fatal(cut.at_end(available))
    }

    /// Where the walk is (after a stretch: where the next record starts).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Frames walked so far (numbered from 1 at the reader's start).
    pub fn frames(&self) -> u32 {
        self.frame
    }

    /// True if the walk ended on a problem that ends the whole capture.
    pub fn stopped(&self) -> bool {
        self.fatal
    }

    /// A walker continuing from here up to `limit`, numbering frames from 1 again.
    pub fn resume(&self, limit: usize) -> RecordReader<'a> {
        RecordReader {
            b: self.b,
            pos: self.pos,
            frame: 0,
            kind: self.kind.clone(),
            done: self.fatal,
            headers_only: false,
            lead_only: false,
            all_links: Vec::new(),
            limit,
            fatal: self.fatal,
            streaming: false,
            starved: None,
            base: self.base,
        }
    }

    fn fatal(&mut self, kind: ProblemKind) -> Option<Item<'a>> {
        self.done = true;
        self.fatal = true;
        Some(Item::Problem(Problem { frame: None, kind }))
    }

    fn next_frame(&mut self) -> u32 {
        self.frame = self.frame.saturating_add(1);
        self.frame
    }

    pub fn next_item(&mut self) -> Option<Item<'a>> {
        if self.done {
            return None;
        }
        match self.kind {
            Kind::Pcap { .. } => self.next_pcap(),
            Kind::PcapNg { .. } => self.next_pcapng(),
        }
    }

    fn next_pcap(&mut self) -> Option<Item<'a>> {
        let Kind::Pcap {
            big,
            nanos,
            rec_hdr,
            link,
        } = self.kind
        else {
            return None;
        };
        let b = self.b;
        let pos = self.pos;
        let remaining = b.len().saturating_sub(pos);
        if remaining == 0 || pos >= self.limit {
            self.done = true;
            return None;
        }
        if remaining < rec_hdr {
            let cut = CutShort::PcapHeader {
                at: self.at(pos),
                needed: rec_hdr,
            };
            return self.cut_short(pos, cut);
        }
        let (Some(sec), Some(frac), Some(incl), Some(orig)) = (
            rd32(b, pos, big),
            rd32(b, pos + 4, big),
            rd32(b, pos + 8, big),
            rd32(b, pos + 12, big),
        ) else {
            return self.fatal(ProblemKind::TruncatedFile(format!(
                "record header at byte offset {}",
                self.at(pos)
            )));
        };
        let start = pos + rec_hdr;
        let end = start.checked_add(incl as usize);
        prefetch_ahead(b, end.unwrap_or(start));
        let Some(data) = end.and_then(|e| b.get(start..e)) else {
            let cut = CutShort::PcapRecord {
                at: self.at(pos),
                incl,
                header: rec_hdr,
            };
            return self.cut_short(pos, cut);
        };
        self.pos = start + data.len();
        let frac_ns = if nanos {
            i64::from(frac)
        } else {
            i64::from(frac).saturating_mul(1000)
        };
        let ts = Timestamp(
            i64::from(sec)
                .saturating_mul(1_000_000_000)
                .saturating_add(frac_ns),
        );
        let frame = self.next_frame();
        Some(Item::Packet(Record {
            frame,
            ts,
            link,
            data,
            orig_len: orig,
        }))
    }

    fn next_pcapng(&mut self) -> Option<Item<'a>> {
        loop {
            let b = self.b;
            let pos = self.pos;
            let remaining = b.len().saturating_sub(pos);
            if remaining == 0 || pos >= self.limit {
                self.done = true;
                return None;
            }
            if remaining < 12 {
                let cut = CutShort::BlockHeader { at: self.at(pos) };
                return self.cut_short(pos, cut);
            }
            let block_type_be = be32(b, pos)?;
            if self.lead_only && block_type_be != PCAPNG_SHB && !self.at_interface_block(pos) {
                self.done = true;
                return None;
            }
            if block_type_be == PCAPNG_SHB {
                let bom = be32(b, pos + 8)?;
                let big = if bom == PCAPNG_BOM {
                    true
                } else if bom.swap_bytes() == PCAPNG_BOM {
                    false
                } else {
                    return self.fatal(ProblemKind::Malformed {
                        layer: "pcapng",
                        detail: format!(
                            "section header at byte offset {} has byte-order magic {bom:#010x}",
                            self.at(pos)
                        ),
                    });
                };
                if let Kind::PcapNg { big: b0, ifaces } = &mut self.kind {
                    *b0 = big;
                    ifaces.clear();
                }
            }
            let big = match &self.kind {
                Kind::PcapNg { big, .. } => *big,
                Kind::Pcap { .. } => return None,
            };
            let block_type = rd32(b, pos, big)?;
            let total = rd32(b, pos + 4, big)? as usize;
            if total < 12 || !total.is_multiple_of(4) {
                return self.fatal(ProblemKind::Malformed {
                    layer: "pcapng",
                    detail: format!(
                        "block at byte offset {} has total length {total}",
                        self.at(pos)
                    ),
                });
            }
            if total > remaining {
                let cut = CutShort::Block {
                    at: self.at(pos),
                    total,
                };
                return self.cut_short(pos, cut);
            }
            let trailer = rd32(b, pos + total - 4, big)? as usize;
            if trailer != total {
                return self.fatal(ProblemKind::Malformed {
                    layer: "pcapng",
                    detail: format!(
                        "block at byte offset {}: leading length {total}, trailing length {trailer}",
                        self.at(pos)
                    ),
                });
            }
            let body = b.get(pos + 8..pos + total - 4)?;
            self.pos = pos + total;
            prefetch_ahead(b, self.pos);
            match block_type {
                // Section header: options are not needed.
                PCAPNG_SHB => {}
                // Interface description.
                1 => {
                    let iface = parse_idb(body, big);
                    self.all_links.push(iface.link);
                    if let Kind::PcapNg { ifaces, .. } = &mut self.kind {
                        // Bound the table; Wireshark would refuse such a file anyway.
                        if ifaces.len() < 65_536 {
                            ifaces.push(iface);
                        }
                    }
                }
                // Enhanced packet block.
                6 => {
                    if self.headers_only {
                        continue;
                    }
                    let frame = self.next_frame();
                    let (Some(ifid), Some(hi), Some(lo), Some(caplen), Some(orig)) = (
                        rd32(body, 0, big),
                        rd32(body, 4, big),
                        rd32(body, 8, big),
                        rd32(body, 12, big),
                        rd32(body, 16, big),
                    ) else {
                        return Some(self.bad_frame(frame, pos, "enhanced packet block too short"));
                    };
                    let data = body.get(20..20usize.saturating_add(caplen as usize));
                    return Some(self.packet(frame, pos, ifid, hi, lo, data, orig));
                }
                // Simple packet block: interface 0, no timestamp.
                3 => {
                    if self.headers_only {
                        continue;
                    }
                    let frame = self.next_frame();
                    let Some(orig) = rd32(body, 0, big) else {
                        return Some(self.bad_frame(frame, pos, "simple packet block too short"));
                    };
                    let snap = match &self.kind {
                        Kind::PcapNg { ifaces, .. } => ifaces.first().map(|i| i.snaplen),
                        Kind::Pcap { .. } => None,
                    };
                    let mut cap = orig as usize;
                    if let Some(s) = snap.filter(|s| *s != 0) {
                        cap = cap.min(s as usize);
                    }
                    cap = cap.min(body.len().saturating_sub(4));
                    let data = body.get(4..4 + cap);
                    return Some(self.packet(frame, pos, 0, 0, 0, data, orig));
                }
                // Obsolete packet block.
                2 => {
                    if self.headers_only {
                        continue;
                    }
                    let frame = self.next_frame();
                    let (Some(ifid), Some(hi), Some(lo), Some(caplen), Some(orig)) = (
                        rd16(body, 0, big),
                        rd32(body, 4, big),
                        rd32(body, 8, big),
                        rd32(body, 12, big),
                        rd32(body, 16, big),
                    ) else {
                        return Some(self.bad_frame(frame, pos, "packet block too short"));
                    };
                    let data = body.get(20..20usize.saturating_add(caplen as usize));
                    return Some(self.packet(frame, pos, u32::from(ifid), hi, lo, data, orig));
                }
                // systemd journal export: Wireshark shows it as a frame.
                9 => {
                    if self.headers_only {
                        continue;
                    }
                    let frame = self.next_frame();
                    return Some(Item::Frame {
                        frame,
                        problem: None,
                    });
                }
                // Statistics, name resolution, secrets, custom blocks: not frames.
                _ => {}
            }
        }
    }

    /// The block at `pos` is an interface description in the current section's byte order.
    fn at_interface_block(&self, pos: usize) -> bool {
        match &self.kind {
            Kind::PcapNg { big, .. } => rd32(self.b, pos, *big) == Some(1),
            Kind::Pcap { .. } => false,
        }
    }

    fn bad_frame(&self, frame: u32, pos: usize, what: &str) -> Item<'a> {
        Item::Frame {
            frame,
            problem: Some(ProblemKind::Malformed {
                layer: "pcapng",
                detail: format!("{what} (block at byte offset {})", self.at(pos)),
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn packet(
        &self,
        frame: u32,
        pos: usize,
        ifid: u32,
        hi: u32,
        lo: u32,
        data: Option<&'a [u8]>,
        orig: u32,
    ) -> Item<'a> {
        let Some(data) = data else {
            return self.bad_frame(frame, pos, "captured length exceeds the block");
        };
        let iface = match &self.kind {
            Kind::PcapNg { ifaces, .. } => ifaces.get(ifid as usize).copied(),
            Kind::Pcap { .. } => None,
        };
        let Some(iface) = iface else {
            return Item::Frame {
                frame,
                problem: Some(ProblemKind::Malformed {
                    layer: "pcapng",
                    detail: format!(
                        "packet for undeclared interface {ifid} (block at byte offset {})",
                        self.at(pos)
                    ),
                }),
            };
        };
        let ticks = (u64::from(hi) << 32) | u64::from(lo);
        let ts = Timestamp(iface.unit.to_ns(ticks).saturating_add(iface.offset_ns));
        Item::Packet(Record {
            frame,
            ts,
            link: iface.link,
            data,
            orig_len: orig,
        })
    }
}

fn parse_idb(body: &[u8], big: bool) -> Iface {
    let mut iface = Iface {
        link: rd16(body, 0, big).map_or(u32::MAX, u32::from),
        snaplen: rd32(body, 4, big).unwrap_or(0),
        unit: TsUnit::Pow10(6),
        offset_ns: 0,
    };
    let mut at = 8usize;
    while let (Some(code), Some(len)) = (rd16(body, at, big), rd16(body, at + 2, big)) {
        let start = at + 4;
        let Some(value) = body.get(start..start + len as usize) else {
            break;
        };
        match code {
            0 => break,
            9 => {
                if let Some(&v) = value.first() {
                    iface.unit = TsUnit::from_option(v);
                }
            }
            14 => {
                if let Some(off) = rd64(value, 0, big) {
                    iface.offset_ns = (off as i64).saturating_mul(1_000_000_000);
                }
            }
            _ => {}
        }
        at = start + (len as usize).div_ceil(4) * 4;
    }
    iface
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Little-endian pcap with microsecond timestamps.
    pub fn pcap(link: u32, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&PCAP_US.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&[0; 8]);
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&link.to_le_bytes());
        for (sec, usec, data) in packets {
            v.extend_from_slice(&sec.to_le_bytes());
            v.extend_from_slice(&usec.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(data);
        }
        v
    }

    fn items(b: Vec<u8>) -> Vec<String> {
        let f = CaptureFile::from_bytes("t".into(), b).unwrap();
        let mut r = f.records();
        let mut out = Vec::new();
        while let Some(i) = r.next_item() {
            out.push(match i {
                Item::Packet(r) => format!("{} {} {} {}", r.frame, r.ts.0, r.link, r.data.len()),
                Item::Frame { frame, problem } => format!("{frame} frame {problem:?}"),
                Item::Problem(p) => format!("problem {}", p.kind),
            });
        }
        out
    }

    #[test]
    fn pcap_le_us() {
        let b = pcap(1, &[(1, 2, b"abc"), (3, 999_999, b"")]);
        assert_eq!(items(b), vec!["1 1000002000 1 3", "2 3999999000 1 0"]);
    }

    #[test]
    fn ts_units() {
        assert_eq!(TsUnit::Pow10(6).to_ns(1), 1000);
        assert_eq!(TsUnit::Pow10(9).to_ns(7), 7);
        assert_eq!(TsUnit::Pow10(12).to_ns(7000), 7);
        assert_eq!(TsUnit::Pow2(10).to_ns(1024), 1_000_000_000);
        assert_eq!(TsUnit::Pow2(1).to_ns(3), 1_500_000_000);
        assert_eq!(TsUnit::Pow10(127).to_ns(u64::MAX), 0);
        assert_eq!(TsUnit::Pow2(127).to_ns(u64::MAX), 0);
        assert_eq!(TsUnit::Pow10(0).to_ns(u64::MAX), i64::MAX);
    }

    #[test]
    fn not_a_capture() {
        let e = CaptureFile::from_bytes("x.txt".into(), b"GET / HTTP/1.1".to_vec()).unwrap_err();
        assert!(
            matches!(
                e,
                CaptureError::NotACapture {
                    magic: 0x4745_5420,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("x.txt"));
        let e = CaptureFile::from_bytes("y".into(), vec![0xd4, 0xc3]).unwrap_err();
        assert!(matches!(e, CaptureError::TruncatedHeader { .. }), "{e}");
        let e =
            CaptureFile::from_bytes("y".into(), vec![0xd4, 0xc3, 0xb2, 0xa1, 0, 0]).unwrap_err();
        assert!(
            matches!(e, CaptureError::TruncatedHeader { needed: 24, .. }),
            "{e}"
        );
    }

    fn block(big: bool, ty: u32, body: &[u8]) -> Vec<u8> {
        let w = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let total = 12 + body.len() as u32;
        let mut v = w(ty).to_vec();
        v.extend_from_slice(&w(total));
        v.extend_from_slice(&body);
        v.extend_from_slice(&w(total));
        v
    }

    #[test]
    fn pcapng_big_endian_simple_and_obsolete_blocks() {
        let mut b = block(
            true,
            PCAPNG_SHB,
            &[
                0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        // IDB: link 101, snaplen 4
        b.extend(block(true, 1, &[0, 101, 0, 0, 0, 0, 0, 4]));
        // SPB: original length 6, data cut to the snaplen
        b.extend(block(true, 3, &[0, 0, 0, 6, 1, 2, 3, 4, 5, 6]));
        // obsolete PB: interface 0, ts 0:1000000 us, caplen 2, len 2
        b.extend(block(
            true,
            2,
            &[
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 2, 0, 0, 0, 2, 9, 9,
            ],
        ));
        // name resolution block: not a frame
        b.extend(block(true, 4, &[0, 0, 0, 0]));
        // a second section, little endian, with its own interface table
        b.extend(block(
            false,
            PCAPNG_SHB,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        ));
        b.extend(block(false, 1, &[1, 0, 0, 0, 0, 0, 0, 0]));
        b.extend(block(
            false,
            6,
            &[
                0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7,
            ],
        ));
        let f = CaptureFile::from_bytes("ng".into(), b.clone()).unwrap();
        assert_eq!(f.link_types(), &[101, 1]);
        assert_eq!(
            items(b),
            vec!["1 0 101 4", "2 1000000000 101 2", "3 2000 1 1"]
        );
    }

    #[test]
    fn modified_pcap() {
        let mut v = Vec::new();
        v.extend_from_slice(&PCAP_MODIFIED.to_le_bytes());
        v.extend_from_slice(&[
            2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
        ]);
        for x in [5u32, 6, 2, 2, 0, 0] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&[0xaa, 0xbb]);
        assert_eq!(items(v), vec!["1 5000006000 1 2"]);
    }

    #[test]
    fn truncated_record() {
        let mut b = pcap(1, &[(1, 0, b"abcd"), (2, 0, b"efgh")]);
        b.truncate(b.len() - 2);
        let it = items(b);
        assert_eq!(it.len(), 2);
        assert!(
            it[1].starts_with("problem capture file ends inside a record"),
            "{it:?}"
        );
    }
}
