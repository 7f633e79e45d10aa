//! One case, one time order in every report: a webrtc-internals dump with the Expressway-E's
//! capture of the same run shows the browser's events interleaved with the packets, in time
//! order: in the terminal and Markdown timeline, and in the HTML ladder on a lane of their own.

use std::path::{Path, PathBuf};

use turnscope::report::{html_at, markdown, terminal, TermStyle};
use turnscope::{analyze, AnalyzeOptions, Input, Report};

/// 2026-11-29 12:00:00 UTC.
const ANALYSED_AT: i64 = 1_795_953_600_000_000_000;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/dumps/lab")
        .join(name)
}

/// The guest's dump and the Expressway-E's capture of one lab run.
fn dump_and_capture(name: &str) -> Report {
    let dir = scenario(name);
    let inputs = [
        Input::path(dir.join("webrtc_internals_dump.gz")),
        Input::path(dir.join("expe-any.pcap")),
    ];
    analyze(&inputs, &AnalyzeOptions::default())
}

/// The texts of the browser's events placed on the captures' clock, in time order.
fn browser_events_in_time_order(r: &Report) -> Vec<String> {
    let mut events: Vec<(f64, String)> = r
        .logs
        .events
        .iter()
        .filter(|e| e.document.ends_with("webrtc_internals_dump.gz"))
        .filter_map(|e| Some((e.ts?, e.text.clone())))
        .collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0));
    events.into_iter().map(|(_, text)| text).collect()
}

/// The x of a lane's title in the ladder's head.
fn lane_x(page: &str, title: &str) -> f64 {
    let end = page
        .find(&format!(">{title}</text>"))
        .unwrap_or_else(|| panic!("no lane {title}"));
    let head = &page[..end];
    let at = head.rfind("<text x=\"").expect("a lane title") + "<text x=\"".len();
    head[at..].split('"').next().unwrap().parse().unwrap()
}

/// Each ladder row of the page: its time (s from the first row) and, for an event, the x of
/// its diamond and its label.
struct LadderRow {
    t: f64,
    diamond_x: Option<f64>,
    label: String,
}

fn ladder_rows(page: &str) -> Vec<LadderRow> {
    let table = page
        .split("<table class=\"ladder\">")
        .nth(1)
        .expect("a ladder");
    let table = table.split("</table>").next().unwrap();
    table
        .split("<tr")
        .skip(2) // before the first row, and the head
        .map(|row| {
            let cell = |class: &str| {
                let start = row.find(&format!("<td class=\"{class}\">")).unwrap();
                let rest = &row[start..];
                rest[rest.find('>').unwrap() + 1..rest.find("</td>").unwrap()].to_string()
            };
            let t = cell("t").trim_start_matches('~').parse().unwrap();
            let diamond_x = row.find("rotate(45 ").map(|at| {
                let rest = &row[at + "rotate(45 ".len()..];
                rest.split(' ').next().unwrap().parse().unwrap()
            });
            LadderRow {
                t,
                diamond_x,
                label: cell("l"),
            }
        })
        .collect()
}

#[test]
fn html_draws_the_browser_events_on_their_lane_in_time_order() {
    for name in ["guest-bad-password", "ok-udp", "relay-blocked-in"] {
        let r = dump_and_capture(name);
        let expected = browser_events_in_time_order(&r);
        assert!(expected.len() >= 3, "{name}: browser events {expected:?}");
        let page = html_at(&r, ANALYSED_AT);
        let browser = lane_x(&page, "browser");
        assert!(
            browser > lane_x(&page, "peer"),
            "{name}: the lane after the packets'"
        );
        let rows = ladder_rows(&page);
        assert!(
            rows.windows(2).all(|w| w[0].t <= w[1].t),
            "{name}: time runs down"
        );
        let events: Vec<&LadderRow> = rows.iter().filter(|r| r.diamond_x.is_some()).collect();
        assert!(
            events.iter().all(|e| e.diamond_x == Some(browser)),
            "{name}: every event on the browser lane"
        );
        let drawn: Vec<String> = events
            .iter()
            .map(|e| {
                let text = e.label.split("</code>: ").nth(1).unwrap();
                text.replace("&quot;", "\"")
                    .replace("&gt;", ">")
                    .replace("&lt;", "<")
                    .replace("&amp;", "&")
            })
            .collect();
        assert_eq!(
            drawn, expected,
            "{name}: the browser's events in time order"
        );
        // Interleaved: packets are drawn both before and after some browser event.
        let first_event = rows.iter().position(|r| r.diamond_x.is_some()).unwrap();
        let last_event = rows.iter().rposition(|r| r.diamond_x.is_some()).unwrap();
        assert!(
            rows[first_event..last_event]
                .iter()
                .any(|r| r.diamond_x.is_none()),
            "{name}: packets between the browser's events"
        );
    }
}

#[test]
fn no_document_no_event_lane() {
    let dir = scenario("ok-udp");
    let r = analyze(
        &[Input::path(dir.join("expe-any.pcap"))],
        &AnalyzeOptions::default(),
    );
    let page = html_at(&r, ANALYSED_AT);
    assert!(!page.contains(">browser</text>"));
    assert!(!page.contains("rotate(45 "));
}

/// The timeline lines of a text report (`- 2026-… kind source…: what`), as (time, kind).
fn timeline_lines(text: &str) -> Vec<(String, String)> {
    let start = text.find("timeline (UTC").expect("a timeline section");
    text[start..]
        .lines()
        .skip(1)
        .map(|l| l.trim_start())
        .take_while(|l| l.starts_with("- "))
        .filter(|l| l.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let mut words = l[2..].split_whitespace();
            let time = format!("{} {}", words.next().unwrap(), words.next().unwrap());
            let kind = words.find(|w| !w.contains('~')).unwrap().to_string();
            (time, kind)
        })
        .collect()
}

#[test]
fn terminal_and_markdown_interleave_packets_and_browser_events() {
    let r = dump_and_capture("guest-bad-password");
    let wide = TermStyle {
        width: 400,
        ..TermStyle::default()
    };
    for (format, text) in [("terminal", terminal(&r, wide)), ("markdown", markdown(&r))] {
        let lines = timeline_lines(&text);
        assert!(
            lines.windows(2).all(|w| w[0].0 <= w[1].0),
            "{format}: in time order: {lines:?}"
        );
        let kinds: Vec<&str> = lines.iter().map(|(_, k)| k.as_str()).collect();
        let first_browser = kinds.iter().position(|k| *k == "browser");
        let last_browser = kinds.iter().rposition(|k| *k == "browser");
        let (Some(first), Some(last)) = (first_browser, last_browser) else {
            panic!("{format}: no browser event: {kinds:?}");
        };
        assert!(
            kinds[first..last].contains(&"packets"),
            "{format}: packets between browser events: {kinds:?}"
        );
    }
}

/// The lab dump with every event time rewritten as the browser's local wall clock `hours`
/// ahead of UTC, without a zone (`time: "2026-11-29T19:13:41.258"`, no `timestamp`), as some
/// Chrome versions write it; the stats' end times likewise.
fn dump_in_local_time(name: &str, hours: i64) -> Vec<u8> {
    use std::io::Read;
    let gz = std::fs::read(scenario(name).join("webrtc_internals_dump.gz")).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let mut dump: serde_json::Value = serde_json::from_str(&text).unwrap();
    let local = |ms: f64| {
        let shifted = ms as i64 + hours * 3_600_000;
        let utc = turnscope::sources::webrtc::UtcTime::from_millis(shifted as f64).unwrap();
        utc.to_string().trim_end_matches('Z').to_string()
    };
    for pc in dump["PeerConnections"]
        .as_object_mut()
        .unwrap()
        .values_mut()
    {
        for entry in pc["updateLog"].as_array_mut().unwrap() {
            let entry = entry.as_object_mut().unwrap();
            let ms = entry.remove("timestamp").unwrap().as_f64().unwrap();
            entry.insert("time".into(), local(ms).into());
        }
        for series in pc["stats"].as_object_mut().unwrap().values_mut() {
            for key in ["startTime", "endTime"] {
                let Some(iso) = series.get(key).and_then(|v| v.as_str()) else {
                    continue;
                };
                let t = turnscope::sources::webrtc::UtcTime::parse_iso(iso).unwrap();
                series[key] = local(t.millis()).into();
            }
        }
    }
    serde_json::to_vec(&dump).unwrap()
}

#[test]
fn a_dump_in_local_time_without_zone_is_placed_by_the_estimated_offset() {
    let name = "guest-bad-password";
    let utc = dump_and_capture(name);
    let capture = Input::path(scenario(name).join("expe-any.pcap"));
    for hours in [2, -5] {
        let local = analyze(
            &[
                Input::bytes("local_dump.txt", dump_in_local_time(name, hours)),
                capture.clone(),
            ],
            &AnalyzeOptions::default(),
        );
        // The offset is estimated, holds the zone, and is shown.
        let clock = local
            .logs
            .clocks
            .iter()
            .find(|c| c.document == "local_dump.txt")
            .expect("a clock estimated for the dump");
        let utc_clock = utc.logs.clocks.iter().find(|c| c.document.ends_with(".gz"));
        let utc_offset_ms = utc_clock.map_or(0.0, |c| c.offset_ms);
        let expected_ms = hours as f64 * 3_600_000.0 + utc_offset_ms;
        assert!(
            (clock.offset_ms - expected_ms).abs() < 5.0,
            "{hours} h: offset {} ms, expected {expected_ms}",
            clock.offset_ms
        );
        assert_eq!(clock.zone, format!("{:+03}:00", hours), "{hours} h");
        // Every event with a time is placed where the same event of the UTC dump is, marked
        // estimated and written as local time (the selected pair's time is a stats end time,
        // read as UTC only: it stays unplaced).
        let events: Vec<_> = local
            .logs
            .events
            .iter()
            .filter(|e| e.document == "local_dump.txt" && !e.time.is_empty())
            .collect();
        assert!(events.len() >= 3, "{hours} h: {events:?}");
        for e in &events {
            assert!(e.estimated, "{hours} h: {e:?}");
            assert!(e.time.contains("browser local time"), "{}", e.time);
            let ts = e.ts.expect("placed");
            let same = utc
                .logs
                .events
                .iter()
                .filter(|u| u.text == e.text)
                .filter_map(|u| u.ts)
                .any(|u| (u - ts).abs() < 0.005);
            assert!(
                same,
                "{hours} h: {} at {ts} is not where the UTC dump has it",
                e.text
            );
        }
        let page = html_at(&local, ANALYSED_AT);
        assert!(
            page.contains(">browser</text>"),
            "{hours} h: the browser lane"
        );
        assert!(
            page.contains("<td class=\"t\">~"),
            "{hours} h: times marked estimated"
        );
    }
}

#[test]
fn a_dump_in_local_time_alone_is_not_taken_for_utc() {
    let dump = dump_in_local_time("guest-bad-password", 2);
    let r = analyze(
        &[Input::bytes("local_dump.txt", dump)],
        &AnalyzeOptions::default(),
    );
    let events: Vec<_> = r.logs.events.iter().collect();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.ts.is_none()),
        "no capture to estimate the zone against: nothing placed"
    );
    assert!(r.timeline_not_placed > 0);
}
