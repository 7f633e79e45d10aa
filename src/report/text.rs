//! Terminal table and Markdown renderings of a report. Every string of the report goes
//! through [`escape::terminal`] or [`escape::markdown`] on its way out (ours are left as they
//! are; those made of capture contents lose their control characters and markup).

use std::borrow::Cow;
use std::fmt::Write;

use crate::escape;

use prettytable::format::consts::FORMAT_BOX_CHARS;
use prettytable::{Cell, Row, Table};

use super::Report;

/// The evidence frames of a finding, one capture after the other (`between` them), capture
/// names passed through `esc`.
fn evidence_text<'a>(
    f: &'a crate::diagnose::Finding,
    max: usize,
    between: &str,
    esc: fn(&'a str) -> std::borrow::Cow<'a, str>,
) -> String {
    // Grouped by capture in order of first appearance (a lookup per frame: a finding may
    // cite thousands of captures).
    let mut by_cap: Vec<(&str, Vec<u32>)> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in &f.evidence {
        let i = *index.entry(e.capture.as_str()).or_insert_with(|| {
            by_cap.push((e.capture.as_str(), Vec::new()));
            by_cap.len() - 1
        });
        if let Some((_, v)) = by_cap.get_mut(i) {
            v.push(e.frame);
        }
    }
    let frames = by_cap.into_iter().map(|(c, v)| {
        let shown: Vec<String> = v.iter().take(max).map(u32::to_string).collect();
        let more = if v.len() > max { ", ..." } else { "" };
        format!("{}: {}{more}", esc(c), shown.join(", "))
    });
    // Places in documents (a dump's error, state change, pair) after the frames.
    let places = f.documents.iter().take(max).map(|d| document_text(d, esc));
    frames.chain(places).collect::<Vec<_>>().join(between)
}

/// `dump.gz (peer connection 8-1, 2026-…Z): icecandidateerror 701 …`, every part escaped.
fn document_text<'a>(
    d: &'a crate::diagnose::DocumentEvidence,
    esc: fn(&'a str) -> std::borrow::Cow<'a, str>,
) -> String {
    let mut whence = Vec::new();
    if let Some(pc) = &d.peer_connection {
        whence.push(format!("peer connection {}", esc(pc)));
    }
    if let Some(at) = &d.at {
        whence.push(esc(at).into_owned());
    }
    let whence = if whence.is_empty() {
        String::new()
    } else {
        format!(" ({})", whence.join(", "))
    };
    format!("{}{whence}: {}", esc(&d.document), esc(&d.what))
}

/// A table cell showing `text` (escaped for the terminal).
fn cell(text: &str) -> Cell {
    Cell::new(&escape::terminal(text))
}

/// A table cell showing `text` (escaped for the terminal) wrapped at `width` columns.
fn wrapped_cell(text: &str, width: usize) -> Cell {
    Cell::new(&wrap(&escape::terminal(text), width))
}

/// Wrap text at `width` columns on spaces.
fn wrap(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in s.split(' ') {
        if line > 0 && line + 1 + word.chars().count() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.chars().count();
    }
    out
}

/// Wrap each line of `s` (already escaped) at `width` columns; a line shorter stays whole.
fn wrap_lines(s: &str, width: usize) -> String {
    s.lines()
        .map(|l| wrap(l, width))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The terminal rendering: captures, findings (with evidence and remedy), allocations.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    let mut t = Table::new();
    t.set_format(*FORMAT_BOX_CHARS);
    t.set_titles(Row::new(
        ["capture", "role", "frames", "STUN", "why this role"]
            .iter()
            .map(|h| Cell::new(h).style_spec("b"))
            .collect(),
    ));
    for c in &r.captures {
        t.add_row(Row::new(vec![
            cell(&c.path),
            cell(c.role.as_str()),
            cell(&c.frames.to_string()).style_spec("r"),
            cell(&c.stun_messages.to_string()).style_spec("r"),
            wrapped_cell(&c.role_reason, 60),
        ]));
    }
    out.push_str(&t.to_string());
    for c in &r.captures {
        if let Some(note) = c.summarised_note() {
            let _ = writeln!(out, "note: {}: {note}", escape::terminal(&c.path));
        }
    }
    for e in &r.errors {
        let _ = writeln!(
            out,
            "unusable input: {}: {}",
            escape::terminal(&e.path),
            escape::terminal(&e.reason)
        );
    }
    let corr = &r.correlation;
    if !corr.nat.is_empty() || !corr.clock_offsets.is_empty() {
        out.push('\n');
        for n in &corr.nat {
            let _ = writeln!(
                out,
                "NAT: client {} -> {} is seen by the server as {} -> {} ({} transactions, {} frame {} / {} frame {})",
                n.client_src, n.client_dst, n.server_src, n.server_dst, n.transactions,
                escape::terminal(&n.client_capture), n.client_frame,
                escape::terminal(&n.server_capture), n.server_frame
            );
        }
        for o in &corr.clock_offsets {
            let _ = writeln!(
                out,
                "clock: {} is {:+.3} ms from {} ({}, +/- {:.3} ms, {} shared transactions)",
                escape::terminal(&o.capture),
                o.offset_ms,
                escape::terminal(corr.reference.as_deref().unwrap_or("?")),
                o.method,
                o.error_ms,
                o.transactions
            );
        }
    }
    out.push('\n');
    let mut f = Table::new();
    f.set_format(*FORMAT_BOX_CHARS);
    f.set_titles(Row::new(
        ["severity", "finding", "what", "evidence (frames)", "remedy"]
            .iter()
            .map(|h| Cell::new(h).style_spec("b"))
            .collect(),
    ));
    for x in &r.findings {
        let style = match x.severity {
            crate::diagnose::Severity::Error => "Fr",
            crate::diagnose::Severity::Warning => "Fy",
            crate::diagnose::Severity::Info => "Fg",
        };
        f.add_row(Row::new(vec![
            cell(x.severity.as_str()).style_spec(style),
            cell(x.id),
            wrapped_cell(&x.summary, 48),
            Cell::new(&wrap_lines(
                &evidence_text(x, 6, "\n", escape::terminal),
                64,
            )),
            wrapped_cell(&x.remedy, 48),
        ]));
    }
    if r.findings.is_empty() {
        out.push_str("no findings\n");
    } else {
        out.push_str(&f.to_string());
    }
    if !r.allocations.is_empty() {
        out.push('\n');
        let mut a = Table::new();
        a.set_format(*FORMAT_BOX_CHARS);
        a.set_titles(Row::new(
            [
                "capture",
                "client -> server",
                "user",
                "outcome",
                "relayed",
                "out / in (pkts)",
            ]
            .iter()
            .map(|h| Cell::new(h).style_spec("b"))
            .collect(),
        ));
        for x in &r.allocations {
            let d = &x.relayed_data;
            let out_p = d.send_indications.packets + d.channeldata_out.packets;
            let in_p = d.data_indications.packets + d.channeldata_in.packets;
            a.add_row(Row::new(vec![
                cell(&x.capture),
                cell(&format!("{} -> {}/{}", x.client, x.server, x.transport)),
                cell(x.username.as_deref().unwrap_or("")),
                cell(&x.outcome),
                cell(&x.relayed.map(|r| r.to_string()).unwrap_or_default()),
                cell(&format!("{out_p} / {in_p}")),
            ]));
        }
        out.push_str(&a.to_string());
    }
    out.push_str(&case_context(r, escape::terminal, TIMELINE_SHOWN));
    let _ = writeln!(
        out,
        "\n{} ({} unanswered); use --format json for all of them",
        crate::diagnose::plural(r.transactions.len(), "transaction", "transactions"),
        r.transactions
            .iter()
            .filter(|t| t.outcome == "none")
            .count()
    );
    out
}

/// Markdown for pasting into case notes.
pub fn markdown(r: &Report) -> String {
    use escape::markdown as md;
    let mut out = String::new();
    out.push_str("## turnscope analysis\n\n");
    out.push_str("| capture | role | frames | STUN messages |\n|---|---|---:|---:|\n");
    for c in &r.captures {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            md(&c.path),
            c.role.as_str(),
            c.frames,
            c.stun_messages
        );
    }
    for c in &r.captures {
        if let Some(note) = c.summarised_note() {
            let _ = writeln!(out, "\n**Note** {}: {}", md(&c.path), md(&note));
        }
    }
    for e in &r.errors {
        let _ = writeln!(
            out,
            "\n**Unusable input** {}: {}",
            md(&e.path),
            md(&e.reason)
        );
    }
    for n in &r.correlation.nat {
        let _ = writeln!(
            out,
            "\nNAT: client `{} -> {}` is seen by the server as `{} -> {}` ({} transactions).",
            n.client_src, n.client_dst, n.server_src, n.server_dst, n.transactions
        );
    }
    out.push_str("\n### Findings\n\n");
    if r.findings.is_empty() {
        out.push_str("No findings.\n");
    }
    for f in &r.findings {
        let _ = writeln!(
            out,
            "- **{}** `{}`: {}",
            f.severity.as_str(),
            f.id,
            md(&f.summary)
        );
        let ev = evidence_text(f, 12, "; ", escape::markdown);
        if !ev.is_empty() {
            let _ = writeln!(out, "  - Evidence (frames): {ev}");
        }
        let _ = writeln!(out, "  - Remedy: {}", md(&f.remedy));
    }
    if !r.allocations.is_empty() {
        out.push_str("\n### Allocations\n\n| capture | client -> server | user | outcome | relayed |\n|---|---|---|---|---|\n");
        for a in &r.allocations {
            let _ = writeln!(
                out,
                "| {} | {} -> {}/{} | {} | {} | {} |",
                md(&a.capture),
                a.client,
                a.server,
                a.transport,
                md(a.username.as_deref().unwrap_or("")),
                md(&a.outcome),
                a.relayed.map(|r| r.to_string()).unwrap_or_default()
            );
        }
    }
    out.push_str(&case_context(r, escape::markdown, TIMELINE_SHOWN));
    out
}

/// Timeline entries the text formats show (JSON has them all).
const TIMELINE_SHOWN: usize = 60;

/// What the bundles, the server profile and the timeline add, as plain lines (the same in
/// the terminal and in Markdown, each escaped its way).
fn case_context(r: &Report, esc: fn(&str) -> Cow<'_, str>, shown: usize) -> String {
    let mut out = String::new();
    for b in &r.bundles {
        for n in &b.notes {
            let _ = writeln!(out, "\nbundle {}: {}", esc(&b.path), esc(n));
        }
    }
    if !r.server_profile.is_empty() {
        out.push_str("\nserver profile (flags, then the Expressway's configuration and status):\n");
        for p in &r.server_profile {
            let _ = writeln!(
                out,
                "- {} {}: {}{}",
                p.item,
                esc(&p.value),
                esc(&p.source),
                if p.used {
                    ""
                } else {
                    " (not used: given before)"
                }
            );
        }
    }
    if r.timeline.is_empty() {
        return out;
    }
    out.push_str(
        "\ntimeline (UTC, reference capture's clock; ~ = estimated from a log's local time):\n",
    );
    for e in r.timeline.iter().take(shown) {
        let _ = writeln!(out, "- {}", esc(&crate::timeline::entry_text(e)));
    }
    let more = r.timeline.len().saturating_sub(shown) + r.timeline_not_listed;
    if more > 0 {
        let _ = writeln!(out, "- ... {more} more entries: use --format json");
    }
    if r.timeline_not_placed > 0 {
        let _ = writeln!(
            out,
            "- {} document events could not be placed on the captures' clock",
            r.timeline_not_placed
        );
    }
    out
}
