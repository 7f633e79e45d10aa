//! Terminal table and Markdown renderings of a report. Every string of the report goes
//! through [`escape::terminal`] or [`escape::markdown`] on its way out (ours are left as they
//! are; those made of capture contents lose their control characters and markup).

use std::borrow::Cow;
use std::fmt::Write;

use crate::diagnose::Severity;
use crate::escape;

use super::{present, Report};

/// How the terminal rendering looks: its width in columns and whether severities are
/// coloured (ANSI).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermStyle {
    /// Columns each line fits in (at least [`MIN_WIDTH`]).
    pub width: usize,
    /// Severities in ANSI colour.
    pub color: bool,
}

/// The width when nothing tells (no `COLUMNS`, no terminal): wide enough for two addresses
/// and a path on one line, narrow enough for a ticket.
pub const DEFAULT_WIDTH: usize = 100;

/// Narrower than this and nothing readable fits; the layout assumes at least this.
pub const MIN_WIDTH: usize = 40;

impl Default for TermStyle {
    fn default() -> Self {
        TermStyle {
            width: DEFAULT_WIDTH,
            color: false,
        }
    }
}

/// The terminal rendering at the default width, without colour.
pub fn table(r: &Report) -> String {
    terminal(r, TermStyle::default())
}

/// Columns `s` takes on a terminal: ANSI colour sequences (only ever ours: capture text has
/// its escape characters escaped) take none, wide characters two.
pub fn visible_width(s: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in s.chars() {
        if in_escape {
            in_escape = c != 'm';
        } else if c == '\x1b' {
            in_escape = true;
        } else {
            width += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        }
    }
    width
}

/// Append `text` wrapped at `width` columns: the first line starts with `first`, the others
/// with `rest` (both counted by their visible width). Words longer than a line stay whole.
fn wrap_into(out: &mut String, first: &str, rest: &str, text: &str, width: usize) {
    let mut line = String::from(first);
    let mut used = visible_width(first);
    let mut empty = true;
    for word in text.split(' ') {
        let w = visible_width(word);
        if !empty && used + 1 + w > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(rest);
            used = visible_width(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
            used += 1;
        }
        line.push_str(word);
        used += w;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// A severity as the terminal shows it, padded to `pad` columns.
fn severity_label(s: Severity, style: TermStyle, pad: usize) -> String {
    let word = format!("{:<pad$}", s.as_str());
    if !style.color {
        return word;
    }
    let code = match s {
        Severity::Error => "1;31",
        Severity::Warning => "1;33",
        Severity::Info => "32",
    };
    format!(
        "\x1b[{code}m{}\x1b[0m{}",
        s.as_str(),
        &word[s.as_str().len()..]
    )
}

/// Capture text for the terminal, named without the folder all captures share.
fn name(path: &str, folder: &str) -> String {
    escape::terminal(present::short(path, folder)).into_owned()
}

/// Report text for the terminal; capture paths in it lose the shared folder too.
fn text(s: &str, folder: &str) -> String {
    let t = escape::terminal(s);
    if folder.is_empty() {
        t.into_owned()
    } else {
        t.replace(&*escape::terminal(folder), "")
    }
}

/// The terminal rendering: the verdict first, then the captures, correlation, each finding as
/// a block (evidence grouped by capture, frames as ranges, remedy), the allocations; every
/// line fits `style.width` columns (words longer than a line aside).
pub fn terminal(r: &Report, style: TermStyle) -> String {
    let width = style.width.max(MIN_WIDTH);
    let folder = present::common_folder(r);
    let mut out = String::new();
    verdict_block(&mut out, r, style, width, &folder);
    captures_block(&mut out, r, width, &folder);
    correlation_block(&mut out, r, width, &folder);
    findings_block(&mut out, r, style, width, &folder);
    allocations_block(&mut out, r, width, &folder);
    for line in case_context(r, escape::terminal, TIMELINE_SHOWN).lines() {
        wrap_into(&mut out, "", "  ", line, width);
    }
    let unanswered = r
        .transactions
        .iter()
        .filter(|t| t.outcome == "none")
        .count();
    out.push('\n');
    wrap_into(
        &mut out,
        "",
        "",
        &format!(
            "{} ({unanswered} unanswered); --format json lists all of them, --format html draws them",
            crate::diagnose::plural(r.transactions.len(), "transaction", "transactions"),
        ),
        width,
    );
    out
}

fn verdict_block(out: &mut String, r: &Report, style: TermStyle, width: usize, folder: &str) {
    let v = present::Verdict::of(r);
    let Some(lead) = v.lead else {
        wrap_into(
            out,
            "verdict: ",
            "         ",
            &present::Verdict::nothing_found(r),
            width,
        );
        return;
    };
    let first = format!("verdict: {} ", severity_label(lead.severity, style, 0));
    wrap_into(
        out,
        &first,
        "         ",
        &text(&lead.summary, folder),
        width,
    );
    wrap_into(
        out,
        "         remedy: ",
        "                 ",
        &text(&lead.remedy, folder),
        width,
    );
    wrap_into(
        out,
        "         ",
        "         ",
        &format!("({}: {}; each below)", lead.id, v.counts()),
        width,
    );
}

fn captures_block(out: &mut String, r: &Report, width: usize, folder: &str) {
    out.push('\n');
    if folder.is_empty() {
        out.push_str("captures:\n");
    } else {
        wrap_into(
            out,
            "captures in ",
            "  ",
            &format!("{}:", escape::terminal(folder)),
            width,
        );
    }
    let names: Vec<String> = r.captures.iter().map(|c| name(&c.path, folder)).collect();
    let name_w = names.iter().map(|n| visible_width(n)).max().unwrap_or(0);
    let frames_w = r
        .captures
        .iter()
        .map(|c| c.frames.to_string().len())
        .max()
        .unwrap_or(1);
    for (c, n) in r.captures.iter().zip(&names) {
        let pad = name_w.saturating_sub(visible_width(n));
        let row = format!(
            "  {:<7} {n}{} {:>frames_w$} frames, {} STUN",
            c.role.as_str(),
            " ".repeat(pad),
            c.frames,
            c.stun_messages
        );
        if visible_width(&row) <= width {
            out.push_str(&row);
            out.push('\n');
        } else {
            wrap_into(
                out,
                &format!("  {:<7} ", c.role.as_str()),
                "          ",
                &format!("{n} {} frames, {} STUN", c.frames, c.stun_messages),
                width,
            );
        }
        if !c.role_reason.is_empty() {
            wrap_into(
                out,
                "          why: ",
                "               ",
                &text(&c.role_reason, folder),
                width,
            );
        }
        if let Some(note) = c.summarised_note() {
            wrap_into(
                out,
                "          note: ",
                "                ",
                &text(&note, folder),
                width,
            );
        }
    }
    for e in &r.errors {
        wrap_into(
            out,
            "  unusable input: ",
            "    ",
            &format!("{}: {}", name(&e.path, folder), text(&e.reason, folder)),
            width,
        );
    }
}

fn correlation_block(out: &mut String, r: &Report, width: usize, folder: &str) {
    let corr = &r.correlation;
    if corr.nat.is_empty() && corr.clock_offsets.is_empty() {
        return;
    }
    out.push('\n');
    for n in &corr.nat {
        let line = format!(
            "client {} -> {} is seen by the server as {} -> {} ({} transactions, {} frame {} / {} frame {})",
            n.client_src, n.client_dst, n.server_src, n.server_dst, n.transactions,
            name(&n.client_capture, folder), n.client_frame,
            name(&n.server_capture, folder), n.server_frame
        );
        wrap_into(out, "NAT: ", "     ", &line, width);
    }
    for o in &corr.clock_offsets {
        let line = format!(
            "{} is {:+.3} ms from {} ({}, +/- {:.3} ms, {} shared transactions)",
            name(&o.capture, folder),
            o.offset_ms,
            name(corr.reference.as_deref().unwrap_or("?"), folder),
            o.method,
            o.error_ms,
            o.transactions
        );
        wrap_into(out, "clock: ", "       ", &line, width);
    }
}

/// Indent of a finding's text under its severity.
const FINDING_INDENT: &str = "         ";

fn findings_block(out: &mut String, r: &Report, style: TermStyle, width: usize, folder: &str) {
    out.push('\n');
    if r.findings.is_empty() {
        wrap_into(out, "", "", &present::Verdict::nothing_found(r), width);
        return;
    }
    out.push_str(&format!(
        "findings ({}):\n",
        present::Verdict::of(r).counts()
    ));
    for f in &r.findings {
        out.push('\n');
        let head = format!(
            "{}{}",
            severity_label(f.severity, style, FINDING_INDENT.len()),
            f.id
        );
        out.push_str(&head);
        out.push('\n');
        wrap_into(
            out,
            FINDING_INDENT,
            FINDING_INDENT,
            &text(&f.summary, folder),
            width,
        );
        let groups = present::evidence_groups(f);
        let label = format!("{FINDING_INDENT}evidence: ");
        let rest = " ".repeat(label.len());
        for (i, g) in groups.iter().enumerate() {
            let line = format!(
                "{} frame{} {}",
                name(g.capture, folder),
                if g.frames.len() == 1 { "" } else { "s" },
                present::frame_ranges(&g.frames)
            );
            wrap_into(
                out,
                if i == 0 { &label } else { &rest },
                &rest,
                &line,
                width,
            );
        }
        // Places in documents (a dump's error, state change, pair) after the frames.
        let places = present::document_places(f, folder);
        let lines = places
            .shown
            .iter()
            .map(|p| p.line(escape::terminal, ("", "")));
        for (i, line) in lines.chain(places.not_shown_note()).enumerate() {
            let first = if i == 0 && groups.is_empty() {
                &label
            } else {
                &rest
            };
            wrap_into(out, first, &rest, &line, width);
        }
        let label = format!("{FINDING_INDENT}remedy: ");
        wrap_into(
            out,
            &label,
            &" ".repeat(label.len()),
            &text(&f.remedy, folder),
            width,
        );
    }
}

fn allocations_block(out: &mut String, r: &Report, width: usize, folder: &str) {
    if r.allocations.is_empty() {
        return;
    }
    out.push_str("\nallocations:\n");
    for x in &r.allocations {
        let d = &x.relayed_data;
        let out_p = d.send_indications.packets + d.channeldata_out.packets;
        let in_p = d.data_indications.packets + d.channeldata_in.packets;
        let line = format!(
            "{}: {} -> {}/{}, user {}, {}{}, relayed packets out/in {out_p}/{in_p}",
            name(&x.capture, folder),
            x.client,
            x.server,
            x.transport,
            escape::terminal(x.username.as_deref().unwrap_or("(none)")),
            escape::terminal(&x.outcome),
            x.relayed
                .map(|a| format!(", relay {a}"))
                .unwrap_or_default(),
        );
        wrap_into(out, "  ", "      ", &line, width);
    }
}

/// Markdown for pasting into case notes.
pub fn markdown(r: &Report) -> String {
    use escape::markdown as md;
    let mut out = String::new();
    out.push_str("## turnscope analysis\n\n");
    match present::Verdict::of(r).lead {
        Some(lead) => {
            let _ = writeln!(
                out,
                "**Verdict ({} `{}`):** {}\n\n**Remedy:** {}\n",
                lead.severity.as_str(),
                lead.id,
                md(&lead.summary),
                md(&lead.remedy)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "**Verdict:** {}.\n",
                present::Verdict::nothing_found(r)
            );
        }
    }
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
        let _ = writeln!(out, "{}.", present::Verdict::nothing_found(r));
    }
    for f in &r.findings {
        let _ = writeln!(
            out,
            "- **{}** `{}`: {}",
            f.severity.as_str(),
            f.id,
            md(&f.summary)
        );
        let ev = present::evidence_groups(f)
            .iter()
            .map(|g| format!("{}: {}", md(g.capture), present::frame_ranges(&g.frames)))
            .collect::<Vec<_>>()
            .join("; ");
        if !ev.is_empty() {
            let _ = writeln!(out, "  - Evidence (frames): {ev}");
        }
        let places = present::document_places(f, "");
        for place in &places.shown {
            let _ = writeln!(
                out,
                "  - Evidence: {}",
                place.line(escape::markdown, ("", ""))
            );
        }
        if let Some(note) = places.not_shown_note() {
            let _ = writeln!(out, "  - Evidence: {note}");
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
            let unused = if p.used {
                ""
            } else {
                " (not used: given before)"
            };
            let _ = writeln!(
                out,
                "- {} {}: {}{unused}",
                p.item,
                esc(&p.value),
                esc(&p.source)
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
