//! Shared helpers: run scripted captures through the whole pipeline (pcap bytes -> analyze).
#![allow(dead_code)]

use turnscope::diagnose::Severity;
use turnscope::flow::{Credential, Role};
use turnscope::testsupport::Script;
use turnscope::{analyze, AnalyzeOptions, Input, Report};

pub const CLIENT: &str = "10.1.1.10:50000";
pub const NAT: &str = "203.0.113.77:40000";
pub const SERVER: &str = "198.51.100.20:3478";
pub const RELAY: &str = "198.51.100.20:25000";
pub const PEER: &str = "192.0.2.99:6000";

pub fn run(scripts: &[(&str, &Script, Option<Role>)], creds: &[&str]) -> Report {
    let inputs: Vec<Input> = scripts
        .iter()
        .map(|(name, s, role)| {
            let i = Input::bytes(*name, s.pcap());
            match role {
                Some(r) => i.with_role(*r),
                None => i,
            }
        })
        .collect();
    let opts = AnalyzeOptions {
        credentials: creds
            .iter()
            .map(|c| c.parse::<Credential>().unwrap())
            .collect(),
        ..AnalyzeOptions::default()
    };
    let r = analyze(&inputs, &opts);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r
}

pub fn one(s: &Script, creds: &[&str]) -> Report {
    run(&[("c.pcap", s, None)], creds)
}

/// Assert `id` is reported with (at least) these frames of capture `cap` as evidence.
pub fn assert_finding(r: &Report, id: &str, cap: &str, frames: &[u32]) {
    let f = r
        .finding(id)
        .unwrap_or_else(|| panic!("{id} missing; got {:?}\n{}", r.ids(), r.json()));
    for fr in frames {
        assert!(
            f.evidence
                .iter()
                .any(|e| e.capture == cap && e.frame == *fr),
            "{id}: frame {fr} of {cap} not in evidence {:?}",
            f.evidence
        );
    }
    assert!(!f.summary.is_empty() && !f.remedy.is_empty());
}

pub fn assert_no_errors(r: &Report) {
    let errs: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{}: {}", f.id, f.summary))
        .collect();
    assert!(errs.is_empty(), "unexpected errors: {errs:?}");
}

pub fn assert_absent(r: &Report, id: &str) {
    assert!(!r.has(id), "{id} should not be reported: {:?}", r.ids());
}
