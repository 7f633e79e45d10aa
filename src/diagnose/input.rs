//! input.*: what the inputs themselves say about how far the other findings can be trusted.
//!
//! A report that says "no findings" about a capture that holds no STUN at all, or that checks
//! integrity with a password the server never used, misleads more than it helps. These rules
//! look at the inputs (captures, `--credential`, `--client` / `--server`) rather than at the
//! network: a capture without STUN/TURN, an empty password, a credential that verifies none of
//! the requests the server accepted, a given role the capture's evidence contradicts, a role
//! nothing could tell.

use std::collections::BTreeSet;

use crate::flow::{Case, CredCheck, Credential, Role, Sighting};
use crate::wire::Class;

use super::{plural, Finding, Severity, Sink};

const REMEDY_NO_STUN: &str = "Take the capture again on the interface that carries the TURN traffic (the guest's network adapter; on the Expressway-E, tcpdump on the external interface or \"any\"), without a capture filter that drops UDP/TCP 3478 or the relay ports 24000-29999; then analyse it with the other side's capture.";

const REMEDY_EMPTY_PASSWORD: &str = "Give the TURN password after the colon (--credential USER:PASSWORD, quoted if it holds shell characters such as ! $ or spaces); an empty password verifies nothing, so every integrity finding from it is unreliable.";

const REMEDY_UNVERIFIED: &str = "The credential given is not the one the clients use with this server: check the username and password (quoting, realm) against the Expressway-E local authentication database and the CMS API turnServers object; the auth findings computed with it are unreliable.";

const REMEDY_ROLE_DOUBT: &str = "Check which side each capture was taken on; if the option names the wrong file, swap --client and --server (or leave them out and let turnscope infer the roles).";

const REMEDY_ROLE_UNKNOWN: &str = "Name the capture's side with --client FILE or --server FILE, or add the capture of the other side of the same call so that the two can be compared.";

const REMEDY_NO_CAPTURE: &str = "Take the diagnostic log again on the Expressway-E (Maintenance > Diagnostics > Diagnostic logging) with \"Take tcpdump while logging\" ticked, reproduce the failing call, stop logging and download the bundle; add the guest's capture or its chrome://webrtc-internals dump. Until then the findings rest on the documents alone.";

/// A diagnostic bundle that held documents and no capture at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleWithoutCapture {
    /// The bundle's name.
    pub bundle: String,
    /// What it held instead, as [`crate::sources::DocKind::describe`] says it.
    pub documents: Vec<&'static str>,
}

/// `input.no_capture`: bundles that hold logs and dumps but no packets, in one finding. The
/// other findings then come from the documents alone, which the verdict must not hide.
pub fn no_capture(bundles: &[BundleWithoutCapture]) -> Option<Finding> {
    let (first, rest) = bundles.split_first()?;
    let names: Vec<&str> = bundles.iter().map(|b| b.bundle.as_str()).collect();
    let which = if rest.is_empty() {
        format!(
            "the bundle {} holds no capture, only {}",
            first.bundle,
            first.documents.join(", ")
        )
    } else {
        format!("these bundles hold no capture: {}", names.join(", "))
    };
    Some(Finding {
        id: "input.no_capture".into(),
        severity: Severity::Warning,
        summary: format!(
            "{which}: the packets are missing (a log started after a restart, or 'Take tcpdump while logging' not ticked, holds only the log); what is found rests on the logs and the configuration"
        ),
        evidence: Vec::new(),
        documents: Vec::new(),
        remedy: REMEDY_NO_CAPTURE.to_string(),
        ts: 0,
    })
}

pub(super) fn rules(sink: &mut Sink<'_>, credentials: &[Credential]) {
    no_stun(sink);
    empty_passwords(sink, credentials);
    unverified_credentials(sink, credentials);
    role_doubts(sink);
    roles_unknown(sink);
}

/// The captures that hold no STUN/TURN message, in one finding (a web-only case would
/// otherwise repeat the same remedy for every capture).
fn no_stun(sink: &mut Sink<'_>) {
    let case = sink.case;
    let empty: Vec<String> = case
        .captures
        .iter()
        .filter(|c| c.stun_messages == 0)
        .map(|c| {
            if c.frames == 0 {
                format!("{}: it holds no packets at all", c.name)
            } else {
                format!(
                    "{}: {} read, none of them STUN, TURN or ChannelData",
                    c.name,
                    plural(c.frames as usize, "frame", "frames")
                )
            }
        })
        .collect();
    let which = match empty.len() {
        0 => return,
        1 => "this capture".to_string(),
        n => format!("these {n} captures"),
    };
    sink.entry("input.no_stun", "", || {
        (
            format!(
                "no STUN/TURN in {which} (wrong interface or capture filter?): {}",
                empty.join("; ")
            ),
            REMEDY_NO_STUN.to_string(),
        )
    });
}

fn empty_passwords(sink: &mut Sink<'_>, credentials: &[Credential]) {
    for c in credentials.iter().filter(|c| c.password.is_empty()) {
        sink.entry("input.empty_password", c.user.clone(), || {
            (
                format!(
                    "--credential gives user \"{}\" an empty password: no request can verify with it",
                    c.user
                ),
                REMEDY_EMPTY_PASSWORD.to_string(),
            )
        });
    }
}

/// An authenticated request the server accepted: what the integrity check said, its user, and
/// where it was seen.
struct Accepted<'a> {
    check: &'a CredCheck,
    user: &'a str,
    sighting: Sighting,
}

/// Authenticated requests (USERNAME + MESSAGE-INTEGRITY, not ICE checks) answered by a success.
fn accepted_requests(case: &Case) -> Vec<Accepted<'_>> {
    case.txs
        .iter()
        .filter_map(|t| {
            let (s, rq) = case.any_request(t)?;
            let (_, rs) = case.any_response(t)?;
            let authenticated = rq.has_integrity && !rq.is_ice_check();
            (authenticated && rs.class == Class::Success).then_some(Accepted {
                check: &rq.cred,
                user: rq.username.as_deref()?,
                sighting: s,
            })
        })
        .collect()
}

fn verifies_with(check: &CredCheck, k: usize) -> bool {
    matches!(check, CredCheck::Verified { cred } | CredCheck::VerifiedOtherRealm { cred, .. } if *cred == k)
}

/// A given credential with a password that verifies none of the requests the server accepted
/// (when it accepted any): the integrity findings computed with it say nothing.
fn unverified_credentials(sink: &mut Sink<'_>, credentials: &[Credential]) {
    let case = sink.case;
    let accepted = accepted_requests(case);
    if accepted.is_empty() {
        return;
    }
    let users: BTreeSet<&str> = accepted.iter().map(|a| a.user).collect();
    for (k, cred) in credentials.iter().enumerate() {
        if cred.password.is_empty() || accepted.iter().any(|a| verifies_with(a.check, k)) {
            continue;
        }
        let own: Vec<&Accepted<'_>> = accepted.iter().filter(|a| a.user == cred.user).collect();
        let why = if own.is_empty() {
            format!(
                "none of them is of user \"{}\" (the server accepted {})",
                cred.user,
                users
                    .iter()
                    .map(|u| format!("\"{u}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "{} of user \"{}\" do not verify with the given password",
                plural(own.len(), "request", "requests"),
                cred.user
            )
        };
        let summary = format!(
            "--credential {}:… verifies none of the {} the server accepted: {why}",
            cred.user,
            plural(
                accepted.len(),
                "authenticated request",
                "authenticated requests"
            ),
        );
        let d = sink.entry("input.credential_unverified", cred.user.clone(), || {
            (summary, REMEDY_UNVERIFIED.to_string())
        });
        // The user's own accepted requests show best what does not verify; else any.
        let shown: Vec<Sighting> = if own.is_empty() {
            accepted.iter().take(4).map(|a| a.sighting).collect()
        } else {
            own.iter().take(4).map(|a| a.sighting).collect()
        };
        for s in shown {
            d.sighting(case, s);
        }
    }
}

fn role_doubts(sink: &mut Sink<'_>) {
    let case = sink.case;
    for (i, doubt) in case.role_doubts.iter().enumerate() {
        let (Some(doubt), Some(role)) = (doubt, case.roles.get(i)) else {
            continue;
        };
        let option = match role {
            Role::Client => "--client",
            Role::Server => "--server",
            Role::Unknown => continue,
        };
        let name = case.name(i);
        sink.entry("input.role_contradicted", name.to_string(), || {
            (
                format!("{option} {name}: the capture's own evidence points to the {doubt}"),
                REMEDY_ROLE_DOUBT.to_string(),
            )
        });
    }
}

fn roles_unknown(sink: &mut Sink<'_>) {
    let case = sink.case;
    for (i, role) in case.roles.iter().enumerate() {
        // A capture without STUN already has its own finding, which says more.
        if *role != Role::Unknown || case.captures[i].stun_messages == 0 {
            continue;
        }
        let name = case.name(i);
        let why = case.role_reasons.get(i).map_or("", String::as_str);
        sink.entry("input.role_unknown", name.to_string(), || {
            (
                format!("the side {name} was taken on is unknown: {why}; findings that compare the client and server sides skip it"),
                REMEDY_ROLE_UNKNOWN.to_string(),
            )
        });
    }
}
