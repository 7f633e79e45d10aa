//! X.509 certificates seen in a TLS Certificate message, summarised to what the findings need
//! (names, validity, whether the certificate issued itself). The DER bytes are never kept.
//!
//! Parsing uses `x509-cert` (RustCrypto): strict DER, which is what CAs and the Expressway
//! produce; a certificate it cannot read is reported as such, with the reason.

use std::net::IpAddr;

use x509_cert::der::Decode;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::name::Name;
use x509_cert::Certificate;

/// Longest subject / issuer text kept (characters).
const MAX_NAME_CHARS: usize = 256;
/// SAN entries kept per certificate (the rest are counted).
const MAX_SAN: usize = 64;
/// Longest DNS name kept (RFC 1035 limit).
const MAX_DNS_NAME: usize = 253;

/// What a certificate says, as far as reachability and trust findings go.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct CertInfo {
    /// Subject distinguished name (RFC 4514 text, cut at 256 characters).
    pub subject: String,
    /// The subject's common name, when it has one.
    pub common_name: Option<String>,
    /// Issuer distinguished name (RFC 4514 text, cut at 256 characters).
    pub issuer: String,
    /// Issuer and subject are the same name: the certificate signed itself (or claims to).
    pub self_issued: bool,
    /// subjectAltName dNSName entries, lower case.
    pub san_dns: Vec<String>,
    /// subjectAltName iPAddress entries.
    pub san_ip: Vec<IpAddr>,
    /// SAN entries beyond the first 64, counted but not kept.
    pub san_dropped: usize,
    /// notBefore, seconds since the Unix epoch (None when unreadable or out of range).
    pub not_before: Option<i64>,
    /// notAfter, seconds since the Unix epoch (None when unreadable or out of range).
    pub not_after: Option<i64>,
    /// Why the certificate could not be read (the other fields are then empty).
    pub error: Option<String>,
}

impl CertInfo {
    /// True if the certificate names `host` (a DNS name, compared without case, `*.` wildcards
    /// matching one label, or an IP address), from the SAN, or from the common name when the
    /// certificate has no SAN at all (as browsers did before requiring SANs).
    pub fn names(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.san_ip.contains(&ip);
        }
        if self.san_dns.is_empty() && self.san_ip.is_empty() {
            return self
                .common_name
                .as_deref()
                .is_some_and(|cn| dns_match(&cn.to_ascii_lowercase(), &host));
        }
        self.san_dns.iter().any(|n| dns_match(n, &host))
    }
}

fn dns_match(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.');
    if pattern == host {
        return true;
    }
    // "*.example.com" matches "a.example.com", not "example.com" nor "a.b.example.com".
    match (pattern.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((first, rest))) => !first.is_empty() && rest == suffix,
        _ => false,
    }
}

fn cut(mut s: String, max: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
    s
}

fn directory_string(d: &DirectoryString) -> Option<String> {
    match d {
        DirectoryString::PrintableString(s) => Some(s.as_str().to_string()),
        DirectoryString::Utf8String(s) => Some(s.clone()),
        DirectoryString::TeletexString(s) => Some(s.as_str().to_string()),
        DirectoryString::BmpString(s) => Some(s.to_string()),
    }
}

fn common_name(n: &Name) -> Option<String> {
    let cn = n.common_name().ok()??;
    directory_string(&cn).map(|s| cut(s, MAX_NAME_CHARS))
}

fn san(cert: &Certificate, info: &mut CertInfo) {
    let Ok(Some((_, SubjectAltName(names)))) =
        cert.tbs_certificate().get_extension::<SubjectAltName>()
    else {
        return;
    };
    for n in names {
        if info.san_dns.len() + info.san_ip.len() >= MAX_SAN {
            info.san_dropped += 1;
            continue;
        }
        match n {
            GeneralName::DnsName(d) => {
                let s = d.as_str();
                if s.len() <= MAX_DNS_NAME {
                    info.san_dns.push(s.to_ascii_lowercase());
                } else {
                    info.san_dropped += 1;
                }
            }
            GeneralName::IpAddress(o) => {
                let b = o.as_bytes();
                let ip = <[u8; 4]>::try_from(b)
                    .map(IpAddr::from)
                    .or_else(|_| <[u8; 16]>::try_from(b).map(IpAddr::from));
                if let Ok(ip) = ip {
                    info.san_ip.push(ip);
                }
            }
            _ => {}
        }
    }
}

/// Summarise one DER certificate.
pub(crate) fn summarise(der: &[u8]) -> CertInfo {
    let cert = match Certificate::from_der(der) {
        Ok(c) => c,
        Err(e) => {
            return CertInfo {
                error: Some(cut(e.to_string(), MAX_NAME_CHARS)),
                ..CertInfo::default()
            }
        }
    };
    let tbs = cert.tbs_certificate();
    let validity = tbs.validity();
    let secs = |t: x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).ok();
    let mut info = CertInfo {
        subject: cut(tbs.subject().to_string(), MAX_NAME_CHARS),
        common_name: common_name(tbs.subject()),
        issuer: cut(tbs.issuer().to_string(), MAX_NAME_CHARS),
        self_issued: tbs.subject() == tbs.issuer(),
        not_before: secs(validity.not_before),
        not_after: secs(validity.not_after),
        ..CertInfo::default()
    };
    san(&cert, &mut info);
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(cn: &str, san: &[&str]) -> CertInfo {
        CertInfo {
            common_name: Some(cn.into()),
            san_dns: san.iter().map(|s| s.to_string()).collect(),
            ..CertInfo::default()
        }
    }

    #[test]
    fn name_matching() {
        let c = info("vcse.example.com", &["vcse.example.com", "*.example.org"]);
        assert!(c.names("VCSE.example.com."));
        assert!(c.names("join.example.org"));
        assert!(!c.names("example.org"));
        assert!(!c.names("a.join.example.org"));
        assert!(!c.names("join.example.com"));
        // The CN counts only when there is no SAN at all.
        assert!(info("join.example.com", &[]).names("join.example.com"));
        assert!(!info("join.example.com", &["other.example.com"]).names("join.example.com"));
    }

    #[test]
    fn lab_certificates() {
        let ok = summarise(include_bytes!("../../fixtures/web/certs/join-ok.der"));
        assert_eq!(ok.error, None);
        assert_eq!(ok.subject, "CN=join.example.com");
        assert_eq!(ok.issuer, "CN=Lab Root CA");
        assert_eq!(ok.common_name.as_deref(), Some("join.example.com"));
        assert_eq!(ok.san_dns, ["join.example.com", "vcse.example.com"]);
        assert!(!ok.self_issued && ok.names("join.example.com"));
        // 2020-01-01 and 2040-01-01, 00:00 UTC.
        assert_eq!(
            (ok.not_before, ok.not_after),
            (Some(1_577_836_800), Some(2_208_988_800))
        );
        let me = summarise(include_bytes!(
            "../../fixtures/web/certs/join-selfsigned.der"
        ));
        assert!(me.self_issued);
        let nosan = summarise(include_bytes!("../../fixtures/web/certs/join-nosan.der"));
        assert!(!nosan.names("join.example.com") && nosan.names("vcse.example.com"));
        // Every cut of a real certificate is an error, never a panic.
        let der = include_bytes!("../../fixtures/web/certs/ca.der");
        for n in 0..der.len() {
            assert!(summarise(&der[..n]).error.is_some());
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + 0x30) as u8).collect();
            assert!(summarise(&junk).error.is_some());
        }
    }
}
