//! `analyze --export`: the frames behind a report's findings, copied from every capture of the
//! case into one pcapng file, for the ticket or for Wireshark.
//!
//! ```no_run
//! use turnscope::{analyze, export, AnalyzeOptions, Input};
//! let inputs = [Input::path("client.pcap"), Input::path("expe_diag.tar.gz")];
//! let report = analyze(&inputs, &AnalyzeOptions::default());
//! let out = std::fs::File::create("evidence.pcapng")?;
//! let done = export::export(&report, &inputs, &export::ExportOptions::default(), None, out)?;
//! println!("{} frames", done.frames);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Two steps. The report's evidence (capture name, frame number) says which frames; each
//! capture is then walked once more through the capture layer's record walk (a bundle member
//! or rotated piece is streamed again from the bundle, never extracted) and the chosen frames'
//! bytes are kept with their times, at most [`MAX_EXPORT_BYTES`] of them. They are written
//! in time order across captures: one interface per (capture, link type), named after the
//! capture, and on every packet a comment naming its findings and where it came from
//! (`docs/cli.md` gives the format). With [`ExportOptions::flows`], a first walk over the
//! captures with evidence finds the 5-tuples of the evidence frames, and every frame of those
//! flows, in either direction and in any capture of the case, is exported too.
//!
//! With a [`Redactor`], each frame is rewritten on its way out (`rewrite.rs`).

mod layout;
mod rewrite;
mod sources;
mod write;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use crate::capture::{RawFrame, Timestamp};
use crate::input::Input;
use crate::redact::Redactor;
use crate::report::Report;

pub use layout::FiveTuple;

/// Captured bytes an export holds at most before writing (the frames are sorted by time
/// across captures in memory). Frames beyond it are counted, not exported.
pub const MAX_EXPORT_BYTES: usize = 256 << 20;

/// What to export, and from where.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Also every frame of the 5-tuples (both directions) of the evidence frames.
    pub flows: bool,
    /// Captured bytes held at most ([`MAX_EXPORT_BYTES`] by default).
    pub max_bytes: usize,
    /// Bytes a bundle may inflate (as for the analysis).
    pub bundle_limit: u64,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            flows: false,
            max_bytes: MAX_EXPORT_BYTES,
            bundle_limit: crate::capture::bundle::DEFAULT_LIMIT,
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Packets written.
    pub frames: u64,
    /// Of them, frames a finding names.
    pub evidence_frames: u64,
    /// Of them, other frames of the evidence frames' flows (`flows`).
    pub flow_frames: u64,
    /// Interfaces written (one per capture and link type).
    pub interfaces: usize,
    /// Frames chosen but not exported: past [`ExportOptions::max_bytes`].
    pub over_limit: u64,
    /// Frames whose payload was cut by redaction (could not be redacted safely).
    pub payloads_cut: u64,
    /// What the engineer should know: captures that could not be read again, evidence frames
    /// not found, the limit reached.
    pub notes: Vec<String>,
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing the pcapng stream failed (the output is unusable).
    #[error("writing the pcapng export: {0}")]
    Write(String),
}

/// The frames a report's findings name: per capture, per frame number, the finding ids.
#[derive(Debug, Default)]
struct Evidence {
    frames: BTreeMap<String, BTreeMap<u32, Vec<Cow<'static, str>>>>,
}

impl Evidence {
    fn of(report: &Report) -> Evidence {
        let mut frames: BTreeMap<String, BTreeMap<u32, Vec<Cow<'static, str>>>> = BTreeMap::new();
        for finding in &report.findings {
            for e in &finding.evidence {
                let ids = frames
                    .entry(e.capture.clone())
                    .or_default()
                    .entry(e.frame)
                    .or_default();
                if !ids.contains(&finding.id) {
                    ids.push(finding.id.clone());
                }
            }
        }
        Evidence { frames }
    }

    fn ids(&self, capture: &str, frame: u32) -> Option<&[Cow<'static, str>]> {
        self.frames.get(capture)?.get(&frame).map(Vec::as_slice)
    }

    fn count(&self) -> usize {
        self.frames.values().map(BTreeMap::len).sum()
    }
}

/// Why a frame is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reason {
    /// Findings name it.
    Evidence(Vec<Cow<'static, str>>),
    /// It belongs to the flow of an evidence frame of these findings.
    Flow(Vec<Cow<'static, str>>),
}

/// A frame kept for writing.
#[derive(Debug)]
struct Picked {
    ts: Timestamp,
    /// Index in [`Collector::captures`].
    capture: usize,
    frame: u32,
    link: u32,
    data: Vec<u8>,
    orig_len: u32,
    reason: Reason,
}

/// The frames chosen so far, within the byte limit.
#[derive(Debug, Default)]
struct Collector {
    captures: Vec<String>,
    picked: Vec<Picked>,
    bytes: usize,
    over_limit: u64,
    /// Evidence frames found, per capture.
    found: HashMap<String, usize>,
}

impl Collector {
    fn capture_index(&mut self, name: &str) -> usize {
        match self.captures.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                self.captures.push(name.to_string());
                self.captures.len() - 1
            }
        }
    }

    fn keep(&mut self, capture: &str, f: RawFrame<'_>, reason: Reason, max_bytes: usize) {
        if let Reason::Evidence(_) = reason {
            *self.found.entry(capture.to_string()).or_default() += 1;
        }
        if self.bytes.saturating_add(f.data.len()) > max_bytes {
            self.over_limit += 1;
            return;
        }
        self.bytes += f.data.len();
        let capture = self.capture_index(capture);
        self.picked.push(Picked {
            ts: f.ts,
            capture,
            frame: f.frame,
            link: f.link,
            data: f.data.to_vec(),
            orig_len: f.orig_len,
            reason,
        });
    }
}

/// Export the frames behind `report`'s findings, read again from `inputs` (the inputs the
/// report was made from), as pcapng to `out`. With `redactor`, frames are rewritten (see
/// `docs/cli.md`); give it the one the report was redacted with, so both use the same
/// pseudonyms.
pub fn export(
    report: &Report,
    inputs: &[Input],
    opts: &ExportOptions,
    redactor: Option<&mut Redactor>,
    out: impl Write,
) -> Result<ExportSummary, ExportError> {
    let evidence = Evidence::of(report);
    let mut notes = Vec::new();
    let flows = if opts.flows {
        flows_of(&evidence, inputs, opts, &mut notes)
    } else {
        HashMap::new()
    };
    let mut collector = Collector::default();
    let wanted = |name: &str| opts.flows || evidence.frames.contains_key(name);
    let read_notes = sources::walk(inputs, opts.bundle_limit, &wanted, &mut |capture, f| {
        let reason = match evidence.ids(capture, f.frame) {
            Some(ids) => Reason::Evidence(ids.to_vec()),
            None => match flow_ids(&flows, f) {
                Some(ids) => Reason::Flow(ids),
                None => return,
            },
        };
        collector.keep(capture, f, reason, opts.max_bytes);
    });
    // With flows, the first walk already said which captures with evidence could not be
    // read again; the others are the analysis's own input errors, already in the report.
    if !opts.flows {
        notes.extend(read_notes);
    }
    notes.extend(missing_evidence(&evidence, &collector));
    if collector.over_limit > 0 {
        notes.push(format!(
            "{} chosen frames not exported: the export holds at most {} bytes of frames",
            collector.over_limit, opts.max_bytes
        ));
    }
    let mut summary = write::pcapng(out, collector.captures, collector.picked, redactor)?;
    summary.over_limit = collector.over_limit;
    summary.notes = notes;
    Ok(summary)
}

/// The flows (5-tuples) of the evidence frames, with the findings each is evidence of.
fn flows_of(
    evidence: &Evidence,
    inputs: &[Input],
    opts: &ExportOptions,
    notes: &mut Vec<String>,
) -> HashMap<FiveTuple, Vec<Cow<'static, str>>> {
    let mut flows: HashMap<FiveTuple, Vec<Cow<'static, str>>> = HashMap::new();
    let wanted = |name: &str| evidence.frames.contains_key(name);
    let read_notes = sources::walk(inputs, opts.bundle_limit, &wanted, &mut |capture, f| {
        let Some(ids) = evidence.ids(capture, f.frame) else {
            return;
        };
        let Some(tuple) = layout::layout(f.link, f.data).and_then(|l| l.five_tuple()) else {
            return;
        };
        let listed = flows.entry(tuple).or_default();
        for id in ids {
            if !listed.contains(id) {
                listed.push(id.clone());
            }
        }
    });
    notes.extend(read_notes);
    flows
}

/// The findings whose evidence flows `f` belongs to.
fn flow_ids(
    flows: &HashMap<FiveTuple, Vec<Cow<'static, str>>>,
    f: RawFrame<'_>,
) -> Option<Vec<Cow<'static, str>>> {
    if flows.is_empty() {
        return None;
    }
    let tuple = layout::layout(f.link, f.data)?.five_tuple()?;
    flows.get(&tuple).cloned()
}

/// Notes for captures whose evidence frames were not all found again.
fn missing_evidence(evidence: &Evidence, collector: &Collector) -> Vec<String> {
    let mut notes = Vec::new();
    for (capture, frames) in &evidence.frames {
        let found = collector.found.get(capture).copied().unwrap_or(0);
        if found < frames.len() {
            notes.push(format!(
                "{capture}: {} of its {} evidence frames not found when read again",
                frames.len() - found,
                frames.len()
            ));
        }
    }
    if evidence.count() == 0 {
        notes.push("no finding names a frame: the export holds no packets".to_string());
    }
    notes
}
