//! alloc.*: 437 Allocation Mismatch, allocations that expire during the capture, relays whose
//! deallocation was refused and never retried.

use std::collections::BTreeSet;

use super::{by_error_code, method_title, Sink};

const REMEDY_MISMATCH: &str = "NAT rebinding or a duplicate Allocate on a live 5-tuple: keep the NAT's UDP idle timeout above the client's refresh interval, and check that the client does not reuse the source port of a live allocation for a new one.";
const REMEDY_EXPIRED: &str = "The allocation's lifetime ran out without a successful Refresh: check the client's refresh logic (refresh well before LIFETIME expires) and the NAT's UDP idle timeout between client and Expressway-E.";

const REMEDY_RELEASE: &str = "The client must retry the deallocating Refresh (LIFETIME 0) with the NONCE of the 438 Stale Nonce answer (RFC 8656 section 7); until then the relay stays allocated on the Expressway-E until its lifetime ends and counts toward the TURN relay licence (e.g. \"1800 TURN Relays\" option key): check the client's stale-nonce handling (CMS or browser version), and the relay usage in the Expressway status (xstat) if 508 Insufficient Capacity appears.";

pub(super) fn rules(sink: &mut Sink<'_>) {
    release_failed(sink);
    by_error_code(
        sink,
        437,
        "alloc.mismatch",
        |_| true,
        |rq, _| rq.src.to_string(),
        |rq, rs| {
            format!(
                "{} from {} answered by {} with 437 Allocation Mismatch",
                method_title(rq.method),
                rq.src,
                rs.src
            )
        },
        REMEDY_MISMATCH,
    );
    let case = sink.case;
    let mut seen = BTreeSet::new();
    for (ci, c) in case.captures.iter().enumerate() {
        for a in &c.allocations {
            let Some(exp) = a.expired_at else { continue };
            let key = a
                .relayed
                .map(|r| r.to_string())
                .unwrap_or_else(|| a.client.to_string());
            let granted = a.granted_at.map_or(0, |g| g.0);
            let life = a.lifetime.unwrap_or(0);
            let d = sink.entry("alloc.expired", key.clone(), || {
                (
                    format!(
                        "allocation of {} on {} (relay {}) expired {:.0} s after its last grant or refresh (lifetime {life} s) without a successful Refresh",
                        a.client,
                        a.server,
                        a.relayed.map_or("?".into(), |r| r.to_string()),
                        (exp.0 - granted) as f64 / 1e9
                    ),
                    REMEDY_EXPIRED.to_string(),
                )
            });
            if seen.insert((ci, key)) {
                d.count += 1;
                for &ti in a.transactions.iter().rev().take(2) {
                    let t = &c.transactions[ti as usize];
                    for &i in t.requests.iter().chain(&t.responses).take(3) {
                        let m = c.msg(i);
                        d.frame(case, ci, m.frame, m.ts.0);
                    }
                }
            }
        }
    }
}

/// alloc.release_failed: a relay left allocated because its deallocation was refused (the
/// same relay seen by several captures is one finding).
fn release_failed(sink: &mut Sink<'_>) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        for a in &c.allocations {
            let (Some(refused), Some(relay)) = (a.release_refused, a.relayed) else {
                continue;
            };
            let answer = c.msg(refused.msg);
            let left = a
                .expires_at
                .map(|e| {
                    format!(
                        " (its lifetime ends {:.0} s after the refusal)",
                        (e.0 - answer.ts.0) as f64 / 1e9
                    )
                })
                .unwrap_or_default();
            let reason = answer.reason.as_deref().unwrap_or("");
            let d = sink.entry("alloc.release_failed", relay.to_string(), || {
                (
                    format!(
                        "the deallocation of relay {relay} (Refresh with LIFETIME 0 from {} to {}) was answered {} {reason} and never retried: the relay stays allocated{left}",
                        a.client, a.server, refused.code
                    ),
                    REMEDY_RELEASE.to_string(),
                )
            });
            d.count += 1;
            for i in refused.request.into_iter().chain([refused.msg]) {
                let m = c.msg(i);
                d.frame(case, ci, m.frame, m.ts.0);
            }
        }
    }
}
