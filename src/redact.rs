//! Pseudonyms for what identifies a customer in a case: IP addresses, TURN usernames, realms,
//! host names and the directories of file paths. One [`Redactor`] per case: the same original
//! always gets the same pseudonym, in the report and in the export alike, so a reader can
//! still follow an address from finding to packet.
//!
//! Addresses keep their class so the diagnosis still reads right: a private IPv4 address
//! becomes another private one in 10.0.0.0/8, a link-local one stays in 169.254.0.0/16, a
//! public one goes to the documentation ranges (198.51.100.0/24, then 203.0.113.0/24, then
//! 192.0.2.0/24, then the benchmarking 198.18.0.0/15); IPv6 public addresses go to
//! 2001:db8::/32, unique-local to fd00::/8, link-local to fe80::/10. Loopback, unspecified,
//! broadcast and multicast addresses say nothing about the customer and are kept; so are
//! ports. Usernames become `user-N` (a TURN REST username `EXPIRY:NAME` keeps its expiry:
//! `EXPIRY:user-N`), realms `realm-N`, host names `host-N.example`.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

/// Candidates tried for one address's pseudonym: each try skips one pseudonym already given
/// (or equal to the address), so this bounds a walk that in practice takes one or two.
const MAX_PSEUDONYM_TRIES: usize = 1 << 16;

/// Top-level domains recognised in free text as ending a host name (with every two-letter
/// country code but those below). Dotted words that end otherwise (finding ids such as
/// `relay.unreachable`, file names such as `client.pcap`) are left alone.
const GENERIC_TLDS: &[&str] = &[
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "local",
    "lan",
    "internal",
    "corp",
    "home",
    "intranet",
    "localdomain",
    "cloud",
    "online",
    "site",
    "tech",
    "app",
    "dev",
    "cisco",
    "webex",
];
/// Two-letter endings that in a report are file extensions far more often than countries.
const NOT_COUNTRY_TLDS: &[&str] = &["md", "sh", "rs", "py", "js", "pl", "ps", "gz", "db"];

/// Consistent pseudonyms for one case; see the module documentation.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    addresses: HashMap<IpAddr, IpAddr>,
    /// Pseudonyms given (and addresses kept), so a new pseudonym is never one of them.
    given: HashSet<IpAddr>,
    /// Lower-cased original -> pseudonym, for usernames, realms and host names alike (a name
    /// first seen as a realm stays `realm-N` where it shows up as a host name).
    names: HashMap<String, String>,
    macs: HashMap<[u8; 6], [u8; 6]>,
    /// File labels seen (original, redacted), longest first: free text quoting a path gets
    /// the redacted label.
    files: Vec<(String, String)>,
    counts: Counts,
}

/// Pseudonyms handed out so far, per kind.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    private_v4: u32,
    link_local_v4: u32,
    public_v4: u32,
    public_v6: u32,
    unique_local_v6: u32,
    link_local_v6: u32,
    users: u32,
    realms: u32,
    hosts: u32,
    macs: u32,
}

impl Redactor {
    /// A redactor with no pseudonyms yet.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// The pseudonym of an IP address (the address itself for loopback, unspecified,
    /// broadcast and multicast).
    pub fn ip(&mut self, ip: IpAddr) -> IpAddr {
        if let Some(p) = self.addresses.get(&ip) {
            return *p;
        }
        let pseudonym = match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => match self.ip(IpAddr::V4(v4)) {
                    IpAddr::V4(p) => IpAddr::V6(p.to_ipv6_mapped()),
                    IpAddr::V6(p) => IpAddr::V6(p),
                },
                None => self.fresh(ip),
            },
            IpAddr::V4(_) => self.fresh(ip),
        };
        self.addresses.insert(ip, pseudonym);
        self.given.insert(pseudonym);
        pseudonym
    }

    /// A pseudonym for an address not seen before: never the address itself (an original
    /// that is already in a documentation range still changes) and never one given to
    /// another address, so no two originals share one.
    fn fresh(&mut self, ip: IpAddr) -> IpAddr {
        for _ in 0..MAX_PSEUDONYM_TRIES {
            let candidate = match ip {
                IpAddr::V4(v4) => self.new_v4(v4).map(IpAddr::V4),
                IpAddr::V6(v6) => self.new_v6(v6).map(IpAddr::V6),
            };
            let Some(candidate) = candidate else {
                return ip;
            };
            if candidate != ip && !self.given.contains(&candidate) {
                return candidate;
            }
        }
        ip
    }

    /// An address with its pseudonym IP and the same port.
    pub fn socket(&mut self, addr: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.ip(addr.ip()), addr.port())
    }

    fn new_v4(&mut self, v4: Ipv4Addr) -> Option<Ipv4Addr> {
        if v4.is_loopback() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() {
            return None;
        }
        let o = v4.octets();
        let shared = o[0] == 100 && (o[1] & 0xc0) == 64;
        if v4.is_private() || shared {
            self.counts.private_v4 += 1;
            let n = self.counts.private_v4.to_be_bytes();
            return Some(Ipv4Addr::new(10, n[1], n[2], n[3]));
        }
        if v4.is_link_local() {
            self.counts.link_local_v4 += 1;
            let n = self.counts.link_local_v4 % 65_024 + 256;
            return Some(Ipv4Addr::new(169, 254, (n >> 8) as u8, n as u8));
        }
        self.counts.public_v4 += 1;
        Some(documentation_v4(self.counts.public_v4))
    }

    fn new_v6(&mut self, v6: Ipv6Addr) -> Option<Ipv6Addr> {
        if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() {
            return None;
        }
        let first = v6.segments()[0];
        let (prefix, count) = if first & 0xffc0 == 0xfe80 {
            (0xfe80, &mut self.counts.link_local_v6)
        } else if first & 0xfe00 == 0xfc00 {
            (0xfd00, &mut self.counts.unique_local_v6)
        } else {
            (0x2001, &mut self.counts.public_v6)
        };
        *count += 1;
        let n = *count;
        let second = if prefix == 0x2001 { 0x0db8 } else { 0 };
        Some(Ipv6Addr::new(
            prefix,
            second,
            0,
            0,
            0,
            0,
            (n >> 16) as u16,
            n as u16,
        ))
    }

    /// The pseudonym of a TURN or ICE username: `user-N`; a TURN REST username
    /// `EXPIRY:NAME` keeps its expiry, `EXPIRY:user-N`.
    pub fn username(&mut self, user: &str) -> String {
        if let Some((expiry, name)) = user.split_once(':') {
            if !expiry.is_empty() && expiry.bytes().all(|b| b.is_ascii_digit()) {
                return format!("{expiry}:{}", self.username(name));
            }
        }
        self.named(user, |c| {
            c.users += 1;
            format!("user-{}", c.users)
        })
    }

    /// The pseudonym of a realm: `realm-N`.
    pub fn realm(&mut self, realm: &str) -> String {
        self.named(realm, |c| {
            c.realms += 1;
            format!("realm-{}", c.realms)
        })
    }

    /// The pseudonym of a host name (DNS name, TLS SNI, certificate name): `host-N.example`.
    pub fn host(&mut self, host: &str) -> String {
        self.named(host, |c| {
            c.hosts += 1;
            format!("host-{}.example", c.hosts)
        })
    }

    fn named(&mut self, original: &str, make: impl FnOnce(&mut Counts) -> String) -> String {
        if original.is_empty() {
            return String::new();
        }
        let key = original.to_ascii_lowercase();
        if let Some(p) = self.names.get(&key) {
            return p.clone();
        }
        let p = make(&mut self.counts);
        self.names.insert(key, p.clone());
        p
    }

    /// The pseudonym of an Ethernet MAC address: locally administered `02:00:00:…:N`
    /// (group addresses, broadcast among them, are kept).
    pub fn mac(&mut self, mac: [u8; 6]) -> [u8; 6] {
        if mac[0] & 1 == 1 {
            return mac;
        }
        if let Some(p) = self.macs.get(&mac) {
            return *p;
        }
        self.counts.macs += 1;
        let n = self.counts.macs.to_be_bytes();
        let p = [2, 0, n[0], n[1], n[2], n[3]];
        self.macs.insert(mac, p);
        p
    }

    /// A capture or document name (a path, or `bundle!member`): the directories of the path
    /// are dropped (they name people and customers), the file's base name is kept so the
    /// engineer holding the originals finds the frame; host names known to the redactor are
    /// replaced in it.
    pub fn file_name(&mut self, label: &str) -> String {
        let (outer, member) = match label.split_once('!') {
            Some((outer, member)) => (outer, Some(member)),
            None => (label, None),
        };
        let base = outer.rsplit(['/', '\\']).next().unwrap_or(outer);
        let joined = match member {
            Some(m) => format!("{base}!{m}"),
            None => base.to_string(),
        };
        let redacted = self.known_names_in(&joined);
        if !self.files.iter().any(|(original, _)| original == label) {
            self.files.push((label.to_string(), redacted.clone()));
            self.files
                .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        }
        redacted
    }

    /// Replace the host names, realms and usernames already known that occur in `s` (inside
    /// longer words too: file names glue them to dates and numbers).
    fn known_names_in(&self, s: &str) -> String {
        let mut known: Vec<(&String, &String)> =
            self.names.iter().filter(|(k, _)| k.len() >= 4).collect();
        known.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
        let mut out = s.to_string();
        for (original, pseudonym) in known {
            out = replace_ignoring_case(&out, original, pseudonym);
        }
        out
    }

    /// Free text (a finding's summary, a log line): file labels already seen by
    /// [`Redactor::file_name`] get their redacted label, IP addresses (with or without a
    /// port), names already known (usernames, realms, hosts) and words that look like host names
    /// get their pseudonyms; the rest is kept.
    pub fn text(&mut self, s: &str) -> String {
        let mut quoted_files = s.to_string();
        for (original, redacted) in &self.files {
            if original != redacted && quoted_files.contains(original.as_str()) {
                quoted_files = quoted_files.replace(original.as_str(), redacted);
            }
        }
        let mut out = String::with_capacity(s.len());
        let mut word = String::new();
        for c in quoted_files.chars() {
            if is_word_char(c) {
                word.push(c);
            } else {
                self.flush_word(&mut word, &mut out);
                out.push(c);
            }
        }
        self.flush_word(&mut word, &mut out);
        out
    }

    fn flush_word(&mut self, word: &mut String, out: &mut String) {
        if !word.is_empty() {
            let trimmed = word.trim_end_matches(['.', ':', '-']);
            let tail = word.get(trimmed.len()..).unwrap_or_default().to_string();
            let redacted = self.word(trimmed);
            out.push_str(&redacted);
            out.push_str(&tail);
            word.clear();
        }
    }

    /// One word of free text.
    fn word(&mut self, w: &str) -> String {
        if let Some(p) = self.names.get(&w.to_ascii_lowercase()) {
            return p.clone();
        }
        if let Ok(ip) = w.parse::<IpAddr>() {
            return self.ip(ip).to_string();
        }
        if let Ok(sa) = w.parse::<SocketAddrV4>() {
            return self.socket(SocketAddr::V4(sa)).to_string();
        }
        if looks_like_host(w) {
            return self.host(w);
        }
        for sep in ['@', ':'] {
            if w.contains(sep) {
                let parts: Vec<String> = w.split(sep).map(|p| self.word(p)).collect();
                return parts.join(&sep.to_string());
            }
        }
        w.to_string()
    }
}

/// The `n`th (from 1) public IPv4 pseudonym: 198.51.100.1-254, 203.0.113.1-254,
/// 192.0.2.1-254, then 198.18.0.0/15.
fn documentation_v4(n: u32) -> Ipv4Addr {
    const PER_NET: u32 = 254;
    let nets = [[198, 51, 100], [203, 0, 113], [192, 0, 2]];
    let i = (n - 1) / PER_NET;
    if let Some(net) = nets.get(i as usize) {
        let host = (n - 1) % PER_NET + 1;
        return Ipv4Addr::new(net[0], net[1], net[2], host as u8);
    }
    let rest = (n - 1 - PER_NET * 3) % (1 << 17);
    Ipv4Addr::new(198, 18 + (rest >> 16) as u8, (rest >> 8) as u8, rest as u8)
}

/// Characters of a word in free text: enough to hold a host name, an address with a port, a
/// `user@domain` and a TURN REST username.
fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_' | '@' | '%')
}

/// A dotted name ending in a known top-level domain, each label letters, digits, `-`, `_`.
fn looks_like_host(w: &str) -> bool {
    let labels: Vec<&str> = w.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return false;
    }
    let label_ok = |l: &&str| {
        l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !labels.iter().all(label_ok) {
        return false;
    }
    let tld = labels
        .last()
        .map(|t| t.to_ascii_lowercase())
        .unwrap_or_default();
    let country = tld.len() == 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && !NOT_COUNTRY_TLDS.contains(&tld.as_str());
    country || GENERIC_TLDS.contains(&tld.as_str())
}

/// `s` with every occurrence of `lower_needle` (lower case) replaced, matching ASCII case
/// insensitively.
fn replace_ignoring_case(s: &str, lower_needle: &str, with: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    while let Some(found) = lower.get(at..).and_then(|rest| rest.find(lower_needle)) {
        let start = at + found;
        out.push_str(s.get(at..start).unwrap_or_default());
        out.push_str(with);
        at = start + lower_needle.len();
    }
    out.push_str(s.get(at..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_keep_their_class_and_their_pseudonym() {
        let mut r = Redactor::new();
        let private = r.ip(ip("192.168.1.20"));
        assert_eq!(private, ip("10.0.0.1"));
        assert_eq!(r.ip(ip("172.16.5.5")), ip("10.0.0.2"));
        let public = r.ip(ip("8.8.8.8"));
        assert_eq!(public, ip("198.51.100.1"));
        assert_eq!(r.ip(ip("8.8.8.8")), public, "same address, same pseudonym");
        assert_eq!(r.ip(ip("192.168.1.20")), private);
        assert_eq!(r.ip(ip("127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(r.ip(ip("2a00:1450::1")), ip("2001:db8::1"));
        assert_eq!(r.ip(ip("fe80::abcd")), ip("fe80::1"));
        assert_eq!(r.ip(ip("fd12::9")), ip("fd00::1"));
        assert_eq!(r.ip(ip("::ffff:8.8.8.8")), ip("::ffff:198.51.100.1"));
        assert_eq!(r.ip(ip("::1")), ip("::1"));
        let a: SocketAddr = "8.8.8.8:3478".parse().unwrap();
        assert_eq!(r.socket(a).to_string(), "198.51.100.1:3478");
    }

    #[test]
    fn no_address_keeps_itself_or_shares_a_pseudonym() {
        let mut r = Redactor::new();
        // Lab captures use documentation addresses as public ones.
        let a = r.ip(ip("198.51.100.1"));
        assert_ne!(a, ip("198.51.100.1"));
        let b = r.ip(ip("198.51.100.2"));
        assert_ne!(b, ip("198.51.100.2"));
        assert_ne!(a, b);
        assert_eq!(r.ip(ip("10.0.0.1")), ip("10.0.0.2"));
        assert_eq!(r.ip(ip("10.0.0.3")), ip("10.0.0.4"));
        assert_eq!(
            r.ip(ip("10.0.0.2")),
            ip("10.0.0.5"),
            "10.0.0.2 was given already"
        );
    }

    #[test]
    fn public_pseudonyms_run_through_the_documentation_ranges() {
        assert_eq!(documentation_v4(254), ip("198.51.100.254"));
        assert_eq!(documentation_v4(255), ip("203.0.113.1"));
        assert_eq!(documentation_v4(509), ip("192.0.2.1"));
        assert_eq!(documentation_v4(763), ip("198.18.0.0"));
    }

    #[test]
    fn names_get_consistent_pseudonyms() {
        let mut r = Redactor::new();
        assert_eq!(r.username("alice"), "user-1");
        assert_eq!(r.username("1700000000:bob"), "1700000000:user-2");
        assert_eq!(r.username("ALICE"), "user-1");
        assert_eq!(r.realm("corp.acme.com"), "realm-1");
        assert_eq!(r.host("turn.acme.com"), "host-1.example");
        assert_eq!(r.host("turn.acme.com"), "host-1.example");
    }

    #[test]
    fn free_text_loses_addresses_and_names_but_keeps_the_rest() {
        let mut r = Redactor::new();
        r.username("alice");
        r.realm("acme.com");
        let text = "relay.unreachable: alice at 8.8.8.8:3478 (realm acme.com) asked \
                    turn.acme.com via [2a00:1450::1]:443 in client.pcap frame 12.";
        let out = r.text(text);
        for original in ["alice", "8.8.8.8", "acme.com", "2a00:1450", "turn.acme"] {
            assert!(!out.contains(original), "{original} left in {out}");
        }
        assert_eq!(
            out,
            "relay.unreachable: user-1 at 198.51.100.1:3478 (realm realm-1) asked \
             host-1.example via [2001:db8::1]:443 in client.pcap frame 12."
        );
    }

    #[test]
    fn file_names_keep_their_base_name_only() {
        let mut r = Redactor::new();
        r.host("expe1.acme.com");
        assert_eq!(r.file_name("/home/alice/case 7/client.pcap"), "client.pcap");
        assert_eq!(
            r.text("slower than in /home/alice/case 7/client.pcap: nearer"),
            "slower than in client.pcap: nearer"
        );
        assert_eq!(
            r.file_name("/cases/acme/b.tgz!tcpdump/eth0_tcpdump00_expe1.acme.com_x.pcap"),
            "b.tgz!tcpdump/eth0_tcpdump00_host-1.example_x.pcap"
        );
    }

    #[test]
    fn macs_become_locally_administered() {
        let mut r = Redactor::new();
        let a = r.mac([0x00, 0x50, 0x56, 1, 2, 3]);
        assert_eq!(a, [2, 0, 0, 0, 0, 1]);
        assert_eq!(r.mac([0x00, 0x50, 0x56, 1, 2, 3]), a);
        assert_eq!(r.mac([0xff; 6]), [0xff; 6]);
    }
}
