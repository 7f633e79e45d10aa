//! Capture sources: a memory-mapped file or bytes already in memory, recognised as pcap or
//! pcapng by magic number, and walked record by record without copying packet bytes.
//!
//! Records and blocks are read by pcap-file from the bytes, borrowed: pcap record headers
//! (both byte orders, µs and ns), pcapng block framing, section headers, interface
//! descriptions and the three packet blocks, with each interface's `if_tsresol` /
//! `if_tsoffset` applied. Kept here: sniffing the format from the first bytes, Kuznetzov's
//! modified pcap (which pcap-file does not know), the interface table per section that a
//! stretch of the parallel scan starts from ([`Section`]), the guess where a stretch's first
//! record starts, and counting every packet record (EPB, SPB, obsolete PB, unreadable or
//! not) as one frame, as Wireshark numbers them.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use byteorder::{BigEndian, ByteOrder, LittleEndian};
use pcap_file::pcap::{PcapHeader, PcapParseError, RawPcapPacket};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock;
use pcap_file::pcapng::blocks::packet::PacketBlock;
use pcap_file::pcapng::blocks::section_header::SectionHeaderBlock;
use pcap_file::pcapng::blocks::simple_packet::SimplePacketBlock;
use pcap_file::pcapng::blocks::{
    ENHANCED_PACKET_BLOCK, INTERFACE_DESCRIPTION_BLOCK, PACKET_BLOCK, SECTION_HEADER_BLOCK,
    SIMPLE_PACKET_BLOCK, SYSTEMD_JOURNAL_EXPORT_BLOCK,
};
use pcap_file::pcapng::{Block, PcapNgBlock, PcapNgState, RawBlock, RawBlockParseError};
use pcap_file::{DataLink, Endianness};

use super::{Problem, ProblemKind, Timestamp};

/// Why a capture could not be opened at all. Problems after the headers (a record cut short,
/// a corrupt block) are not errors: they end the walk with a [`ProblemKind`] event.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened, mapped or read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The path or name the capture was opened with.
        file: String,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The first 4 bytes are neither a pcap nor a pcapng magic number (a log, a zip, a
    /// compressed capture: [`crate::case::input`] tells other inputs apart).
    #[error("{file}: not a pcap or pcapng file (first 4 bytes {magic:#010x} at byte offset 0)")]
    NotACapture {
        /// The path or name the capture was opened with.
        file: String,
        /// The first 4 bytes, read big-endian.
        magic: u32,
    },
    /// The file ends inside its file header or first section header (an empty file too).
    #[error("{file}: truncated {what} at byte offset {offset}: need {needed} bytes, {available} available")]
    TruncatedHeader {
        /// The path or name the capture was opened with.
        file: String,
        /// Which header ("file header", "pcapng section header", ...).
        what: &'static str,
        /// Where the header starts in the file, in bytes.
        offset: u64,
        /// Bytes the header needs.
        needed: u64,
        /// Bytes left from `offset`.
        available: u64,
    },
    /// A header is complete but makes no sense: a pcapng section header whose byte-order
    /// magic is neither order.
    #[error("{file}: malformed {what} at byte offset {offset}: {detail}")]
    Malformed {
        /// The path or name the capture was opened with.
        file: String,
        /// Which header.
        what: &'static str,
        /// Byte offset of the bad field in the file.
        offset: u64,
        /// What is wrong with it.
        detail: String,
    },
}

/// The container format, as recognised from the magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic libpcap. `nanosecond` for the 0xa1b23c4d magic, `big_endian` for a file
    /// written on a big-endian host, `modified` for Kuznetzov's patched format.
    Pcap {
        /// Timestamps in nanoseconds (magic 0xa1b23c4d) rather than microseconds.
        nanosecond: bool,
        /// Written on a big-endian host: every header field is big-endian.
        big_endian: bool,
        /// Kuznetzov's patched format (magic 0xa1b2cd34): 8 more bytes per record header.
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

    /// The container format recognised when the file was opened.
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
                Kind::PcapNg(section) => {
                    (plan.from.next_multiple_of(4)..end).step_by(4).find(|&p| {
                        pcapng_blocks_plausible(b, p, section.big(), section.interface_count())
                    })?
                }
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
/// Bytes of a pcap record header (Kuznetzov's modified format has 8 more).
const PCAP_RECORD_HEADER: usize = 16;

/// The link type of a pcap file, from its header as pcap-file reads it. Kuznetzov's modified
/// format has the same header under a magic pcap-file does not know: it is read with the
/// microsecond magic in its place. The upper 16 bits carry FCS flags, not the link type.
fn pcap_link(b: &[u8], big: bool, modified: bool) -> u32 {
    let Some(mut head) = b
        .get(..PCAP_HEADER)
        .and_then(|h| <[u8; PCAP_HEADER]>::try_from(h).ok())
    else {
        return u32::MAX;
    };
    if modified {
        let magic = if big {
            PCAP_US.to_be_bytes()
        } else {
            PCAP_US.to_le_bytes()
        };
        head[..4].copy_from_slice(&magic);
    }
    match PcapHeader::from_slice(&head) {
        Ok((_, header)) => u32::from(header.datalink) & 0xffff,
        Err(_) => u32::MAX,
    }
}

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

fn rd32(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let v = be32(b, at)?;
    Some(if big { v } else { v.swap_bytes() })
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

/// What this layer keeps per pcapng interface beside pcap-file's own table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Iface {
    /// Its description declares this link type.
    Declared { link: u32 },
    /// pcap-file could not read its description (`why`): its packets are frames with that
    /// problem, as the interface numbers of the blocks after it still count it.
    Unreadable { why: String },
}

/// The pcapng section being walked: pcap-file's state (section header, interface
/// descriptions and their `if_tsresol` / `if_tsoffset`, which it applies to every packet
/// block) and what this layer keeps per interface.
#[derive(Debug, Default)]
pub(crate) struct Section {
    state: PcapNgState,
    ifaces: Vec<Iface>,
}

/// Most interfaces one section may declare: the table is copied for every stretch of a
/// parallel scan. Wireshark would refuse such a file anyway.
const MAX_INTERFACES: usize = 65_536;

impl Section {
    /// The section's byte order is big-endian.
    fn big(&self) -> bool {
        self.state.endianness() == Endianness::Big
    }

    /// Interfaces declared so far in this section.
    fn interface_count(&self) -> usize {
        self.ifaces.len()
    }
}

/// pcap-file's state is not `Clone`; a stretch of a parallel scan starts from a copy of the
/// state the file's leading blocks left, so the copy replays them into a fresh one.
impl Clone for Section {
    fn clone(&self) -> Section {
        let mut state = PcapNgState::default();
        state.update_from_block(&Block::SectionHeader(self.state.section().clone()));
        for idb in self.state.interfaces() {
            state.update_from_block(&Block::InterfaceDescription(idb.clone()));
        }
        Section {
            state,
            ifaces: self.ifaces.clone(),
        }
    }
}

/// Two sections are the same state when their headers and interfaces are: the scan compares
/// the state a stretch guessed with the one the walk before it really left.
impl PartialEq for Section {
    fn eq(&self, other: &Section) -> bool {
        self.ifaces == other.ifaces
            && self.state.section() == other.state.section()
            && self.state.interfaces() == other.state.interfaces()
    }
}

impl Eq for Section {}

/// The reader state between records: what later records are read with.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A pcap file: byte order, nanosecond timestamps, bytes of each record header (16, or 24
    /// in Kuznetzov's modified format) and the file's link type.
    Pcap {
        big: bool,
        nanos: bool,
        rec_hdr: usize,
        link: u32,
    },
    /// A pcapng file, in its current section.
    PcapNg(Section),
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
                    rec_hdr: if modified { 24 } else { PCAP_RECORD_HEADER },
                    link: pcap_link(b, big_endian, modified),
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
                // Until the section header (the file's first block) says otherwise.
                kind: Kind::PcapNg(Section::default()),
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
            Kind::PcapNg(_) => self.all_links.clone(),
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
        loop {
            if self.done {
                return None;
            }
            let walked = match &self.kind {
                Kind::Pcap { big: true, .. } => Ok(self.next_pcap::<BigEndian>()),
                Kind::Pcap { big: false, .. } => Ok(self.next_pcap::<LittleEndian>()),
                Kind::PcapNg(section) if section.big() => self.next_pcapng::<BigEndian>(),
                Kind::PcapNg(_) => self.next_pcapng::<LittleEndian>(),
            };
            match walked {
                Ok(item) => return item,
                // The blocks after it are read in the new section's byte order.
                Err(NewSection) => continue,
            }
        }
    }

    /// The next pcap record, its header read by pcap-file in byte order `B`. Timestamps are
    /// converted here, as Wireshark reads them: pcap-file's checked packet refuses a
    /// sub-second part out of range and a record longer than the snaplen, which Wireshark
    /// shows.
    fn next_pcap<B: ByteOrder>(&mut self) -> Option<Item<'a>> {
        let Kind::Pcap {
            nanos,
            rec_hdr,
            link,
            ..
        } = self.kind
        else {
            return None;
        };
        let pos = self.pos;
        let rest = self.b.get(pos..).unwrap_or_default();
        if rest.is_empty() || pos >= self.limit {
            self.done = true;
            return None;
        }
        if rest.len() < rec_hdr {
            let cut = CutShort::PcapHeader {
                at: self.at(pos),
                needed: rec_hdr,
            };
            return self.cut_short(pos, cut);
        }
        let raw = match RawPcapPacket::from_slice::<B>(rest) {
            Ok((_, raw)) => raw,
            Err(PcapParseError::IncompleteBuffer(incl, _)) => {
                let cut = CutShort::PcapRecord {
                    at: self.at(pos),
                    incl: u32::try_from(incl).unwrap_or(u32::MAX),
                    header: rec_hdr,
                };
                return self.cut_short(pos, cut);
            }
            Err(e) => {
                let detail = format!("record at byte offset {}: {}", self.at(pos), chain(&e));
                return self.fatal(ProblemKind::Malformed {
                    layer: "pcap",
                    detail,
                });
            }
        };
        let incl = raw.incl_len as usize;
        let data = if rec_hdr == PCAP_RECORD_HEADER {
            borrowed(raw.data)
        } else {
            // Kuznetzov's records carry 8 more header bytes (interface index, protocol,
            // packet type), which pcap-file does not know, before the data.
            rest.get(rec_hdr..).and_then(|d| d.get(..incl))
        };
        let Some(data) = data else {
            let cut = CutShort::PcapRecord {
                at: self.at(pos),
                incl: raw.incl_len,
                header: rec_hdr,
            };
            return self.cut_short(pos, cut);
        };
        self.pos = pos + rec_hdr + data.len();
        prefetch_ahead(self.b, self.pos);
        let frac_ns = if nanos {
            i64::from(raw.ts_frac)
        } else {
            i64::from(raw.ts_frac).saturating_mul(1000)
        };
        let ts = Timestamp(
            i64::from(raw.ts_sec)
                .saturating_mul(1_000_000_000)
                .saturating_add(frac_ns),
        );
        let frame = self.next_frame();
        Some(Item::Packet(Record {
            frame,
            ts,
            link,
            data,
            orig_len: raw.orig_len,
        }))
    }

    /// The next frame of a pcapng file: blocks framed and read by pcap-file in the current
    /// section's byte order `B`, up to a section header ([`NewSection`]: it says its own).
    fn next_pcapng<B: ByteOrder>(&mut self) -> Result<Option<Item<'a>>, NewSection> {
        loop {
            let pos = self.pos;
            let rest = self.b.get(pos..).unwrap_or_default();
            if rest.is_empty() || pos >= self.limit {
                self.done = true;
                return Ok(None);
            }
            if rest.len() < 12 {
                let cut = CutShort::BlockHeader { at: self.at(pos) };
                return Ok(self.cut_short(pos, cut));
            }
            let (after, raw) = match RawBlock::from_slice::<B>(rest) {
                Ok(framed) => framed,
                Err(RawBlockParseError::IncompleteBuffer(body_and_trailer, _)) => {
                    // pcap-file counts what the block needs after its type and length.
                    let total = body_and_trailer.saturating_add(8);
                    let cut = CutShort::Block {
                        at: self.at(pos),
                        total,
                    };
                    return Ok(self.cut_short(pos, cut));
                }
                Err(e) => {
                    let detail = format!("block at byte offset {}: {}", self.at(pos), chain(&e));
                    return Ok(self.fatal(ProblemKind::Malformed {
                        layer: "pcapng",
                        detail,
                    }));
                }
            };
            let declares = matches!(
                raw.type_,
                SECTION_HEADER_BLOCK | INTERFACE_DESCRIPTION_BLOCK
            );
            if self.lead_only && !declares {
                self.done = true;
                return Ok(None);
            }
            self.pos = self.b.len() - after.len();
            prefetch_ahead(self.b, self.pos);
            let Some(body) = borrowed(raw.body) else {
                continue;
            };
            if raw.type_ == SECTION_HEADER_BLOCK {
                return match self.section_header(pos, body) {
                    Some(problem) => Ok(Some(problem)),
                    None => Err(NewSection),
                };
            }
            if let Some(item) = self.block::<B>(pos, raw.type_, body) {
                return Ok(Some(item));
            }
        }
    }

    /// One framed pcapng block starting at `pos`, other than a section header: a frame for
    /// packet blocks (every one counts, readable or not, as in Wireshark), or nothing.
    fn block<B: ByteOrder>(
        &mut self,
        pos: usize,
        block_type: u32,
        body: &'a [u8],
    ) -> Option<Item<'a>> {
        if block_type == INTERFACE_DESCRIPTION_BLOCK {
            self.interface::<B>(pos, body);
            return None;
        }
        let packet_block = matches!(
            block_type,
            ENHANCED_PACKET_BLOCK
                | SIMPLE_PACKET_BLOCK
                | PACKET_BLOCK
                | SYSTEMD_JOURNAL_EXPORT_BLOCK
        );
        if self.headers_only || !packet_block {
            // Statistics, name resolution, secrets, custom blocks: not frames.
            return None;
        }
        let frame = self.next_frame();
        let Kind::PcapNg(section) = &self.kind else {
            return None;
        };
        let state = &section.state;
        let packet = match block_type {
            ENHANCED_PACKET_BLOCK => {
                EnhancedPacketBlock::from_slice::<B>(state, body).map(|(_, p)| BlockPacket {
                    interface: p.interface_id,
                    ts: p.timestamp,
                    data: p.data,
                    orig_len: p.original_len,
                })
            }
            PACKET_BLOCK => PacketBlock::from_slice::<B>(state, body).map(|(_, p)| BlockPacket {
                interface: u32::from(p.interface_id),
                ts: p.timestamp,
                data: p.data,
                orig_len: p.original_len,
            }),
            // Interface 0 and no timestamp: the interface's offset, as before the change.
            SIMPLE_PACKET_BLOCK => {
                SimplePacketBlock::from_slice::<B>(state, body).and_then(|(_, p)| {
                    let ts = state.decode_timestamp(0, 0, 0)?;
                    Ok(BlockPacket {
                        interface: 0,
                        ts,
                        data: p.data,
                        orig_len: p.original_len,
                    })
                })
            }
            // A systemd journal export: Wireshark shows it as a frame with no packet.
            _ => {
                return Some(Item::Frame {
                    frame,
                    problem: None,
                })
            }
        };
        Some(match packet {
            Ok(packet) => self.packet(frame, pos, packet),
            Err(e) => self.bad_frame(frame, pos, &chain(&e)),
        })
    }

    /// A section header: a new section, in its own byte order, with no interfaces yet.
    fn section_header(&mut self, pos: usize, body: &'a [u8]) -> Option<Item<'a>> {
        let fresh = PcapNgState::default();
        // The header's byte-order magic decides how the rest of it reads, whatever `B` is.
        match SectionHeaderBlock::from_slice::<BigEndian>(&fresh, body) {
            Ok((_, header)) => {
                let mut section = Section::default();
                section
                    .state
                    .update_from_block(&Block::SectionHeader(header));
                self.kind = Kind::PcapNg(section);
                None
            }
            Err(e) => {
                let detail = format!(
                    "section header at byte offset {}: {}",
                    self.at(pos),
                    chain(&e)
                );
                self.fatal(ProblemKind::Malformed {
                    layer: "pcapng",
                    detail,
                })
            }
        }
    }

    /// An interface description, added to the section's table (an unreadable one too, so that
    /// the interfaces after it keep their numbers).
    fn interface<B: ByteOrder>(&mut self, pos: usize, body: &'a [u8]) {
        let at = self.at(pos);
        let Kind::PcapNg(section) = &mut self.kind else {
            return;
        };
        if section.ifaces.len() >= MAX_INTERFACES {
            return;
        }
        match InterfaceDescriptionBlock::from_slice::<B>(&section.state, body) {
            Ok((_, idb)) => {
                let link = u32::from(idb.linktype);
                self.all_links.push(link);
                section.ifaces.push(Iface::Declared { link });
                section
                    .state
                    .update_from_block(&Block::InterfaceDescription(idb));
            }
            Err(e) => {
                let why = format!(
                    "interface description block at byte offset {at}: {}",
                    chain(&e)
                );
                section.ifaces.push(Iface::Unreadable { why });
                // Keeps pcap-file's interface numbers in step with the section's.
                let stand_in = InterfaceDescriptionBlock::new(DataLink::Unknown(u32::MAX), 0);
                section
                    .state
                    .update_from_block(&Block::InterfaceDescription(stand_in));
            }
        }
    }

    fn bad_frame(&self, frame: u32, pos: usize, why: &str) -> Item<'a> {
        Item::Frame {
            frame,
            problem: Some(ProblemKind::Malformed {
                layer: "pcapng",
                detail: format!("packet block at byte offset {}: {why}", self.at(pos)),
            }),
        }
    }

    /// The packet of a packet block on the interface it names.
    fn packet(&self, frame: u32, pos: usize, packet: BlockPacket<'a>) -> Item<'a> {
        let Some(data) = borrowed(packet.data) else {
            return self.bad_frame(frame, pos, "packet bytes not borrowed from the capture");
        };
        let iface = match &self.kind {
            Kind::PcapNg(section) => section.ifaces.get(packet.interface as usize),
            Kind::Pcap { .. } => None,
        };
        let link = match iface {
            Some(Iface::Declared { link }) => *link,
            Some(Iface::Unreadable { why }) => {
                return Item::Frame {
                    frame,
                    problem: Some(ProblemKind::Malformed {
                        layer: "pcapng",
                        detail: why.clone(),
                    }),
                }
            }
            None => {
                let why = format!("packet for undeclared interface {}", packet.interface);
                return self.bad_frame(frame, pos, &why);
            }
        };
        let ts = Timestamp(i64::try_from(packet.ts.as_nanos()).unwrap_or(i64::MAX));
        Item::Packet(Record {
            frame,
            ts,
            link,
            data,
            orig_len: packet.orig_len,
        })
    }
}

/// The walk read a section header: the blocks after it are in its byte order, which may
/// differ from the one the walk was reading.
struct NewSection;

/// What the three pcapng packet blocks say, as pcap-file reads them.
struct BlockPacket<'a> {
    interface: u32,
    /// Since the epoch, with the interface's `if_tsresol` and `if_tsoffset` applied.
    ts: Duration,
    data: Cow<'a, [u8]>,
    orig_len: u32,
}

/// Bytes pcap-file borrowed from the capture (it copies only bytes it was given owned).
fn borrowed(bytes: Cow<'_, [u8]>) -> Option<&[u8]> {
    match bytes {
        Cow::Borrowed(b) => Some(b),
        Cow::Owned(_) => None,
    }
}

/// An error and its sources, one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
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
    fn unreadable_interface_keeps_the_numbers_of_the_next_ones() {
        let mut b = block(
            false,
            PCAPNG_SHB,
            &[
                0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        // Interface 0: if_tsresol 10^-12 s, which pcap-file refuses (it reads down to ns).
        b.extend(block(
            false,
            1,
            &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 12, 0, 0, 0, 0, 0, 0, 0],
        ));
        // Interface 1: raw IP, if_tsresol 10^-3 s.
        b.extend(block(
            false,
            1,
            &[101, 0, 0, 0, 0, 0, 0, 0, 9, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0],
        ));
        for ifid in [0u8, 1] {
            b.extend(block(
                false,
                6,
                &[
                    ifid, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7,
                ],
            ));
        }
        let it = items(b.clone());
        assert_eq!(it.len(), 2, "{it:?}");
        assert!(
            it[0].starts_with("1 frame Some(Malformed") && it[0].contains("byte offset 28"),
            "{it:?}"
        );
        assert_eq!(it[1], "2 5000000 101 1");
        let f = CaptureFile::from_bytes("ng".into(), b).unwrap();
        assert_eq!(f.link_types(), &[101]);
        assert_eq!(f.frame_count(), 2);
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
