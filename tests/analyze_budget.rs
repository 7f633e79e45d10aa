//! The memory budget (`docs/architecture.md`, "Memory"): beyond what a flow keeps in full,
//! transactions are counted into a kept one of their kind, the report says so, and the
//! findings still count every transaction.

mod analyze_support;

use analyze_support::*;
use turnscope::flow::budget::{FLOW_FULL, SIGHTINGS_KEPT};
use turnscope::report::{html, markdown, table};
use turnscope::testsupport::{healthy_exchange, ice_check, tid, Script, Turn};
use turnscope::wire::Method;
use turnscope::Report;

/// More transactions than a flow keeps in full.
const MANY: u32 = FLOW_FULL as u32 + 300;

fn assert_summarised(r: &Report, at_least: u64) {
    let s = r.captures[0]
        .summarised
        .as_ref()
        .expect("the capture says what it summarised");
    assert!(s.transactions >= at_least, "{s:?}");
    assert_eq!(s.unclassified, 0, "{s:?}");
    // Kept in full: what one flow keeps, and a few firsts of their kind.
    assert!(
        r.transactions.len() <= FLOW_FULL + 16,
        "{}",
        r.transactions.len()
    );
    let json: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
    assert_eq!(
        json["captures"][0]["summarised"]["transactions"].as_u64(),
        Some(s.transactions)
    );
    for (format, text) in [
        ("table", table(r)),
        ("markdown", markdown(r)),
        ("html", html(r)),
    ] {
        assert!(
            text.contains("beyond the memory budget"),
            "{format} has no note"
        );
    }
}

#[test]
fn rejections_beyond_the_budget_are_counted() {
    let t = Turn::new("alice", "wrong", "TANDBERG");
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate(tid(1)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1)));
    for n in 2..MANY + 2 {
        s.after(50.0);
        s.udp(CLIENT, SERVER, t.allocate_auth(tid(n)));
        s.after(10.0);
        s.udp(
            SERVER,
            CLIENT,
            t.error(Method::ALLOCATE, tid(n), 401, "Unauthorized"),
        );
    }
    let r = one(&s, &[]);
    let f = r.finding("auth.rejected").expect("auth.rejected");
    assert!(
        f.summary.ends_with(&format!("({MANY} requests rejected)")),
        "{}",
        f.summary
    );
    assert_summarised(&r, u64::from(MANY) + 1 - FLOW_FULL as u64);
}

#[test]
fn unanswered_requests_beyond_the_budget_are_counted() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    for n in 1..=MANY {
        s.after(20.0);
        s.udp(CLIENT, SERVER, t.refresh(tid(n), 600));
        s.after(500.0);
        s.udp(CLIENT, SERVER, t.refresh(tid(n), 600));
    }
    s.after(5000.0);
    let r = one(&s, &[]);
    let f = r.finding("reach.no_response").expect("reach.no_response");
    assert!(
        f.summary.starts_with(&format!("{MANY} Refresh requests")),
        "{}",
        f.summary
    );
    assert_summarised(&r, u64::from(MANY) - FLOW_FULL as u64);
}

#[test]
fn refreshes_beyond_the_budget_keep_the_allocation_alive() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate_auth(tid(1)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.allocate_ok(tid(1), RELAY, NAT, 600));
    for n in 2..MANY + 2 {
        s.after(60_000.0);
        s.udp(CLIENT, SERVER, t.refresh(tid(n), 600));
        s.after(10.0);
        s.udp(SERVER, CLIENT, t.ok(Method::REFRESH, tid(n), Some(600)));
    }
    s.after(1000.0);
    let r = one(&s, &[]);
    // Every refresh counts, and the last ones, summarised, keep it from expiring.
    assert_absent(&r, "alloc.expired");
    assert_eq!(r.allocations[0].refreshes, MANY as usize);
    assert!(!r.allocations[0].expired);
    assert_summarised(&r, u64::from(MANY) + 1 - FLOW_FULL as u64);
}

#[test]
fn ice_checks_beyond_the_budget_are_counted() {
    let mut s = Script::new();
    for n in 1..=MANY {
        s.after(20.0);
        s.udp("10.1.1.10:50000", "192.0.2.99:6000", ice_check(tid(n)));
    }
    s.after(5000.0);
    let r = one(&s, &[]);
    let f = r.finding("ice.check_failed").expect("ice.check_failed");
    assert!(
        f.summary
            .starts_with(&format!("none of {MANY} ICE connectivity checks")),
        "{}",
        f.summary
    );
    assert_summarised(&r, u64::from(MANY) - FLOW_FULL as u64);
}

#[test]
fn retransmissions_beyond_what_a_transaction_keeps_are_counted() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    let sent = SIGHTINGS_KEPT as u32 + 18;
    for _ in 0..sent {
        s.after(100.0);
        s.udp(CLIENT, SERVER, t.refresh(tid(1), 600));
    }
    s.after(5000.0);
    let r = one(&s, &[]);
    let tx = &r.transactions[0];
    assert_eq!(tx.retransmissions, sent as usize - 1);
    assert_eq!(tx.schedule_ms.len(), SIGHTINGS_KEPT);
    let summarised = r.captures[0].summarised.as_ref().expect("summarised");
    assert_eq!(
        summarised.sightings,
        u64::from(sent) - SIGHTINGS_KEPT as u64
    );
    let f = r.finding("reach.no_response").expect("reach.no_response");
    assert!(
        f.summary.contains(&format!("sent up to {sent} times")),
        "{}",
        f.summary
    );
}

#[test]
fn findings_of_one_id_are_listed_up_to_a_limit() {
    use turnscope::diagnose::MAX_FINDINGS_PER_ID;
    use turnscope::wire::{Class, MessageBuilder};
    let clients = MAX_FINDINGS_PER_ID as u32 + 50;
    let mut s = Script::new();
    // A guest allocates on the server's inside address: its TURN port is known.
    let inside = "10.0.0.36:3478";
    let t = Turn::new("guest", "pw", "TANDBERG");
    healthy_exchange(
        &mut s,
        &t,
        "10.99.0.1:4000",
        inside,
        "10.99.0.1:4000",
        "198.51.100.20:25000",
        "192.0.2.99:6000",
        100_000,
    );
    for n in 0..clients {
        let binding = MessageBuilder::new(Method::BINDING, Class::Request, tid(n)).fingerprint();
        s.after(10.0);
        s.udp(
            &format!("10.1.{}.{}:5000", n / 200, 1 + n % 200),
            inside,
            binding,
        );
    }
    let r = one(&s, &[]);
    let listed: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "version.cms_binding_only")
        .collect();
    assert_eq!(listed.len(), MAX_FINDINGS_PER_ID + 1);
    let rest: Vec<_> = listed
        .iter()
        .filter(|f| f.summary.starts_with("50 more"))
        .collect();
    assert_eq!(rest.len(), 1, "{:?}", listed.last().map(|f| &f.summary));
    assert!(
        rest[0].summary.contains("(50 occurrences)"),
        "{}",
        rest[0].summary
    );
    assert!(!rest[0].evidence.is_empty());
}

#[test]
fn flows_beyond_the_cap_are_counted_and_a_rejection_is_still_kept() {
    use turnscope::flow::budget::{DIRECTIONS_KEPT, FLOWS_KEPT};
    use turnscope::wire::{Class, MessageBuilder};
    // More client 5-tuples than the capture keeps, one answered Binding each...
    let flows = FLOWS_KEPT as u32 + 2_000;
    let mut s = Script::new();
    for n in 0..flows {
        let client = format!("10.{}.{}.{}:5000", n >> 16, (n >> 8) & 255, n & 255);
        s.after(0.1);
        let rq = MessageBuilder::new(Method::BINDING, Class::Request, tid(n)).fingerprint();
        s.udp(&client, SERVER, rq);
        let ok = MessageBuilder::new(Method::BINDING, Class::Success, tid(n)).fingerprint();
        s.udp(SERVER, &client, ok);
    }
    // ...then, on one more, a rejected Allocate: a new kind, kept in full beyond the cap.
    let t = Turn::new("alice", "wrong", "TANDBERG");
    let late = "10.200.0.1:6000";
    s.after(10.0);
    s.udp(late, SERVER, t.allocate(tid(flows)));
    s.udp(SERVER, late, t.challenge(Method::ALLOCATE, tid(flows)));
    s.after(10.0);
    s.udp(late, SERVER, t.allocate_auth(tid(flows + 1)));
    s.udp(
        SERVER,
        late,
        t.error(Method::ALLOCATE, tid(flows + 1), 401, "Unauthorized"),
    );
    let r = one(&s, &[]);
    let summarised = r.captures[0].summarised.as_ref().expect("summarised");
    // Every Binding beyond the cap counted once, plus the two Allocates of the late flow.
    assert_eq!(summarised.beyond_flows, 2_000 + 2, "{summarised:?}");
    // Both directions of each flow beyond the cap: one packet each (two for the late flow,
    // whose directions may fall on either side of the cap as stretches are merged).
    let directions = 2 * (u64::from(flows) + 1) - DIRECTIONS_KEPT as u64;
    assert!(
        (directions..=directions + 2).contains(&summarised.beyond_directions),
        "{summarised:?}"
    );
    // Kept in full: at most one transaction per flow kept, and the late rejection.
    assert!(
        r.transactions.len() <= FLOWS_KEPT + 16,
        "{} transactions kept",
        r.transactions.len()
    );
    let kept = r.transactions.len() as u64;
    assert_eq!(
        kept + summarised.transactions + summarised.unclassified,
        u64::from(flows) + 2,
        "every transaction is kept or counted"
    );
    // The rejection is kept in full (its row names the late client) and found.
    let late: std::net::SocketAddr = late.parse().unwrap();
    assert!(
        r.transactions.iter().any(|tx| tx.client == Some(late)
            && tx.method.to_lowercase().contains("allocate")
            && tx.outcome.contains("401")),
        "the rejected Allocate is not kept"
    );
    assert!(r.finding("auth.rejected").is_some(), "{:?}", r.ids());
    let note = r.captures[0].summarised_note().expect("a note");
    assert!(
        note.contains(&format!("beyond the first {FLOWS_KEPT} kept")),
        "{note}"
    );
    assert!(
        note.contains("directions kept, in the totals only"),
        "{note}"
    );
}
