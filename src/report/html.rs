//! Self-contained HTML, the page pasted into a support ticket: the verdict box, the findings
//! with their evidence grouped by capture, the ladder (lanes guest | NAT / firewall | TURN
//! server | relay | peer, then a lane per kind of document: browser | CMS log | Expressway log,
//! time running down, packets and events interleaved, alike exchanges aggregated, the hop where
//! a message was lost marked), the allocations, the captures, and a footer naming the inputs, the
//! tool's version and the time of analysis. Inline CSS, no script, printable. Every string of
//! the report goes through [`crate::escape::html`] (text, attribute values and SVG text alike).

use std::fmt::Write;

use super::ladder::{self, Arrow, Ladder, Row, Step};
use super::{present, Report};
use crate::diagnose::{plural, Finding};
use crate::escape::html as esc;

const CSS: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1320px;padding:0 16px;color:#1b1f24;line-height:1.4}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.sub{color:#57606a;font-size:13px;overflow-wrap:anywhere}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;overflow-wrap:break-word}
.verdict{border:2px solid #999;border-left-width:10px;border-radius:6px;padding:12px 16px;margin:16px 0;background:#f6f8fa}
.verdict.error{border-color:#cf222e;background:#ffebe9}.verdict.warning{border-color:#bf8700;background:#fff8c5}.verdict.info,.verdict.none{border-color:#1a7f37;background:#dafbe1}
.verdict .answer{font-size:17px;font-weight:600;overflow-wrap:anywhere}.verdict .remedy{margin-top:6px}.verdict .counts{margin-top:6px;color:#57606a;font-size:13px}
.sev{display:inline-block;font-size:12px;font-weight:700;text-transform:uppercase;padding:1px 6px;border-radius:4px;color:#fff;margin-right:6px}
.sev.error{background:#cf222e}.sev.warning{background:#9a6700}.sev.info{background:#1a7f37}
.finding{border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:10px 0;break-inside:avoid}
.finding .id{font-family:ui-monospace,Menlo,Consolas,monospace;font-weight:600}
.finding .summary{margin:6px 0;overflow-wrap:anywhere}.finding .remedy{margin-top:6px}
.evidence{margin:4px 0 0 0;padding-left:18px;font-size:13px}.evidence li{overflow-wrap:anywhere}
table{border-collapse:collapse;margin:8px 0;max-width:100%}
td,th{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left;font-size:13px;overflow-wrap:break-word}
th{background:#f6f8fa}
table.ladder{border:none;width:100%}table.ladder td{border:none;padding:0 6px;vertical-align:middle}
table.ladder td.t{width:64px;text-align:right;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#57606a;white-space:nowrap}
table.ladder td.d{width:1px;padding:0;line-height:0}table.ladder td.l{font-size:12.5px;overflow-wrap:anywhere}
table.ladder tr.head td{position:sticky;top:0;background:#fff}
table.ladder tr.event td.l{color:#6e40c9}table.ladder tr.lost td.l{color:#a40e26}
.legend{font-size:12.5px;color:#57606a;margin:6px 0 10px}.legend span{margin-right:18px;white-space:nowrap}
.more{font-style:italic;color:#57606a;font-size:13px}
.chips{display:flex;flex-wrap:wrap;gap:4px}.chip{border:1px solid #d0d7de;border-radius:10px;padding:0 8px;font-size:12px;background:#f6f8fa;white-space:nowrap}
.chip.bad{border-color:#cf222e;color:#a40e26;background:#ffebe9}.chip.good{border-color:#1a7f37;color:#116329;background:#dafbe1}
footer{margin-top:32px;border-top:1px solid #d0d7de;padding-top:8px;font-size:12px;color:#57606a;overflow-wrap:anywhere}
@media print{body{margin:0;max-width:none;font-size:11pt}h2{break-after:avoid}.finding,tr{break-inside:avoid}table.ladder tr.head td{position:static}a{color:inherit}}
"#;

/// The self-contained HTML page, analysed now.
pub fn html(r: &Report) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    html_at(r, now)
}

/// The page, with `analysed_at` (nanoseconds since the epoch, UTC) as the time of analysis.
pub fn html_at(r: &Report, analysed_at: i64) -> String {
    let folder = present::common_folder(r);
    let mut out = String::with_capacity(64 * 1024);
    let _ = writeln!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>turnscope: {}</title><style>{CSS}</style></head><body>",
        esc(&title(r))
    );
    let _ = writeln!(
        out,
        "<h1>turnscope analysis</h1><div class=\"sub\">{}</div>",
        esc(&title(r))
    );
    verdict_box(&mut out, r, &folder);
    findings_section(&mut out, r, &folder);
    ladder_section(&mut out, r, &folder);
    allocations_section(&mut out, r, &folder);
    captures_section(&mut out, r, &folder);
    footer(&mut out, r, analysed_at);
    out.push_str("</body></html>\n");
    out
}

/// What the page is about: the captures, by the folder they share.
fn title(r: &Report) -> String {
    let folder = present::common_folder(r);
    let n = plural(r.captures.len(), "capture", "captures");
    if folder.is_empty() {
        n
    } else {
        format!("{n} in {folder}")
    }
}

fn severity_badge(s: crate::diagnose::Severity) -> String {
    format!("<span class=\"sev {0}\">{0}</span>", s.as_str())
}

fn verdict_box(out: &mut String, r: &Report, folder: &str) {
    let v = present::Verdict::of(r);
    let Some(lead) = v.lead else {
        let _ = writeln!(
            out,
            "<div class=\"verdict none\"><div class=\"answer\">{}</div></div>",
            esc(&present::Verdict::nothing_found(r))
        );
        return;
    };
    let _ = writeln!(
        out,
        "<div class=\"verdict {sev}\" id=\"verdict\"><div class=\"answer\">{badge}{summary}</div><div class=\"remedy\"><strong>Remedy:</strong> {remedy}</div><div class=\"counts\"><code>{id}</code> · {counts} · details below</div></div>",
        sev = lead.severity.as_str(),
        badge = severity_badge(lead.severity),
        summary = esc(&shorten(&lead.summary, folder)),
        remedy = esc(&lead.remedy),
        id = esc(&lead.id),
        counts = esc(&v.counts()),
    );
}

/// Report text with the folder every capture shares left out.
fn shorten(s: &str, folder: &str) -> String {
    if folder.is_empty() {
        s.to_string()
    } else {
        s.replace(folder, "")
    }
}

fn findings_section(out: &mut String, r: &Report, folder: &str) {
    let _ = writeln!(
        out,
        "<h2>Findings ({})</h2>",
        esc(&present::Verdict::of(r).counts())
    );
    if r.findings.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", esc(&present::Verdict::nothing_found(r)));
    }
    for f in &r.findings {
        finding_card(out, f, folder);
    }
}

fn finding_card(out: &mut String, f: &Finding, folder: &str) {
    let _ = write!(
        out,
        "<div class=\"finding\">{}<span class=\"id\">{}</span><div class=\"summary\">{}</div>",
        severity_badge(f.severity),
        esc(&f.id),
        esc(&shorten(&f.summary, folder))
    );
    let groups = present::evidence_groups(f);
    if !groups.is_empty() {
        out.push_str(
            "<div>Evidence (frame numbers as Wireshark shows them):</div><ul class=\"evidence\">",
        );
        for g in groups {
            let _ = write!(
                out,
                "<li><code>{}</code>: frame{} {}</li>",
                esc(present::short(g.capture, folder)),
                if g.frames.len() == 1 { "" } else { "s" },
                present::frame_ranges(&g.frames)
            );
        }
        out.push_str("</ul>");
    }
    let places = present::document_places(f, folder);
    if !places.shown.is_empty() {
        out.push_str("<div>Evidence in documents:</div><ul class=\"evidence\">");
        for place in &places.shown {
            let _ = write!(out, "<li>{}</li>", place.line(esc, ("<code>", "</code>")));
        }
        if let Some(note) = places.not_shown_note() {
            let _ = write!(out, "<li>{}</li>", esc(&note));
        }
        out.push_str("</ul>");
    }
    let _ = writeln!(
        out,
        "<div class=\"remedy\"><strong>Remedy:</strong> {}</div></div>",
        esc(&f.remedy)
    );
}

/// Height of a ladder row, and where the lanes are: the first one far enough in for half the
/// widest title, then one every `LANE_STEP`.
const ROW_H: f32 = 30.0;
const FIRST_LANE: f32 = 56.0;
const LANE_STEP: f32 = 101.6;

/// The drawing of one ladder: its lanes and width.
struct Geometry<'a> {
    ladder: &'a Ladder,
    lanes: Vec<String>,
    width: f32,
}

impl<'a> Geometry<'a> {
    fn of(ladder: &'a Ladder) -> Self {
        let lanes = ladder.lanes();
        let width = 2.0 * FIRST_LANE + LANE_STEP * lanes.len().saturating_sub(1) as f32;
        Geometry {
            ladder,
            lanes,
            width,
        }
    }

    /// The x of a route's position for a step on server lane `lane`.
    fn x(&self, pos: f32, lane: usize) -> f32 {
        FIRST_LANE + self.ladder.drawn(pos, lane) * LANE_STEP
    }

    fn svg(&self, height: f32) -> String {
        format!(
            "<svg width=\"{}\" height=\"{height}\" role=\"img\">",
            self.width
        )
    }

    /// The lifelines of a row (so that consecutive rows draw them unbroken).
    fn lifelines(&self, s: &mut String) {
        for (i, title) in self.lanes.iter().enumerate() {
            let x = FIRST_LANE + i as f32 * LANE_STEP;
            let dash = if title == ladder::LANES[1] {
                " stroke-dasharray=\"3 3\""
            } else {
                ""
            };
            let _ = write!(
                s,
                "<line x1=\"{x}\" y1=\"0\" x2=\"{x}\" y2=\"{ROW_H}\" stroke=\"#bbb\"{dash}/>"
            );
        }
    }

    fn arrow(&self, s: &mut String, a: Arrow, y: f32, lane: usize) {
        let (x1, x2) = (self.x(a.from, lane), self.x(a.to, lane));
        let color = if a.lost { "#cf222e" } else { "#333" };
        let dir = if x2 >= x1 { 1.0 } else { -1.0 };
        let _ = write!(
            s,
            "<line x1=\"{x1}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{color}\" stroke-width=\"1.6\"/>",
            x2 - dir * 6.0
        );
        if a.lost {
            let _ = write!(
                s,
                "<path d=\"M{} {} l8 8 M{} {} l-8 8\" stroke=\"#cf222e\" stroke-width=\"2.2\"/>",
                x2 - 4.0,
                y - 4.0,
                x2 + 4.0,
                y - 4.0
            );
        } else {
            let _ = write!(
                s,
                "<path d=\"M{x2} {y} l{} -4 l0 8 z\" fill=\"{color}\"/>",
                -dir * 7.0
            );
        }
    }

    fn step(&self, step: &Step) -> String {
        let mut s = self.svg(ROW_H);
        self.lifelines(&mut s);
        self.arrow(&mut s, step.request, 10.0, step.server);
        if let Some(a) = step.answer {
            self.arrow(&mut s, a, 21.0, step.server);
        } else {
            // No answer anywhere: a ring below where the request stopped.
            let x = self.x(step.request.to, step.server);
            let _ = write!(
                s,
                "<circle cx=\"{x}\" cy=\"21\" r=\"3.5\" fill=\"none\" stroke=\"#bf8700\" stroke-width=\"1.6\"/>"
            );
        }
        s.push_str("</svg>");
        s
    }

    /// A diamond on the lane of the event's source.
    fn event(&self, lane: ladder::EventLane) -> String {
        let mut s = self.svg(ROW_H);
        self.lifelines(&mut s);
        let x = self.x(self.ladder.event_position(lane), 0);
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"9\" width=\"12\" height=\"12\" transform=\"rotate(45 {x} 15)\" fill=\"#8250df\"/>",
            x - 6.0
        );
        s.push_str("</svg>");
        s
    }

    /// Lane titles; a server lane's interface on a second line.
    fn head(&self) -> String {
        let mut s = self.svg(40.0);
        for (i, title) in self.lanes.iter().enumerate() {
            let x = FIRST_LANE + i as f32 * LANE_STEP;
            let (first, second) = match title.strip_prefix("TURN server ") {
                Some(rest) => ("TURN server", rest),
                None => (title.as_str(), ""),
            };
            for (y, line) in [(16, first), (32, second)] {
                let _ = write!(
                    s,
                    "<text x=\"{x}\" y=\"{y}\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"bold\" font-family=\"sans-serif\">{}</text>",
                    esc(line)
                );
            }
        }
        s.push_str("</svg>");
        s
    }
}

const LEGEND: &str = "<div class=\"legend\"><span>&#8594; delivered (upper arrow: request, lower: answer)</span> <span style=\"color:#cf222e\">&#10005; lost at that hop</span> <span style=\"color:#9a6700\">&#9675; never answered</span> <span>×N alike exchanges drawn once, with their time span</span> <span style=\"color:#6e40c9\">&#9670; a document's event on its source's lane (~ time estimated from its local clock)</span> <span>times in seconds from the first row</span></div>";

fn ladder_section(out: &mut String, r: &Report, folder: &str) {
    let l = ladder::ladder(r);
    let g = Geometry::of(&l);
    out.push_str("<h2>What happened, in time order</h2>\n");
    let interfaces: Vec<String> = r
        .captures
        .iter()
        .filter_map(|c| {
            Some(format!(
                "{}: {}",
                present::short(&c.path, folder),
                c.interface.as_ref()?
            ))
        })
        .collect();
    if !interfaces.is_empty() {
        let _ = writeln!(
            out,
            "<div class=\"sub\">TURN server interfaces: {}</div>",
            esc(&interfaces.join("; "))
        );
    }
    if l.rows.is_empty() {
        out.push_str("<p>No STUN/TURN transaction and no log event to draw.</p>\n");
        return;
    }
    out.push_str(LEGEND);
    let _ = writeln!(
        out,
        "<table class=\"ladder\"><tr class=\"head\"><td class=\"t\">s</td><td class=\"d\">{}</td><td class=\"l\"><strong>{} in {}</strong></td></tr>",
        g.head(),
        plural(l.transactions as usize, "transaction", "transactions"),
        plural(
            l.rows.iter().filter(|r| matches!(r, Row::Step(_))).count() + l.steps_not_drawn,
            "row",
            "rows"
        )
    );
    for row in &l.rows {
        ladder_row(out, row, &g, folder);
    }
    out.push_str("</table>\n");
    not_drawn(out, &l);
}

fn ladder_row(out: &mut String, row: &Row, g: &Geometry<'_>, folder: &str) {
    let l = g.ladder;
    let t = ladder::secs(row.ts() - l.t0);
    match row {
        Row::Step(s) => {
            let lost = s.request.lost || s.answer.is_some_and(|a| a.lost) || s.answer.is_none();
            let _ = writeln!(
                out,
                "<tr{}><td class=\"t\">{t}</td><td class=\"d\">{}</td><td class=\"l\">{}</td></tr>",
                if lost { " class=\"lost\"" } else { "" },
                g.step(s),
                esc(&ladder::step_label(s, l.t0))
            );
        }
        Row::Event(e) => {
            // `~`: the time is the document's own local time moved by an estimated offset.
            let _ = writeln!(
                out,
                "<tr class=\"event\"><td class=\"t\">{}{t}</td><td class=\"d\">{}</td><td class=\"l\"><code>{}</code>: {}</td></tr>",
                if e.estimated { "~" } else { "" },
                g.event(e.lane),
                esc(present::short(&e.source, folder)),
                esc(&e.text)
            );
        }
    }
}

fn not_drawn(out: &mut String, l: &Ladder) {
    if l.steps_not_drawn > 0 {
        let _ = writeln!(
            out,
            "<p class=\"more\">{} more rows ({} transactions) not drawn; the JSON report (<code>--format json</code>) lists every transaction.</p>",
            l.steps_not_drawn, l.transactions_not_drawn
        );
    }
    if l.events_not_drawn > 0 {
        let _ = writeln!(
            out,
            "<p class=\"more\">{} more log events not drawn; the JSON report lists them under <code>logs.events</code>.</p>",
            l.events_not_drawn
        );
    }
}

fn chip(out: &mut String, class: &str, text: &str) {
    let _ = write!(out, "<span class=\"chip {class}\">{}</span>", esc(text));
}

fn allocations_section(out: &mut String, r: &Report, folder: &str) {
    if r.allocations.is_empty() {
        return;
    }
    out.push_str("<h2>Allocations, each from challenge to end</h2><table><tr><th>capture</th><th>client &rarr; TURN server</th><th>user</th><th>life of the allocation</th></tr>\n");
    for a in &r.allocations {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"mono\">{} &rarr; {}/{}</td><td>{}</td><td><div class=\"chips\">",
            esc(present::short(&a.capture, folder)),
            a.client,
            a.server,
            a.transport,
            esc(a.username.as_deref().unwrap_or("(none)"))
        );
        if let Some(f) = a.challenge_frame {
            chip(out, "", &format!("401 challenge, frame {f}"));
        }
        let ok = a.outcome == "success";
        let at = a
            .outcome_frame
            .map(|f| format!(", frame {f}"))
            .unwrap_or_default();
        chip(
            out,
            if ok { "good" } else { "bad" },
            &format!("Allocate {}{at}", a.outcome),
        );
        if let Some(relay) = a.relayed {
            chip(out, "", &format!("relay {relay}"));
        }
        if let Some(l) = a.lifetime {
            chip(out, "", &format!("lifetime {l} s"));
        }
        allocation_life(out, a);
        out.push_str("</div></td></tr>\n");
    }
    out.push_str("</table>\n");
}

fn allocation_life(out: &mut String, a: &super::AllocInfo) {
    if a.refreshes > 0 {
        chip(out, "", &plural(a.refreshes, "refresh", "refreshes"));
    }
    if !a.permissions.is_empty() {
        chip(
            out,
            "",
            &format!(
                "permissions for {}",
                plural(a.permissions.len(), "peer", "peers")
            ),
        );
    }
    if !a.channels.is_empty() {
        chip(out, "", &plural(a.channels.len(), "channel", "channels"));
    }
    let d = &a.relayed_data;
    let sent = d.send_indications.packets + d.channeldata_out.packets;
    let got = d.data_indications.packets + d.channeldata_in.packets;
    if a.outcome == "success" {
        let class = if sent > 0 && got > 0 { "good" } else { "bad" };
        chip(
            out,
            class,
            &format!("relayed packets out {sent} / in {got}"),
        );
    }
    if a.released {
        chip(out, "", "released");
    } else if a.expired {
        chip(out, "bad", "expired");
    } else if a.outcome == "success" {
        chip(out, "", "still open at the end of the capture");
    }
}

fn captures_section(out: &mut String, r: &Report, folder: &str) {
    out.push_str("<h2>Captures</h2><table><tr><th>capture</th><th>side</th><th>frames</th><th>STUN</th><th>why this side</th></tr>\n");
    for c in &r.captures {
        let interface = c
            .interface
            .as_ref()
            .map(|i| format!("<br><span class=\"sub\">{}</span>", esc(i)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code>{interface}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(present::short(&c.path, folder)),
            esc(c.role.as_str()),
            c.frames,
            c.stun_messages,
            esc(&shorten(&c.role_reason, folder))
        );
    }
    out.push_str("</table>\n");
    for c in &r.captures {
        if let Some(note) = c.summarised_note() {
            let _ = writeln!(
                out,
                "<p class=\"more\">Note <code>{}</code>: {}</p>",
                esc(present::short(&c.path, folder)),
                esc(&note)
            );
        }
    }
    for e in &r.errors {
        let _ = writeln!(
            out,
            "<p><strong>Input not used</strong> <code>{}</code>: {}</p>",
            esc(&e.path),
            esc(&e.reason)
        );
    }
    for n in &r.correlation.nat {
        let _ = writeln!(
            out,
            "<p>NAT: the guest's <code>{} &rarr; {}</code> is seen by the server as <code>{} &rarr; {}</code> ({} transactions)</p>",
            n.client_src, n.client_dst, n.server_src, n.server_dst, n.transactions
        );
    }
    for o in &r.correlation.clock_offsets {
        let _ = writeln!(
            out,
            "<p class=\"sub\">Clock: <code>{}</code> is {:+.3} ms from the reference ({}, &plusmn;{:.3} ms, {} shared transactions)</p>",
            esc(present::short(&o.capture, folder)),
            o.offset_ms,
            esc(&o.method),
            o.error_ms,
            o.transactions
        );
    }
}

fn footer(out: &mut String, r: &Report, analysed_at: i64) {
    out.push_str("<footer><div><strong>Inputs:</strong> ");
    let mut inputs: Vec<String> = r.captures.iter().map(|c| c.path.clone()).collect();
    inputs.extend(r.bundles.iter().map(|b| b.path.clone()));
    inputs.extend(r.logs.documents.iter().map(|d| d.path.clone()));
    inputs.extend(r.errors.iter().map(|e| format!("{} (not used)", e.path)));
    let listed: Vec<String> = inputs
        .iter()
        .map(|i| format!("<code>{}</code>", esc(i)))
        .collect();
    out.push_str(&listed.join(", "));
    let _ = writeln!(
        out,
        "</div><div>turnscope {} ({}), analysed {} UTC</div></footer>",
        env!("CARGO_PKG_VERSION"),
        esc(env!("TURNSCOPE_BUILD")),
        crate::sources::clock::format_ns(analysed_at)
    );
}
