//! The HTML report: self-contained, verdict first, every transaction on the ladder (aggregated
//! or counted as not drawn), the hop where checks were lost, log events on their own lane, a
//! footer with inputs, version and time; and, in headless Chromium at 1,400 px, nothing wider
//! than the window or its box and no label clipped (skipped, saying so, without Chromium).

use std::path::{Path, PathBuf};
use std::process::Command;

use turnscope::report::html_at;
use turnscope::{analyze, AnalyzeOptions, Input, Report};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn pcaps(dir: &Path) -> Vec<Input> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    files.iter().map(|p| Input::from_arg(p)).collect()
}

fn case(dir: &str, credentials: &[&str]) -> Report {
    let opts = AnalyzeOptions {
        credentials: credentials.iter().map(|c| c.parse().unwrap()).collect(),
        ..AnalyzeOptions::default()
    };
    analyze(&pcaps(&fixtures().join(dir)), &opts)
}

/// 2026-11-29 12:00:00 UTC.
const ANALYSED_AT: i64 = 1_795_953_600_000_000_000;

/// A diagnostic bundle holding the Expressway-E's LAN1 and LAN2 tcpdumps of a deployment
/// scenario (named as the Expressway names them), with the guest's and the CMS's captures.
fn bundle_case() -> Report {
    let dir = fixtures().join("deploy/default/relay-blocked-in");
    let mut b = tar::Builder::new(Vec::new());
    for (n, file) in [(0, "expe-lan1.pcap"), (1, "expe-lan2.pcap")] {
        let data = std::fs::read(dir.join(file)).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        let name = format!("eth{n}_diagnostic_logging_tcpdump00_expe_2026-11-29_16_00_00.pcap");
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &b.into_inner().unwrap()).unwrap();
    let inputs = vec![
        Input::bytes("expe_diag.tar.gz", gz.finish().unwrap()),
        Input::from_arg(&dir.join("guest.pcap")),
        Input::from_arg(&dir.join("cms.pcap")),
    ];
    analyze(&inputs, &AnalyzeOptions::default())
}

fn cases() -> Vec<(&'static str, Report)> {
    vec![
        ("bundle-interfaces", bundle_case()),
        (
            "bad-password",
            case("lab/default/bad-password", &["turnuser:cisco"]),
        ),
        (
            "webrtc-relay-blocked",
            case("lab/default/webrtc-relay-blocked", &[]),
        ),
        ("webrtc-ok", case("lab/alt/webrtc-ok", &[])),
        (
            "relay-blocked-in",
            case("deploy/default/relay-blocked-in", &[]),
        ),
        ("san-missing", case("web/san-missing", &[])),
    ]
}

fn transactions(r: &Report) -> u64 {
    r.transactions.iter().map(|t| 1 + t.alike).sum()
}

#[test]
fn self_contained_with_verdict_and_footer() {
    for (name, r) in cases() {
        let page = html_at(&r, ANALYSED_AT);
        for external in ["<script", " src=", "href=", "url(", "@import"] {
            assert!(!page.contains(external), "{name}: {external:?} in the page");
        }
        let verdict = page.find("class=\"verdict").expect("verdict box");
        let findings = page.find("<h2>Findings").expect("findings");
        assert!(verdict < findings, "{name}: the verdict comes first");
        let boxed = &page[verdict..findings];
        if let Some(lead) = turnscope::report::Verdict::of(&r).lead {
            assert!(boxed.contains("Remedy:"), "{name}");
            assert!(boxed.contains(&*lead.id), "{name}: {boxed}");
            assert!(
                boxed.contains(&format!("verdict {}", lead.severity.as_str())),
                "{name}"
            );
            // The most severe there is.
            assert!(
                r.findings.iter().all(|f| f.severity >= lead.severity),
                "{name}"
            );
        }
        assert!(page.contains("@media print"), "{name}: print CSS");
        let footer = &page[page.find("<footer>").expect("footer")..];
        assert!(footer.contains(env!("CARGO_PKG_VERSION")), "{name}");
        assert!(footer.contains("commit"), "{name}");
        assert!(
            footer.contains("analysed 2026-11-29 12:00:00.000 UTC"),
            "{name}"
        );
        for c in &r.captures {
            assert!(
                footer.contains(&turnscope::escape::html(&c.path).into_owned()),
                "{name}: {} not in the footer",
                c.path
            );
        }
    }
}

#[test]
fn every_transaction_is_on_the_ladder() {
    for (name, r) in cases() {
        let page = html_at(&r, ANALYSED_AT);
        let n = transactions(&r);
        if n == 0 {
            continue;
        }
        let said = if n == 1 {
            "1 transaction in ".to_string()
        } else {
            format!("{n} transactions in ")
        };
        assert!(page.contains(&said), "{name}: {said:?} not on the ladder");
        // Aggregated: fewer rows than transactions, each row saying how many it stands for.
        let rows = page.matches("<td class=\"d\"><svg").count();
        assert!(
            rows > 0 && (rows as u64) < n.max(2),
            "{name}: {rows} rows for {n} transactions"
        );
    }
}

#[test]
fn repeated_checks_are_aggregated_and_the_lost_hop_named() {
    let r = case("lab/default/webrtc-relay-blocked", &[]);
    let page = html_at(&r, ANALYSED_AT);
    let checks = r
        .transactions
        .iter()
        .filter(|t| {
            t.check
                .as_ref()
                .is_some_and(|c| c.verdict == "unanswered" && c.leg == "peer to relay")
        })
        .count();
    assert!(checks > 10, "{checks}");
    assert!(
        page.contains(&format!(
            "×{checks} ICE check from the peer to the relay unanswered: never reached the relay"
        )),
        "{page}"
    );
    // The lost hop is drawn: a red cross on the ladder.
    assert!(page.contains("stroke=\"#cf222e\" stroke-width=\"2.2\""));
    // A healthy call has no lost hop.
    let ok = html_at(&case("lab/alt/webrtc-ok", &[]), ANALYSED_AT);
    assert!(
        !ok.contains("never reached"),
        "healthy case with a lost hop"
    );
}

#[test]
fn a_server_lane_per_interface() {
    let r = bundle_case();
    let interfaces: Vec<&str> = r
        .captures
        .iter()
        .filter_map(|c| c.interface.as_deref())
        .collect();
    assert_eq!(interfaces.len(), 2, "{:?}", r.captures);
    let page = html_at(&r, ANALYSED_AT);
    for lane in ["eth0 = LAN1", "eth1 = LAN2"] {
        assert!(page.contains(&format!(">{lane}</text>")), "no lane {lane}");
    }
    // One lane more than the drawing of the same captures without their interfaces (each lane
    // has two title lines).
    let one_lane = html_at(&case("deploy/default/relay-blocked-in", &[]), ANALYSED_AT);
    assert!(!one_lane.contains("LAN1</text>"));
    let lanes_in_head = |p: &str| p.matches("font-weight=\"bold\"").count();
    assert_eq!(lanes_in_head(&page), lanes_in_head(&one_lane) + 2);
}

#[test]
fn log_events_have_their_own_lane() {
    let dir = fixtures().join("deploy/default/cms-bad-password");
    let mut inputs = pcaps(&dir);
    let log = "2026-11-29\t16:04:19.700\tWarning\tcall 3: ICE failure 4 (unauthorized - check credentials)\n";
    inputs.push(Input::bytes("cms-events.log", log.as_bytes().to_vec()));
    let r = analyze(&inputs, &AnalyzeOptions::default());
    assert!(!r.logs.events.is_empty(), "the log line is an event");
    let page = html_at(&r, ANALYSED_AT);
    let row = page.find("<tr class=\"event\">").expect("an event row");
    assert!(page[row..].contains("ICE failure 4 (unauthorized - check credentials)"));
    assert!(
        page.contains("cms-events.log"),
        "the log is among the inputs"
    );
}

fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("TURNSCOPE_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|b| std::env::split_paths(&path).map(move |d| d.join(b)))
        .find(|p| p.is_file())
}

#[test]
fn nothing_overflows_in_chromium_at_1400_px() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED nothing_overflows_in_chromium_at_1400_px: no chromium on PATH (set TURNSCOPE_CHROMIUM)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("turnscope-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let check = include_str!("report_html_check.js");
    for (name, r) in cases() {
        let file = dir.join(format!("{name}.html"));
        let page = html_at(&r, ANALYSED_AT).replace(
            "</body></html>",
            &format!("<script>{check}</script></body></html>"),
        );
        std::fs::write(&file, page).unwrap();
        let out = Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1400,2000",
                "--dump-dom",
            ])
            .arg(format!("file://{}", file.display()))
            .output()
            .unwrap();
        let dom = String::from_utf8_lossy(&out.stdout);
        let result = dom
            .rfind("OVERFLOW-CHECK viewport=")
            .and_then(|at| dom[at..].find(" END").map(|end| &dom[at..at + end]))
            .unwrap_or_else(|| {
                panic!(
                    "{name}: no result from chromium: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(result.contains("verdict=yes"), "{name}: {result}");
        assert!(result.contains("bad=[]"), "{name}: {result}");
        let number = |key: &str| -> u32 {
            let at = result.find(key).unwrap() + key.len();
            result[at..].split(' ').next().unwrap().parse().unwrap()
        };
        assert!(number("page=") <= number("viewport="), "{name}: {result}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
