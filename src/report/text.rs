//! Terminal table and Markdown renderings of a report.

use std::fmt::Write;

use prettytable::format::consts::FORMAT_BOX_CHARS;
use prettytable::{Cell, Row, Table};

use super::Report;

fn evidence_text(f: &crate::diagnose::Finding, max: usize) -> String {
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
    by_cap
        .into_iter()
        .map(|(c, v)| {
            let shown: Vec<String> = v.iter().take(max).map(u32::to_string).collect();
            let more = if v.len() > max { ", ..." } else { "" };
            format!("{c}: {}{more}", shown.join(", "))
        })
        .collect::<Vec<_>>()
        .join("\n")
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
            Cell::new(&c.path),
            Cell::new(c.role.as_str()),
            Cell::new(&c.frames.to_string()).style_spec("r"),
            Cell::new(&c.stun_messages.to_string()).style_spec("r"),
            Cell::new(&wrap(&c.role_reason, 60)),
        ]));
    }
    out.push_str(&t.to_string());
    for e in &r.errors {
        let _ = writeln!(out, "unusable input: {}: {}", e.path, e.reason);
    }
    let corr = &r.correlation;
    if !corr.nat.is_empty() || !corr.clock_offsets.is_empty() {
        out.push('\n');
        for n in &corr.nat {
            let _ = writeln!(
                out,
                "NAT: client {} -> {} is seen by the server as {} -> {} ({} transactions, {} frame {} / {} frame {})",
                n.client_src, n.client_dst, n.server_src, n.server_dst, n.transactions,
                n.client_capture, n.client_frame, n.server_capture, n.server_frame
            );
        }
        for o in &corr.clock_offsets {
            let _ = writeln!(
                out,
                "clock: {} is {:+.3} ms from {} ({}, +/- {:.3} ms, {} shared transactions)",
                o.capture,
                o.offset_ms,
                corr.reference.as_deref().unwrap_or("?"),
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
            Cell::new(x.severity.as_str()).style_spec(style),
            Cell::new(x.id),
            Cell::new(&wrap(&x.summary, 48)),
            Cell::new(&evidence_text(x, 6)),
            Cell::new(&wrap(&x.remedy, 48)),
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
                Cell::new(&x.capture),
                Cell::new(&format!("{} -> {}/{}", x.client, x.server, x.transport)),
                Cell::new(x.username.as_deref().unwrap_or("")),
                Cell::new(&x.outcome),
                Cell::new(&x.relayed.map(|r| r.to_string()).unwrap_or_default()),
                Cell::new(&format!("{out_p} / {in_p}")),
            ]));
        }
        out.push_str(&a.to_string());
    }
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

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown for pasting into case notes.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("## turnscope analysis\n\n");
    out.push_str("| capture | role | frames | STUN messages |\n|---|---|---:|---:|\n");
    for c in &r.captures {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            md_escape(&c.path),
            c.role.as_str(),
            c.frames,
            c.stun_messages
        );
    }
    for e in &r.errors {
        let _ = writeln!(
            out,
            "\n**Unusable input** `{}`: {}",
            md_escape(&e.path),
            md_escape(&e.reason)
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
            md_escape(&f.summary)
        );
        let ev = evidence_text(f, 12).replace('\n', "; ");
        if !ev.is_empty() {
            let _ = writeln!(out, "  - Evidence (frames): {}", md_escape(&ev));
        }
        let _ = writeln!(out, "  - Remedy: {}", md_escape(&f.remedy));
    }
    if !r.allocations.is_empty() {
        out.push_str("\n### Allocations\n\n| capture | client -> server | user | outcome | relayed |\n|---|---|---|---|---|\n");
        for a in &r.allocations {
            let _ = writeln!(
                out,
                "| `{}` | {} -> {}/{} | {} | {} | {} |",
                md_escape(&a.capture),
                a.client,
                a.server,
                a.transport,
                md_escape(a.username.as_deref().unwrap_or("")),
                a.outcome,
                a.relayed.map(|r| r.to_string()).unwrap_or_default()
            );
        }
    }
    out
}
