//! Self-contained HTML: findings, captures, allocations and an SVG ladder diagram of the
//! transactions across client, NAT and server. Every string of the report goes through
//! [`crate::escape::html`] (text, attribute values and SVG text alike).

use std::fmt::Write;

use super::Report;
use crate::escape::html as esc;

/// Most transactions drawn in the ladder (the JSON has all of them).
const LADDER_MAX: usize = 80;

fn ladder(r: &Report) -> String {
    let txs: Vec<_> = r
        .transactions
        .iter()
        .filter(|t| t.carried_in.is_none())
        .take(LADDER_MAX)
        .collect();
    if txs.is_empty() {
        return String::new();
    }
    let (xc, xn, xs) = (120.0, 400.0, 680.0);
    let row = 34.0;
    let h = 70.0 + row * txs.len() as f64;
    let t0 = txs.first().map_or(0.0, |t| t.ts);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{h}" font-family="monospace" font-size="11">
<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker>
<marker id="e" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#c00"/></marker></defs>
<text x="{xc}" y="20" text-anchor="middle" font-weight="bold">client</text>
<text x="{xn}" y="20" text-anchor="middle" font-weight="bold">NAT / firewall</text>
<text x="{xs}" y="20" text-anchor="middle" font-weight="bold">TURN server</text>
<line x1="{xc}" y1="30" x2="{xc}" y2="{h}" stroke="#999"/>
<line x1="{xn}" y1="30" x2="{xn}" y2="{h}" stroke="#ccc" stroke-dasharray="4 4"/>
<line x1="{xs}" y1="30" x2="{xs}" y2="{h}" stroke="#999"/>
"##
    );
    for (i, t) in txs.iter().enumerate() {
        let y = 50.0 + row * i as f64;
        let label = format!(
            "{} {} +{:.3}s{}",
            t.method,
            t.outcome,
            t.ts - t0,
            if t.retransmissions > 0 {
                format!(" x{}", t.retransmissions + 1)
            } else {
                String::new()
            }
        );
        // How far the request and the answer got.
        let (req_end, ans) = match &t.path {
            Some(p) => {
                let req_end = if p.reached_server.is_some() { xs } else { xn };
                let ans = if p.answered.is_some() {
                    Some(if p.answer_reached_client.is_some() {
                        xc
                    } else {
                        xn
                    })
                } else {
                    None
                };
                (req_end, ans)
            }
            None => (xs, (t.outcome != "none").then_some(xc)),
        };
        let lost = req_end < xs;
        let (color, marker) = if lost { ("#c00", "e") } else { ("#333", "a") };
        let _ = writeln!(
            s,
            r#"<line x1="{xc}" y1="{y}" x2="{req_end}" y2="{}" stroke="{color}" marker-end="url(#{marker})"><title>{}</title></line>"#,
            y + 6.0,
            esc(&t.txid)
        );
        if lost {
            let _ = writeln!(
                s,
                r##"<text x="{}" y="{}" fill="#c00">&#x2715;</text>"##,
                xn + 4.0,
                y + 10.0
            );
        }
        match ans {
            Some(end) => {
                let (c2, m2) = if end > xc {
                    ("#c00", "e")
                } else {
                    ("#333", "a")
                };
                let _ = writeln!(
                    s,
                    r#"<line x1="{xs}" y1="{}" x2="{end}" y2="{}" stroke="{c2}" marker-end="url(#{m2})"/>"#,
                    y + 10.0,
                    y + 16.0
                );
                if end > xc {
                    let _ = writeln!(
                        s,
                        r##"<text x="{}" y="{}" fill="#c00">&#x2715;</text>"##,
                        xn - 14.0,
                        y + 20.0
                    );
                }
            }
            None if !lost => {
                let _ = writeln!(
                    s,
                    r##"<text x="{}" y="{}" fill="#c00">no answer</text>"##,
                    xs + 6.0,
                    y + 10.0
                );
            }
            None => {}
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}">{}</text>"#,
            xs + 70.0,
            y + 8.0,
            esc(&label)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The self-contained HTML page.
pub fn html(r: &Report) -> String {
    let mut out = String::new();
    out.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>turnscope analysis</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}.error{color:#b00;font-weight:bold}.warning{color:#a60;font-weight:bold}.info{color:#070}code{font-size:90%}</style></head><body>\n<h1>turnscope analysis</h1>\n<h2>Captures</h2><table><tr><th>capture</th><th>role</th><th>frames</th><th>STUN</th><th>why</th></tr>\n");
    for c in &r.captures {
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.path),
            esc(c.role.as_str()),
            c.frames,
            c.stun_messages,
            esc(&c.role_reason)
        );
    }
    out.push_str("</table>\n");
    for c in &r.captures {
        if let Some(note) = c.summarised_note() {
            let _ = writeln!(
                out,
                "<p class=\"warning\">Note <code>{}</code>: {}</p>",
                esc(&c.path),
                esc(&note)
            );
        }
    }
    for e in &r.errors {
        let _ = writeln!(
            out,
            "<p class=\"error\">Unusable input <code>{}</code>: {}</p>",
            esc(&e.path),
            esc(&e.reason)
        );
    }
    for n in &r.correlation.nat {
        let _ = writeln!(
            out,
            "<p>NAT: client <code>{} &rarr; {}</code> is seen by the server as <code>{} &rarr; {}</code> ({} transactions)</p>",
            n.client_src, n.client_dst, n.server_src, n.server_dst, n.transactions
        );
    }
    out.push_str("<h2>Findings</h2><table><tr><th>severity</th><th>id</th><th>what</th><th>evidence</th><th>remedy</th></tr>\n");
    for f in &r.findings {
        let ev: Vec<String> = f
            .evidence
            .iter()
            .map(|e| format!("{}#{}", esc(&e.capture), e.frame))
            .chain(f.documents.iter().map(|d| {
                format!(
                    "{} {} {}: {}",
                    esc(&d.document),
                    esc(d.peer_connection.as_deref().unwrap_or("")),
                    esc(d.at.as_deref().unwrap_or("")),
                    esc(&d.what)
                )
            }))
            .collect();
        let _ = writeln!(
            out,
            "<tr><td class=\"{0}\">{0}</td><td><code>{1}</code></td><td>{2}</td><td>{3}</td><td>{4}</td></tr>",
            esc(f.severity.as_str()),
            esc(f.id),
            esc(&f.summary),
            ev.join("<br>"),
            esc(&f.remedy)
        );
    }
    out.push_str("</table>\n<h2>Transactions</h2>\n");
    out.push_str(&ladder(r));
    if !r.allocations.is_empty() {
        out.push_str("<h2>Allocations</h2><table><tr><th>capture</th><th>client &rarr; server</th><th>user</th><th>outcome</th><th>relayed</th></tr>\n");
        for a in &r.allocations {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td>{} &rarr; {}/{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.capture),
                a.client,
                a.server,
                a.transport,
                esc(a.username.as_deref().unwrap_or("")),
                esc(&a.outcome),
                a.relayed.map(|r| r.to_string()).unwrap_or_default()
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}
