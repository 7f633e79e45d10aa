//! alloc.*: 437 Allocation Mismatch, allocations that expire during the capture.

use std::collections::BTreeSet;

use super::{by_error_code, method_title, Sink};

const REMEDY_MISMATCH: &str = "NAT rebinding or a duplicate Allocate on a live 5-tuple: keep the NAT's UDP idle timeout above the client's refresh interval, and check that the client does not reuse the source port of a live allocation for a new one.";
const REMEDY_EXPIRED: &str = "The allocation's lifetime ran out without a successful Refresh: check the client's refresh logic (refresh well before LIFETIME expires) and the NAT's UDP idle timeout between client and Expressway-E.";

pub(super) fn rules(sink: &mut Sink<'_>) {
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
