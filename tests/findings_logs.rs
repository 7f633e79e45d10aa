//! log.*: CMS event log lines linked to the packets they follow.

mod analyze_support;

use analyze_support::*;
use turnscope::testsupport::{tid, Script, Turn};
use turnscope::wire::Method;
use turnscope::{analyze, AnalyzeOptions, Input};

/// The CMS allocates on the Expressway-E's inside address with a password the server does not
/// accept (the script starts 2023-11-14 22:13:20 UTC).
fn rejected_cms() -> Script {
    let t = Turn::new("cms", "wrong", "TANDBERG");
    let (cms, inside) = ("10.0.0.40:5000", "10.0.0.36:3478");
    let mut s = Script::new();
    s.udp(cms, inside, t.allocate(tid(1)));
    s.after(5.0);
    s.udp(inside, cms, t.challenge(Method::ALLOCATE, tid(1)));
    s.after(5.0);
    s.udp(cms, inside, t.allocate_auth(tid(2))); // 3
    s.after(5.0);
    s.udp(
        inside,
        cms,
        t.error(Method::ALLOCATE, tid(2), 401, "Unauthorized"),
    ); // 4
    s
}

fn with_log(s: &Script, log: &str) -> turnscope::Report {
    let inputs = [
        Input::bytes("cms.pcap", s.pcap()),
        Input::bytes("cms-events.log", log.as_bytes().to_vec()),
    ];
    analyze(&inputs, &AnalyzeOptions::default())
}

#[test]
fn an_unauthorized_ice_failure_is_linked_to_the_rejected_allocate() {
    let log = "2023-11-14\t22:13:20.900\tWarning\tcall 7: ICE failure 4 (unauthorized - check credentials)\n";
    let r = with_log(&rejected_cms(), log);
    assert_finding(&r, "log.ice_failure", "cms.pcap", &[4]);
    let f = r.finding("log.ice_failure").expect("finding");
    assert!(f.summary.contains("call 7"), "{}", f.summary);
    assert!(f.summary.contains("10.0.0.40:5000"), "{}", f.summary);
    assert!(f.remedy.contains("turnServers"), "{}", f.remedy);
}

#[test]
fn a_line_no_packet_explains_says_so() {
    // A relay timeout, but the capture shows every Allocate answered.
    let log = "2023-11-14\t22:13:21.000\tWarning\tcall 6: ICE failure; relay candidate creation timeout\n";
    let r = with_log(&rejected_cms(), log);
    let f = r.finding("log.ice_failure").expect("finding");
    assert!(
        f.summary.contains("no packet of the case explains it"),
        "{}",
        f.summary
    );
    assert!(f.evidence.is_empty(), "{:?}", f.evidence);
    // Without the log, no such finding.
    assert_absent(&one(&rejected_cms(), &[]), "log.ice_failure");
}
