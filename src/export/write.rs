//! The chosen frames as one pcapng file: a section header, one interface per (capture, link
//! type) in order of first use, then the frames in time order with their comments.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption, InterfaceTsResolution,
};
use pcap_file::pcapng::blocks::opt_common::CommonOption;
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use crate::redact::Redactor;

use super::{rewrite, ExportError, ExportSummary, Picked, Reason};

/// Timestamps are written in nanoseconds (`if_tsresol` 9), the unit the capture layer reads
/// every format into: no time is rounded.
const NANOSECOND_RESOLUTION: u8 = 9;

/// Write `picked` (frames of `captures`) in time order as pcapng to `out`.
pub(super) fn pcapng(
    out: impl Write,
    captures: Vec<String>,
    mut picked: Vec<Picked>,
    mut redactor: Option<&mut Redactor>,
) -> Result<ExportSummary, ExportError> {
    picked.sort_by_key(|a| (a.ts, a.capture, a.frame));
    let names: Vec<String> = captures
        .iter()
        .map(|c| match redactor.as_deref_mut() {
            Some(r) => r.file_name(c),
            None => c.clone(),
        })
        .collect();
    let interfaces = interfaces_of(&picked);
    let mut w = PcapNgWriter::with_section_header(out, section(names.len())).map_err(failed)?;
    for iface in &interfaces {
        let name = names.get(iface.capture).map_or("", String::as_str);
        w.write_pcapng_block(interface_block(name, iface.link)?)
            .map_err(failed)?;
    }
    let mut summary = ExportSummary {
        interfaces: interfaces.len(),
        ..ExportSummary::default()
    };
    for mut p in picked {
        let interface_id = interfaces
            .iter()
            .position(|i| i.capture == p.capture && i.link == p.link)
            .and_then(|i| u32::try_from(i).ok())
            .unwrap_or(0);
        let cut = match redactor.as_deref_mut() {
            Some(r) => rewrite::frame(r, p.link, &mut p.data),
            None => rewrite::Rewritten::Untouched,
        };
        let name = names.get(p.capture).map_or("", String::as_str);
        let comment = comment(&p.reason, name, p.frame, cut);
        match p.reason {
            Reason::Evidence(_) => summary.evidence_frames += 1,
            Reason::Flow(_) => summary.flow_frames += 1,
        }
        if cut == rewrite::Rewritten::PayloadCut {
            summary.payloads_cut += 1;
        }
        let packet = EnhancedPacketBlock {
            interface_id,
            timestamp: Duration::from_nanos(u64::try_from(p.ts.0).unwrap_or(0)),
            original_len: p
                .orig_len
                .max(u32::try_from(p.data.len()).unwrap_or(u32::MAX)),
            data: Cow::Borrowed(&p.data),
            options: vec![EnhancedPacketOption::Common(CommonOption::Comment(
                Cow::Owned(comment),
            ))],
        };
        w.write_pcapng_block(packet).map_err(failed)?;
        summary.frames += 1;
    }
    w.into_inner().flush().map_err(|e| failed(e.to_string()))?;
    Ok(summary)
}

fn failed(e: impl ToString) -> ExportError {
    ExportError::Write(e.to_string())
}

/// One interface of the export: a capture's frames of one link type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Interface {
    capture: usize,
    link: u32,
}

/// The interfaces the frames use, in order of first use.
fn interfaces_of(picked: &[Picked]) -> Vec<Interface> {
    let mut interfaces: Vec<Interface> = Vec::new();
    for p in picked {
        let iface = Interface {
            capture: p.capture,
            link: p.link,
        };
        if !interfaces.contains(&iface) {
            interfaces.push(iface);
        }
    }
    interfaces
}

fn section(captures: usize) -> SectionHeaderBlock<'static> {
    SectionHeaderBlock {
        options: vec![
            SectionHeaderOption::UserApplication(Cow::Owned(format!(
                "turnscope {}",
                env!("CARGO_PKG_VERSION")
            ))),
            SectionHeaderOption::Common(CommonOption::Comment(Cow::Owned(format!(
                "turnscope analyze --export: frames behind the findings, from {captures} captures"
            )))),
        ],
        ..SectionHeaderBlock::default()
    }
}

fn interface_block(name: &str, link: u32) -> Result<InterfaceDescriptionBlock<'_>, ExportError> {
    let resolution = InterfaceTsResolution::new(false, NANOSECOND_RESOLUTION)
        .map_err(|e| failed(format!("interface time resolution: {e}")))?;
    Ok(InterfaceDescriptionBlock {
        linktype: DataLink::from(link),
        snaplen: 0,
        options: vec![
            InterfaceDescriptionOption::IfName(Cow::Borrowed(name)),
            InterfaceDescriptionOption::IfDescription(Cow::Owned(format!(
                "frames of {name} (link type {link})"
            ))),
            InterfaceDescriptionOption::IfTsResol(resolution),
        ],
    })
}

/// The packet comment: `turnscope: ID; ID — FILE frame N`, `turnscope: flow of ID — …` for
/// a frame of an evidence frame's flow, and what redaction did.
fn comment(reason: &Reason, file: &str, frame: u32, rewritten: rewrite::Rewritten) -> String {
    let (flow, ids) = match reason {
        Reason::Evidence(ids) => ("", ids),
        Reason::Flow(ids) => ("flow of ", ids),
    };
    let redacted = match rewritten {
        rewrite::Rewritten::Untouched => "",
        rewrite::Rewritten::Redacted => " (redacted)",
        rewrite::Rewritten::PayloadCut => " (redacted; payload cut)",
    };
    format!(
        "turnscope: {flow}{} — {file} frame {frame}{redacted}",
        ids.join("; ")
    )
}
