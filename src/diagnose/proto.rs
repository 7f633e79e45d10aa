//! proto.*: FINGERPRINT mismatches, malformed STUN, 420 Unknown Attribute, attributes appended
//! after MESSAGE-INTEGRITY.

use crate::wire::attr;

use super::{by_error_code, plural, Sink};

const REMEDY_FINGERPRINT: &str = "An ALG or middlebox rewrote the STUN message on the way: disable SIP/STUN ALG, \"fixup\" or deep inspection for the TURN traffic on the firewalls between client and Expressway-E.";
const REMEDY_MALFORMED: &str = "A middlebox corrupts these packets or a non-compliant STUN stack sends them: disable ALG/inspection for the STUN/TURN ports and check the client and server software versions.";
const REMEDY_UNPROTECTED: &str = "Attributes were appended to signed STUN messages after MESSAGE-INTEGRITY, where the integrity does not cover them: a compliant TURN server ignores them (RFC 8489 section 14.5). Either a middlebox rewrites STUN on the way (disable SIP/STUN ALG, \"fixup\" or deep inspection for the TURN traffic on the firewalls between client and Expressway-E), or someone is replaying captured requests with changes to use the TURN server as a relay or to delete allocations: check the source addresses against the expected clients, and keep the Expressway-E software current.";
const REMEDY_UNKNOWN: &str = "Client and server disagree on STUN attributes (for example an MS-TURN client against a standard TURN server): use a client that speaks standard TURN (RFC 5766 / RFC 8656), or a server that understands the listed attributes.";

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        for m in c.msgs.iter().filter(|m| m.bad_fingerprint.is_some()) {
            let (carried, computed) = m.bad_fingerprint.unwrap_or((0, 0));
            let d = sink.entry(
                "proto.bad_fingerprint",
                format!("{}>{}", m.src, m.dst),
                || {
                    let what = if (carried, computed) == (0, 0) {
                        "FINGERPRINT is not the last attribute".to_string()
                    } else {
                        format!(
                            "FINGERPRINT 0x{carried:08x} where the message gives 0x{computed:08x}"
                        )
                    };
                    (
                        format!(
                            "{} {} {} from {} to {}: {what}",
                            m.method,
                            m.class.as_str(),
                            m.txid,
                            m.src,
                            m.dst
                        ),
                        REMEDY_FINGERPRINT.to_string(),
                    )
                },
            );
            d.count += 1;
            d.frame(case, ci, m.frame, m.ts.0);
        }
        for m in &c.malformed {
            let d = sink.entry("proto.malformed", format!("{}>{}", m.src, m.dst), || {
                (
                    format!(
                        "STUN-looking packets from {} to {} do not parse: {}",
                        m.src, m.dst, m.reason
                    ),
                    REMEDY_MALFORMED.to_string(),
                )
            });
            d.count += 1;
            d.frame(case, ci, m.frame, m.ts.0);
        }
    }
    unprotected_attributes(sink);
    for id in [
        "proto.bad_fingerprint",
        "proto.malformed",
        "proto.unprotected_attribute",
    ] {
        for d in sink.drafts_mut(id) {
            if d.count > 1 {
                d.summary
                    .push_str(&format!(" ({})", plural(d.count, "message", "messages")));
            }
        }
    }
    by_error_code(
        sink,
        420,
        "proto.unknown_attribute",
        |_| true,
        |_, rs| format!("{:?}", rs.unknown_attrs),
        |rq, rs| {
            let list: Vec<String> = rs.unknown_attrs.iter().map(|t| attr_label(*t)).collect();
            format!(
                "{} from {} answered by {} with 420 Unknown Attribute; UNKNOWN-ATTRIBUTES: {}",
                super::method_title(rq.method),
                rq.src,
                rs.src,
                if list.is_empty() {
                    "(none listed)".into()
                } else {
                    list.join(", ")
                }
            )
        },
        REMEDY_UNKNOWN,
    );
}

/// Signed messages that carry attributes after their integrity attribute, per direction.
fn unprotected_attributes(sink: &mut Sink<'_>) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        for m in c.msgs.iter().filter(|m| !m.unprotected_attrs.is_empty()) {
            let d = sink.entry(
                "proto.unprotected_attribute",
                format!("{}>{}", m.src, m.dst),
                || {
                    let names: Vec<String> =
                        m.unprotected_attrs.iter().map(|t| attr_label(*t)).collect();
                    (
                        format!(
                            "{} {} {} from {} to {} carries {} after MESSAGE-INTEGRITY, where the integrity does not cover it",
                            m.method,
                            m.class.as_str(),
                            m.txid,
                            m.src,
                            m.dst,
                            names.join(", ")
                        ),
                        REMEDY_UNPROTECTED.to_string(),
                    )
                },
            );
            d.count += 1;
            d.frame(case, ci, m.frame, m.ts.0);
        }
    }
}

/// `0x000D (LIFETIME)`, or the bare number for an unregistered type.
fn attr_label(t: u16) -> String {
    match attr::name(t) {
        Some(n) => format!("0x{t:04X} ({n})"),
        None => format!("0x{t:04X}"),
    }
}
