//! capacity.*: 486 Allocation Quota Reached, 508 Insufficient Capacity, 300 Try Alternate.

use crate::wire::Method;

use super::{by_error_code, method_title, Sink};

const REMEDY_QUOTA: &str = "On an Expressway-E every call bridge (and every guest it hands the credentials to) uses the same TURN username, so 486 most likely means the relay licence is used up (the TURN relay option key, e.g. \"1800 TURN Relays\"), not a per-user limit: check Status > TURN relay usage and the option keys, release relays left allocated (a deallocation refused with 438 and never retried keeps its relay until its lifetime ends), and add relay licences or Expressway-E nodes. On another TURN server, raise the per-user allocation quota or make clients release allocations they no longer use (Refresh with lifetime 0).";
const REMEDY_CAPACITY: &str = "The server is out of relay capacity: relay ports or TURN licences are exhausted. Check the Expressway-E TURN relay option key (e.g. \"1800 TURN Relays\") and Status > TURN relay usage; widen the relay port range (default UDP 24000-29999) or add Expressway-E capacity.";
const REMEDY_ALTERNATE: &str = "Cluster redirection: the server sends the client to another TURN server. Make sure the alternate Expressway-E is reachable from the client network (TURN port and relay port range).";

pub(super) fn rules(sink: &mut Sink<'_>) {
    by_error_code(
        sink,
        486,
        "capacity.quota_reached",
        |m| m == Method::ALLOCATE,
        |rq, _| rq.username.as_deref().unwrap_or("").to_string(),
        |rq, rs| {
            format!(
                "{} from {} as user \"{}\" rejected by {} with 486 Allocation Quota Reached",
                method_title(rq.method),
                rq.src,
                rq.username.as_deref().unwrap_or(""),
                rs.src
            )
        },
        REMEDY_QUOTA,
    );
    by_error_code(
        sink,
        508,
        "capacity.insufficient",
        |_| true,
        |_, rs| rs.src.to_string(),
        |rq, rs| {
            format!(
                "{} from {} rejected by {} with 508 Insufficient Capacity",
                method_title(rq.method),
                rq.src,
                rs.src
            )
        },
        REMEDY_CAPACITY,
    );
    by_error_code(
        sink,
        300,
        "capacity.alternate_server",
        |_| true,
        |_, rs| rs.alternate.map(|a| a.to_string()).unwrap_or_default(),
        |rq, rs| match rs.alternate {
            Some(a) => format!(
                "{} from {} redirected by {} with 300 Try Alternate to ALTERNATE-SERVER {a}",
                method_title(rq.method),
                rq.src,
                rs.src
            ),
            None => format!(
                "{} from {} answered by {} with 300 Try Alternate without ALTERNATE-SERVER",
                method_title(rq.method),
                rq.src,
                rs.src
            ),
        },
        REMEDY_ALTERNATE,
    );
}
