//! Entry point for the `capture_file` fuzz target beyond the capture layer (and for replaying
//! its corpus as a test): the capture's events through the flows (STUN, DNS, TLS, HTTP), one
//! case, and every rule.
#![doc(hidden)]

use crate::capture::CaptureFile;
use crate::flow::case::ServerHints;
use crate::flow::{dns, http, tls, Case, FlowOptions, Ingest};

use super::{diagnose, DiagnoseOptions};

/// Treat `data` as a capture file, build its flows and diagnose it, checking the bounds the
/// flows promise.
pub fn capture_case(data: &[u8]) {
    let Ok(file) = CaptureFile::from_bytes("fuzz".into(), data.to_vec()) else {
        return;
    };
    let opts = FlowOptions::default();
    let mut ing = Ingest::new("fuzz", &opts);
    for batch in file.events_batched(7) {
        ing.events(&batch);
    }
    let flows = ing.finish();
    assert!(flows.dns.lookups.len() <= dns::MAX_LOOKUPS);
    assert!(flows.tls_conns.conns.len() <= tls::MAX_CONNS);
    assert!(flows.http.answers.len() <= http::MAX_ANSWERS);
    for t in &flows.tls_conns.conns {
        for chain in [&t.server_certs, &t.client_certs].into_iter().flatten() {
            assert!(chain.chain.len() <= chain.count.min(8));
        }
    }
    let case = Case::build(vec![flows], &[None], ServerHints::default());
    let opts = DiagnoseOptions {
        join_url: Some("join.example.com".into()),
        ..DiagnoseOptions::default()
    };
    let _ = diagnose(&case, &opts);
}
