//! tls.*: the certificates of the web app's HTTPS sessions (the Expressway-E's, as the guest
//! sees them) and of the call bridge's session to the web bridge, as far as they are in clear:
//! TLS 1.2 and earlier show the certificate chain and the alert a side sends when it rejects
//! the other's certificate; TLS 1.3 encrypts both, and says so.

use crate::capture::CertInfo;
use crate::flow::is_private;
use crate::flow::tls::{ChainSeen, TlsConn};

use super::web::{normal, Facts, TlsUse};
use super::Sink;

/// Alert descriptions that reject a certificate (RFC 8446 section 6.2).
fn cert_alert(d: u8) -> Option<&'static str> {
    Some(match d {
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        44 => "certificate_revoked",
        45 => "certificate_expired",
        46 => "certificate_unknown",
        48 => "unknown_ca",
        49 => "access_denied",
        116 => "certificate_required",
        _ => return None,
    })
}

const SELF_SIGNED: &str = "The certificate is self-signed, so the browser does not trust the source (\"insecure connection\"): change the certificate on the Expressway-E to one from a supported third-party certificate authority, with the web bridge join URL as Subject Alternative Name (SAN).";
const SAN: &str = "Add the CMS join URL (the external web bridge URL) to the Expressway-E server certificate as a Subject Alternative Name (SAN); otherwise the browser shows an insecure connection.";
const REJECTED: &str = "The browser does not trust the Expressway-E's certificate (\"insecure connection\"): use a certificate from a supported third-party certificate authority, with the web bridge join URL as Subject Alternative Name (SAN), valid at the time of the call, sent with its intermediate certificates.";
const CLIENT_REJECTED: &str = "The web bridge does not trust the call bridge's certificate, so the call bridge cannot connect (no Join call button): the web bridge and the call bridge must trust each other. Add the call bridge certificate (not its issuer) to the web bridge as its trust bundle (MMP webbridge trust <callbridge.cer>), and check the web bridge URL on the CMS (Configuration > General).";
const HIDDEN: &str = "TLS 1.3 encrypts the certificate and the client's alerts, so the capture cannot say whether the browser accepted the certificate. Check what the Expressway-E presents with openssl s_client -connect ADDRESS:443 -servername JOIN-URL -showcerts: it must name the join URL as Subject Alternative Name (SAN), come from a supported third-party certificate authority, and be valid.";

fn names(c: &CertInfo) -> String {
    let mut v: Vec<String> = c.san_dns.clone();
    v.extend(c.san_ip.iter().map(|i| i.to_string()));
    if v.is_empty() {
        format!("no SAN, CN {}", c.common_name.as_deref().unwrap_or("none"))
    } else {
        format!("SAN {}", v.join(", "))
    }
}

fn date(secs: i64) -> String {
    // Civil date from days since the epoch (H. Hinnant's algorithm), UTC.
    let days = secs.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The name the server's certificate must carry: the SNI, else the join URL when there is one.
fn expected_name(t: &TlsConn, facts: &Facts) -> Option<String> {
    t.sni().map(normal).or_else(|| {
        (facts.join.len() == 1)
            .then(|| facts.join.iter().next().cloned())
            .flatten()
    })
}

pub(super) fn rules(sink: &mut Sink<'_>, facts: &Facts) {
    let case = sink.case;
    // The same session seen from the guest and from the Expressway-E is one finding, told as
    // the guest saw it (the public address) when a capture has that view.
    let mut views: Vec<(usize, &TlsConn)> = Vec::new();
    for (ci, c) in case.captures.iter().enumerate() {
        for (t, u) in c.tls_conns.conns.iter().zip(&facts.uses[ci]) {
            if let TlsUse::Web(_) = u {
                views.push((ci, t));
            }
        }
    }
    views.sort_by_key(|(ci, t)| (is_private(t.server.ip()), *ci));
    for (ci, t) in views {
        client_cert_rejected(sink, ci, t);
        let named = t.sni().is_some_and(|s| facts.join.contains(&normal(s)));
        if !named && !facts.is_web_server(case, t.server.ip()) {
            continue;
        }
        if t.is_tls13() {
            hidden(sink, ci, t);
        }
        if let Some(chain) = &t.server_certs {
            server_chain(sink, facts, ci, t, chain);
        }
        server_cert_rejected(sink, ci, t);
    }
}

/// What names the server across vantage points: the SNI, else its address.
fn server_key(t: &TlsConn) -> String {
    t.sni().map_or_else(|| t.server.to_string(), normal)
}

fn server_chain(sink: &mut Sink<'_>, facts: &Facts, ci: usize, t: &TlsConn, seen: &ChainSeen) {
    let case = sink.case;
    let Some(leaf) = seen.chain.first().filter(|l| l.error.is_none()) else {
        return;
    };
    let server = t.server;
    let at = |d: &mut super::Draft| {
        d.count += 1;
        d.frame(case, ci, seen.frame, seen.ts.0);
    };
    if let Some(want) = expected_name(t, facts) {
        if !leaf.names(&want) {
            let d = sink.entry(
                "tls.san_mismatch",
                format!("{want}|{}", leaf.subject),
                || {
                    (
                        format!(
                            "the certificate of {server} ({}, {}) does not name {want}",
                            leaf.subject,
                            names(leaf)
                        ),
                        SAN.to_string(),
                    )
                },
            );
            at(d);
        }
    }
    if leaf.self_issued {
        let d = sink.entry("tls.self_signed", leaf.subject.clone(), || {
            (
                format!(
                    "the certificate of {server} is self-signed (issuer = subject = {})",
                    leaf.subject
                ),
                SELF_SIGNED.to_string(),
            )
        });
        at(d);
    }
    validity(sink, ci, t, seen);
}

/// Certificates of the chain not valid at the time they were sent (the capture's clock).
fn validity(sink: &mut Sink<'_>, ci: usize, t: &TlsConn, seen: &ChainSeen) {
    let case = sink.case;
    let now = seen.ts.0.div_euclid(1_000_000_000);
    for (i, cert) in seen.chain.iter().enumerate() {
        let which = if i == 0 {
            "the certificate"
        } else {
            "a chain certificate"
        };
        let server = t.server;
        let (id, why) = match (cert.not_before, cert.not_after) {
            (_, Some(na)) if na < now => (
                "tls.certificate_expired",
                format!("expired on {}", date(na)),
            ),
            (Some(nb), _) if nb > now => (
                "tls.certificate_not_yet_valid",
                format!("is not valid before {}", date(nb)),
            ),
            _ => continue,
        };
        let d = sink.entry(id, cert.subject.clone(), || {
            (
                format!("{which} of {server} ({}) {why}; the capture was taken on {}", cert.subject, date(now)),
                "Renew the Expressway-E server certificate (with the join URL as SAN) so that it is valid at the time of the call, and check the clock (NTP) of the Expressway-E and of the guest's computer.".to_string(),
            )
        });
        d.count += 1;
        d.frame(case, ci, seen.frame, seen.ts.0);
    }
}

/// The client's fatal alert rejecting the server's certificate (TLS 1.2: in clear).
fn server_cert_rejected(sink: &mut Sink<'_>, ci: usize, t: &TlsConn) {
    let case = sink.case;
    let Some(a) = t.client_alert.filter(|a| a.level == 2) else {
        return;
    };
    let Some(name) = cert_alert(a.description) else {
        return;
    };
    let server = t.server;
    let d = sink.entry("tls.certificate_rejected", server_key(t), || {
        (
            format!(
                "the client {} rejected the certificate of {server}: fatal alert {name} ({})",
                t.client.ip(),
                a.description
            ),
            REJECTED.to_string(),
        )
    });
    d.count += 1;
    if let Some(s) = &t.server_certs {
        d.frame(case, ci, s.frame, s.ts.0);
    }
    d.frame(case, ci, a.frame, a.ts.0);
}

/// The server's fatal alert after it asked for the client's certificate: the web bridge does
/// not trust the call bridge.
fn client_cert_rejected(sink: &mut Sink<'_>, ci: usize, t: &TlsConn) {
    let case = sink.case;
    let Some(a) = t.server_alert.filter(|a| a.level == 2) else {
        return;
    };
    let (Some(name), true) = (cert_alert(a.description), t.cert_requested) else {
        return;
    };
    let (server, client) = (t.server, t.client.ip());
    let d = sink.entry("tls.client_certificate_rejected", server_key(t), || {
        (
            format!("{server} asked {client} for its certificate and rejected it: fatal alert {name} ({})", a.description),
            CLIENT_REJECTED.to_string(),
        )
    });
    d.count += 1;
    if let Some(s) = &t.client_certs {
        d.frame(case, ci, s.frame, s.ts.0);
    }
    d.frame(case, ci, a.frame, a.ts.0);
}

fn hidden(sink: &mut Sink<'_>, ci: usize, t: &TlsConn) {
    let case = sink.case;
    let server = t.server;
    let sni = t.sni().unwrap_or("none").to_string();
    let d = sink.entry("tls.certificate_hidden", server_key(t), || {
        (
            format!("TLS 1.3 to {server} (SNI {sni}): the certificate and the client's verdict on it are encrypted; in clear are the SNI, ALPN, the version and the amount of data ({} records to the server, {} back)", t.to_server.records, t.to_client.records),
            HIDDEN.to_string(),
        )
    });
    d.count += 1;
    if let Some(f) = t.server_hello_frame {
        d.frame(case, ci, f, t.ts.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(1_700_000_000), "2023-11-14");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(cert_alert(48), Some("unknown_ca"));
        assert_eq!(cert_alert(0), None);
    }
}
