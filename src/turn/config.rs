//! Server configuration: profile, realm, credentials, relay addresses and ports, quotas, peer
//! policy, lifetimes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use crate::wire::Credential;

/// Which server the core behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// RFC 8656 / RFC 8489: integrity failures answered with 401.
    #[default]
    Rfc,
    /// Cisco Expressway-E: realm TANDBERG, integrity failures answered with 431, relays on
    /// 24000-29999, a licence cap on concurrent relays.
    Expressway,
}

impl Profile {
    /// `rfc` or `expressway`, as `--profile` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Rfc => "rfc",
            Profile::Expressway => "expressway",
        }
    }

    /// The error code for a MESSAGE-INTEGRITY that does not verify.
    pub fn integrity_failure_code(self) -> u16 {
        match self {
            Profile::Rfc => 401,
            Profile::Expressway => 431,
        }
    }

    /// The realm a server of this profile uses when none is configured.
    pub fn default_realm(self) -> &'static str {
        match self {
            Profile::Rfc => "turnscope",
            Profile::Expressway => "TANDBERG",
        }
    }

    /// The relay port range of this profile.
    pub fn default_relay_ports(self) -> RangeInclusive<u16> {
        match self {
            Profile::Rfc => 49152..=65535,
            Profile::Expressway => 24000..=29999,
        }
    }

    /// The concurrent-allocation cap (a licence limit on Expressway).
    pub fn default_max_allocations(self) -> Option<u32> {
        match self {
            Profile::Rfc => None,
            Profile::Expressway => Some(1800),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "rfc" => Ok(Profile::Rfc),
            "expressway" => Ok(Profile::Expressway),
            other => Err(format!("unknown profile {other:?} (rfc or expressway)")),
        }
    }
}

/// An IP prefix such as `10.0.0.0/8` or `fc00::/7`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network's first address.
    pub addr: IpAddr,
    /// The prefix length in bits (0-32 for IPv4, 0-128 for IPv6).
    pub prefix: u8,
}

impl Cidr {
    /// The IPv4 prefix `a.b.c.d/prefix`.
    pub const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
        Cidr {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    /// `segments/prefix` as a constant (the policy tables below).
    pub const fn v6(segments: [u16; 8], prefix: u8) -> Cidr {
        let [a, b, c, d, e, f, g, h] = segments;
        Cidr {
            addr: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    /// True when `ip`, or the IPv4 address an IPv6 `ip` embeds (see [`embedded_ipv4`]), is in
    /// the prefix: `10.0.0.0/8` holds `::ffff:10.1.2.3` and `2002:a01:203::`, and `2002::/16`
    /// holds every 6to4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.contains_exact(ip) || self.contains_exact(canonical(ip))
    }

    /// Membership without looking through IPv6 forms of IPv4 addresses.
    fn contains_exact(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let p = u32::from(self.prefix.min(32));
                let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let p = u32::from(self.prefix.min(128));
                let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = ip
            .parse()
            .map_err(|_| format!("{s:?} is not an IP address or prefix"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: prefix length must be 0-{max}"))?,
            None => max,
        };
        Ok(Cidr { addr, prefix })
    }
}

/// How an IPv6 address carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d` (RFC 4291 IPv4-mapped).
    Mapped,
    /// `::a.b.c.d` (RFC 4291 IPv4-compatible, deprecated; `::` and `::1` excluded).
    Compatible,
    /// `::ffff:0:a.b.c.d` (RFC 2765 IPv4-translated).
    Translated,
    /// `64:ff9b::a.b.c.d` (RFC 6052 NAT64 well-known prefix).
    Nat64,
    /// `2002:AABB:CCDD::/48` (RFC 3056 6to4: the site's IPv4 address).
    SixToFour,
    /// `2001:0:SSSS:SSSS:flags:port:CCCC:CCCC` (RFC 4380 Teredo: the client's mapped IPv4
    /// address, stored inverted in the last 32 bits).
    Teredo,
}

/// The IPv4 address an IPv6 address stands for, and how it is embedded, for every form that
/// reaches an IPv4 host (the peer policy judges those by the IPv4 address).
pub fn embedded_ipv4(v6: Ipv6Addr) -> Option<(Ipv4Addr, Embedding)> {
    let bits = u128::from(v6);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    let top96 = bits >> 32;
    match top96 {
        0xffff => return Some((low32, Embedding::Mapped)),
        0xffff_0000 => return Some((low32, Embedding::Translated)),
        0x0064_ff9b_0000_0000_0000_0000 => return Some((low32, Embedding::Nat64)),
        // `::` and `::1` are IPv6's own unspecified and loopback addresses.
        0 if bits > 1 => return Some((low32, Embedding::Compatible)),
        _ => {}
    }
    match (bits >> 112) as u16 {
        0x2002 => Some((
            Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32),
            Embedding::SixToFour,
        )),
        0x2001 if (bits >> 96) as u16 == 0 => Some((
            Ipv4Addr::from(!((bits & 0xffff_ffff) as u32)),
            Embedding::Teredo,
        )),
        _ => None,
    }
}

/// The address a peer policy judges: the embedded IPv4 address of every IPv6 form that
/// carries one ([`embedded_ipv4`]), the address itself otherwise.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some((v4, _)) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// What a special-purpose block is, for the peer policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Loopback,
    /// Reachable inside some network only: `--allow-private-peers` opens it.
    Private,
    Multicast,
    /// Never a peer unless `--allow-peer` names it.
    Reserved(&'static str),
}

struct Special {
    net: Cidr,
    kind: Kind,
}

const fn special(net: Cidr, kind: Kind) -> Special {
    Special { net, kind }
}

/// IANA IPv4 Special-Purpose Address Registry, as the peer policy treats it (docs/serve.md
/// gives the reasons). The documentation ranges (192.0.2.0/24, 198.51.100.0/24,
/// 203.0.113.0/24) are left allowed: nothing routes them, and labs (ours included) use them.
/// Globally reachable anycast blocks (AS112, AMT) are ordinary peers. 0.0.0.0 and
/// 255.255.255.255 are judged before the table.
const SPECIAL_V4: &[Special] = &[
    special(
        Cidr::v4(0, 0, 0, 0, 8),
        Kind::Reserved("0.0.0.0/8 (this network)"),
    ),
    special(Cidr::v4(10, 0, 0, 0, 8), Kind::Private),
    special(Cidr::v4(100, 64, 0, 0, 10), Kind::Private),
    special(Cidr::v4(127, 0, 0, 0, 8), Kind::Loopback),
    special(Cidr::v4(169, 254, 0, 0, 16), Kind::Private),
    special(Cidr::v4(172, 16, 0, 0, 12), Kind::Private),
    special(
        Cidr::v4(192, 0, 0, 0, 24),
        Kind::Reserved("192.0.0.0/24 (IETF protocol assignments)"),
    ),
    special(
        Cidr::v4(192, 88, 99, 0, 24),
        Kind::Reserved("192.88.99.0/24 (deprecated 6to4 relay anycast)"),
    ),
    special(Cidr::v4(192, 168, 0, 0, 16), Kind::Private),
    special(Cidr::v4(198, 18, 0, 0, 15), Kind::Private),
    special(Cidr::v4(224, 0, 0, 0, 4), Kind::Multicast),
    special(
        Cidr::v4(240, 0, 0, 0, 4),
        Kind::Reserved("240.0.0.0/4 (reserved)"),
    ),
];

/// IANA IPv6 Special-Purpose Address Registry and the address architecture, for addresses
/// that embed no IPv4 address. The documentation ranges (2001:db8::/32, 3fff::/20) are left
/// allowed, as in IPv4. Anything outside 2000::/3 that no row names is unassigned.
const SPECIAL_V6: &[Special] = &[
    special(
        Cidr::v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
        Kind::Private,
    ),
    special(
        Cidr::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        Kind::Reserved("100::/64 (discard-only)"),
    ),
    special(
        Cidr::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
        Kind::Reserved("2001::/23 (IETF protocol assignments)"),
    ),
    special(Cidr::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), Kind::Private),
    special(Cidr::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), Kind::Private),
    // Site-local, deprecated by RFC 3879 but still routed inside some sites.
    special(Cidr::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), Kind::Private),
    special(Cidr::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), Kind::Multicast),
];

const GLOBAL_UNICAST_V6: Cidr = Cidr::v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Why the peer policy refuses a peer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerDenial {
    /// 127.0.0.0/8 or ::1 (unless [`PeerPolicy::allow_loopback`]).
    Loopback,
    /// A private-network address (unless [`PeerPolicy::allow_private`]).
    Private,
    /// A multicast address (unless [`PeerPolicy::allow_multicast`]).
    Multicast,
    /// 0.0.0.0 or ::.
    Unspecified,
    /// 255.255.255.255.
    Broadcast,
    /// A special-purpose block that is never a peer (named with its purpose).
    Reserved(&'static str),
    /// A prefix the policy denies by configuration.
    Listed(Cidr),
}

impl fmt::Display for PeerDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerDenial::Loopback => f.write_str("loopback peers are denied"),
            PeerDenial::Private => f.write_str("private-network peers are denied"),
            PeerDenial::Multicast => f.write_str("multicast peers are denied"),
            PeerDenial::Unspecified => f.write_str("the unspecified address is not a peer"),
            PeerDenial::Broadcast => f.write_str("broadcast peers are denied"),
            PeerDenial::Reserved(block) => write!(f, "peers in {block} are denied"),
            PeerDenial::Listed(c) => write!(f, "peers in {c} are denied"),
        }
    }
}

/// Which peer addresses CreatePermission / ChannelBind may name (403 otherwise).
///
/// IPv6 addresses that embed an IPv4 address (IPv4-mapped, -compatible, -translated, NAT64
/// 64:ff9b::/96, 6to4, Teredo: [`embedded_ipv4`]) are judged as that IPv4 address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    /// Loopback peers (127.0.0.0/8, ::1): off by default, a relay to the server itself.
    pub allow_loopback: bool,
    /// RFC 1918, RFC 6598 (CGNAT), link-local, benchmarking 198.18.0.0/15, IPv6 ULA,
    /// link-local, site-local and local-use NAT64 64:ff9b:1::/48.
    pub allow_private: bool,
    /// Multicast peers.
    pub allow_multicast: bool,
    /// Explicitly allowed prefixes: win over every rule below them.
    pub allow: Vec<Cidr>,
    /// Explicitly denied prefixes.
    pub deny: Vec<Cidr>,
}

impl Default for PeerPolicy {
    /// The `serve` default: loopback, private, multicast and reserved peers denied.
    fn default() -> Self {
        PeerPolicy {
            allow_loopback: false,
            allow_private: false,
            allow_multicast: false,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }
}

impl PeerPolicy {
    /// Everything but the unspecified, broadcast and reserved addresses.
    pub fn permissive() -> Self {
        PeerPolicy {
            allow_loopback: true,
            allow_private: true,
            allow_multicast: true,
            allow: Vec::new(),
            deny: Vec::new(),
        }
    }

    /// `Ok(())` when `ip` may be a peer, else the rule that refuses it.
    pub fn check(&self, ip: IpAddr) -> Result<(), PeerDenial> {
        if self.allow.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        if let Some(c) = self.deny.iter().find(|c| c.contains(ip)) {
            return Err(PeerDenial::Listed(*c));
        }
        match canonical(ip) {
            IpAddr::V4(v4) => self.check_v4(v4),
            IpAddr::V6(v6) => self.check_v6(v6),
        }
    }

    fn check_v4(&self, ip: Ipv4Addr) -> Result<(), PeerDenial> {
        if ip.is_unspecified() {
            return Err(PeerDenial::Unspecified);
        }
        if ip == Ipv4Addr::BROADCAST {
            return Err(PeerDenial::Broadcast);
        }
        let ip = IpAddr::V4(ip);
        match SPECIAL_V4.iter().find(|s| s.net.contains_exact(ip)) {
            Some(s) => self.judge(s.kind),
            None => Ok(()),
        }
    }

    fn check_v6(&self, ip: Ipv6Addr) -> Result<(), PeerDenial> {
        if ip.is_unspecified() {
            return Err(PeerDenial::Unspecified);
        }
        if ip.is_loopback() {
            return self.judge(Kind::Loopback);
        }
        let ip = IpAddr::V6(ip);
        match SPECIAL_V6.iter().find(|s| s.net.contains_exact(ip)) {
            Some(s) => self.judge(s.kind),
            None if GLOBAL_UNICAST_V6.contains_exact(ip) => Ok(()),
            None => Err(PeerDenial::Reserved("IPv6 outside 2000::/3 (unassigned)")),
        }
    }

    fn judge(&self, kind: Kind) -> Result<(), PeerDenial> {
        match kind {
            Kind::Loopback if !self.allow_loopback => Err(PeerDenial::Loopback),
            Kind::Private if !self.allow_private => Err(PeerDenial::Private),
            Kind::Multicast if !self.allow_multicast => Err(PeerDenial::Multicast),
            Kind::Reserved(block) => Err(PeerDenial::Reserved(block)),
            _ => Ok(()),
        }
    }
}

/// Everything the core needs to know; no sockets, no clock.
#[derive(Debug, Clone)]
pub struct Config {
    /// Which server to behave as: `rfc`, or `expressway` (431 for integrity failures, realm TANDBERG by default).
    pub profile: Profile,
    /// The REALM of challenges and of the long-term keys.
    pub realm: String,
    /// The users and their passwords (long-term credentials).
    pub credentials: Vec<Credential>,
    /// SOFTWARE on every response; `None` leaves it out.
    pub software: Option<String>,
    /// Where IPv4 relays are bound (`None`: IPv4 allocations get 440).
    pub relay_v4: Option<IpAddr>,
    /// Where IPv6 relays are bound (`None`: IPv6 allocations get 440).
    pub relay_v6: Option<IpAddr>,
    /// Ports relays are bound on (Expressway: 24000-29999).
    pub relay_ports: RangeInclusive<u16>,
    /// Concurrent allocations per username (486 beyond it).
    pub user_quota: Option<u32>,
    /// Concurrent allocations in total (508 beyond it), e.g. a relay licence of 1800.
    pub max_allocations: Option<u32>,
    /// Permissions per allocation (508 beyond it): bounds memory per client.
    pub max_permissions: u32,
    /// Channels per allocation: bounds memory per client (the number space allows 16384).
    pub max_channels: u32,
    /// Which peer addresses permissions may name.
    pub peer_policy: PeerPolicy,
    /// How long an issued NONCE stays valid (438 after).
    pub nonce_lifetime: Duration,
    /// Lifetime of an allocation when the request asks for none (RFC 8656: 10 minutes).
    pub default_lifetime: Duration,
    /// Most lifetime granted, whatever the request asks (RFC 8656: 1 hour).
    pub max_lifetime: Duration,
    /// How long a permission lasts unless refreshed (RFC 8656: 5 minutes).
    pub permission_lifetime: Duration,
    /// How long a channel binding lasts unless refreshed (RFC 8656: 10 minutes).
    pub channel_lifetime: Duration,
    /// After a channel binding expires, its number and peer stay reserved for this long.
    pub channel_quarantine: Duration,
    /// How long a port reserved by EVEN-PORT (R bit) waits for its RESERVATION-TOKEN.
    pub reservation_lifetime: Duration,
    /// Seed of the relay port choice (random in `serve`, fixed in tests).
    pub port_seed: u64,
}

impl Config {
    /// A configuration for `profile` with its defaults and no credentials.
    pub fn new(profile: Profile) -> Config {
        Config {
            profile,
            realm: profile.default_realm().to_string(),
            credentials: Vec::new(),
            software: Some(concat!("turnscope ", env!("CARGO_PKG_VERSION")).to_string()),
            relay_v4: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            relay_v6: None,
            relay_ports: profile.default_relay_ports(),
            user_quota: None,
            max_allocations: profile.default_max_allocations(),
            max_permissions: 256,
            max_channels: 256,
            peer_policy: PeerPolicy::default(),
            nonce_lifetime: Duration::from_secs(600),
            default_lifetime: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(3600),
            permission_lifetime: Duration::from_secs(300),
            channel_lifetime: Duration::from_secs(600),
            channel_quarantine: Duration::from_secs(300),
            reservation_lifetime: Duration::from_secs(30),
            port_seed: 0x7475_726e_7363_6f70,
        }
    }

    /// The per-user quota `serve` applies unless told otherwise: half of the relay capacity
    /// (the ports of the range, or the allocation cap when lower), at least 1. One username
    /// can then never take every relay, while a credential shared by many clients (a common
    /// set-up) still gets half the server. coturn has no default quota; this is stricter.
    pub fn default_user_quota(&self) -> u32 {
        let (min, max) = (*self.relay_ports.start(), *self.relay_ports.end());
        let ports = if max < min {
            0
        } else {
            u32::from(max - min) + 1
        };
        let capacity = self.max_allocations.map_or(ports, |cap| cap.min(ports));
        (capacity / 2).max(1)
    }

    /// The configuration with one more user, `user` with `password`.
    pub fn credential(mut self, user: &str, password: &str) -> Config {
        self.credentials.push(Credential::new(user, password));
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::new(Profile::Rfc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parse_and_contains() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains("10.1.2.3".parse().unwrap()));
        assert!(!c.contains("11.1.2.3".parse().unwrap()));
        assert!(c.contains("::ffff:10.9.9.9".parse().unwrap()));
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains("2001:db8::1".parse().unwrap()));
        assert!("1.2.3.4/33".parse::<Cidr>().is_err());
        assert!("x".parse::<Cidr>().is_err());
    }

    #[test]
    fn default_user_quota_is_half_the_relay_capacity() {
        let mut c = Config::new(Profile::Rfc);
        assert_eq!(c.default_user_quota(), 8192);
        c.relay_ports = 24000..=24999;
        assert_eq!(c.default_user_quota(), 500);
        c.max_allocations = Some(100);
        assert_eq!(c.default_user_quota(), 50);
        c.relay_ports = 24000..=24000;
        assert_eq!(c.default_user_quota(), 1);
        assert_eq!(Config::new(Profile::Expressway).default_user_quota(), 900);
    }

    #[test]
    fn default_policy_denies_loopback_private_multicast() {
        let p = PeerPolicy::default();
        let deny = |s: &str| p.check(s.parse().unwrap()).err();
        assert_eq!(deny("127.0.0.1"), Some(PeerDenial::Loopback));
        assert_eq!(deny("::1"), Some(PeerDenial::Loopback));
        assert_eq!(deny("::ffff:127.0.0.1"), Some(PeerDenial::Loopback));
        assert_eq!(deny("192.168.1.1"), Some(PeerDenial::Private));
        assert_eq!(deny("fd00::1"), Some(PeerDenial::Private));
        assert_eq!(deny("224.0.0.1"), Some(PeerDenial::Multicast));
        assert_eq!(deny("0.0.0.0"), Some(PeerDenial::Unspecified));
        assert_eq!(deny("203.0.113.5"), None);
        assert_eq!(deny("2001:db8::5"), None);
        let mut p = PeerPolicy::default();
        p.allow.push("10.1.0.0/16".parse().unwrap());
        p.deny.push("203.0.113.0/24".parse().unwrap());
        assert!(p.check("10.1.2.3".parse().unwrap()).is_ok());
        assert!(p.check("10.2.2.3".parse().unwrap()).is_err());
        assert!(matches!(
            p.check("203.0.113.9".parse().unwrap()),
            Err(PeerDenial::Listed(_))
        ));
    }
}

#[cfg(test)]
mod peer_policy_tests {
    use super::*;

    fn verdict(p: &PeerPolicy, s: &str) -> Result<(), PeerDenial> {
        p.check(s.parse().unwrap_or_else(|_| panic!("{s} parses")))
    }

    /// Every special-purpose block and every IPv6 form of an IPv4 address, with the default
    /// policy's verdict.
    #[test]
    fn the_default_policy_over_the_special_purpose_registries() {
        use PeerDenial::*;
        let p = PeerPolicy::default();
        let reserved = |s: &'static str| Err(Reserved(s));
        let table: &[(&str, Result<(), PeerDenial>)] = &[
            // IPv4
            ("0.0.0.0", Err(Unspecified)),
            ("0.1.2.3", reserved("0.0.0.0/8 (this network)")),
            ("0.255.255.255", reserved("0.0.0.0/8 (this network)")),
            ("10.0.0.1", Err(Private)),
            ("100.64.0.1", Err(Private)),
            ("100.127.255.254", Err(Private)),
            ("100.128.0.1", Ok(())),
            ("127.0.0.1", Err(Loopback)),
            ("127.255.255.254", Err(Loopback)),
            ("169.254.1.1", Err(Private)),
            ("172.16.0.1", Err(Private)),
            ("172.31.255.254", Err(Private)),
            ("172.32.0.1", Ok(())),
            (
                "192.0.0.1",
                reserved("192.0.0.0/24 (IETF protocol assignments)"),
            ),
            (
                "192.0.0.9",
                reserved("192.0.0.0/24 (IETF protocol assignments)"),
            ),
            (
                "192.0.0.170",
                reserved("192.0.0.0/24 (IETF protocol assignments)"),
            ),
            ("192.0.2.1", Ok(())),
            ("192.31.196.1", Ok(())),
            (
                "192.88.99.1",
                reserved("192.88.99.0/24 (deprecated 6to4 relay anycast)"),
            ),
            ("192.168.1.1", Err(Private)),
            ("198.18.0.1", Err(Private)),
            ("198.19.255.254", Err(Private)),
            ("198.20.0.1", Ok(())),
            ("198.51.100.7", Ok(())),
            ("203.0.113.5", Ok(())),
            ("224.0.0.1", Err(Multicast)),
            ("239.255.255.250", Err(Multicast)),
            ("240.0.0.1", reserved("240.0.0.0/4 (reserved)")),
            ("254.1.2.3", reserved("240.0.0.0/4 (reserved)")),
            ("255.255.255.255", Err(Broadcast)),
            ("8.8.8.8", Ok(())),
            // IPv6 proper
            ("::", Err(Unspecified)),
            ("::1", Err(Loopback)),
            ("64:ff9b:1::1", Err(Private)),
            ("64:ff9b:1:ffff::1", Err(Private)),
            ("100::1", reserved("100::/64 (discard-only)")),
            (
                "2001:2::1",
                reserved("2001::/23 (IETF protocol assignments)"),
            ),
            (
                "2001:1ff::1",
                reserved("2001::/23 (IETF protocol assignments)"),
            ),
            ("2001:200::1", Ok(())),
            ("2001:db8::5", Ok(())),
            ("2606:4700::1111", Ok(())),
            ("3fff::1", Ok(())),
            ("5f00::1", reserved("IPv6 outside 2000::/3 (unassigned)")),
            ("4000::1", reserved("IPv6 outside 2000::/3 (unassigned)")),
            ("fc00::1", Err(Private)),
            ("fd12:3456::1", Err(Private)),
            ("fe80::1", Err(Private)),
            ("fec0::1", Err(Private)),
            ("feff::1", Err(Private)),
            ("ff02::1", Err(Multicast)),
            // IPv4 carried in IPv6: judged by the IPv4 address
            ("::ffff:127.0.0.1", Err(Loopback)),
            ("::ffff:10.1.2.3", Err(Private)),
            ("::ffff:8.8.8.8", Ok(())),
            ("::127.0.0.1", Err(Loopback)),
            ("::10.0.0.1", Err(Private)),
            ("::8.8.8.8", Ok(())),
            ("::2", reserved("0.0.0.0/8 (this network)")),
            ("::ffff:0:7f00:1", Err(Loopback)),
            ("::ffff:0:192.168.0.1", Err(Private)),
            ("::ffff:0:8.8.8.8", Ok(())),
            ("64:ff9b::127.0.0.1", Err(Loopback)),
            ("64:ff9b::10.0.0.1", Err(Private)),
            ("64:ff9b::240.0.0.1", reserved("240.0.0.0/4 (reserved)")),
            ("64:ff9b::8.8.8.8", Ok(())),
            ("2002:7f00:1::1", Err(Loopback)),
            ("2002:c0a8:101::1", Err(Private)),
            ("2002:a00:1:1::1", Err(Private)),
            ("2002:0:0::1", Err(Unspecified)),
            ("2002:808:808::1", Ok(())),
            // Teredo: server 65.54.227.120, client 127.0.0.1 (inverted: 80ff:fffe)
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", Err(Loopback)),
            // client 192.168.1.1 inverted: 3f57:fefe
            ("2001:0:4136:e378:8000:63bf:3f57:fefe", Err(Private)),
            // client 8.8.8.8 inverted: f7f7:f7f7
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", Ok(())),
        ];
        let wrong: Vec<String> = table
            .iter()
            .filter(|(ip, want)| verdict(&p, ip) != *want)
            .map(|(ip, want)| format!("{ip}: got {:?}, want {want:?}", verdict(&p, ip)))
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn embedded_forms_name_their_ipv4_address() {
        let e = |s: &str| embedded_ipv4(s.parse().unwrap());
        let v4 = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            e("::ffff:1.2.3.4"),
            Some((v4("1.2.3.4"), Embedding::Mapped))
        );
        assert_eq!(e("::1.2.3.4"), Some((v4("1.2.3.4"), Embedding::Compatible)));
        assert_eq!(
            e("::ffff:0:1.2.3.4"),
            Some((v4("1.2.3.4"), Embedding::Translated))
        );
        assert_eq!(
            e("64:ff9b::1.2.3.4"),
            Some((v4("1.2.3.4"), Embedding::Nat64))
        );
        assert_eq!(
            e("2002:102:304:5::6"),
            Some((v4("1.2.3.4"), Embedding::SixToFour))
        );
        assert_eq!(
            e("2001:0:4136:e378:8000:63bf:fefd:fcfb"),
            Some((v4("1.2.3.4"), Embedding::Teredo))
        );
        for none in [
            "::",
            "::1",
            "2001:db8::1",
            "64:ff9b:1::1.2.3.4",
            "2001:1::1",
        ] {
            assert_eq!(e(none), None, "{none}");
        }
    }

    #[test]
    fn opt_ins_open_their_class_only_and_lists_see_through_embedding() {
        let p = PeerPolicy {
            allow_loopback: true,
            allow_private: true,
            allow_multicast: true,
            ..PeerPolicy::default()
        };
        for ok in [
            "127.0.0.1",
            "::1",
            "2002:7f00:1::1",
            "10.0.0.1",
            "fec0::1",
            "ff02::1",
        ] {
            assert_eq!(verdict(&p, ok), Ok(()), "{ok}");
        }
        // Reserved space is never opened by the class switches.
        for no in [
            "240.0.0.1",
            "0.1.2.3",
            "100::1",
            "192.0.0.9",
            "64:ff9b::f000:1",
        ] {
            assert!(
                matches!(verdict(&p, no), Err(PeerDenial::Reserved(_))),
                "{no}"
            );
        }
        assert!(verdict(&PeerPolicy::permissive(), "240.0.0.1").is_err());
        // A listed IPv4 prefix covers the IPv6 forms of its addresses; a listed IPv6 prefix
        // covers its own addresses even when they embed IPv4.
        let mut p = PeerPolicy::default();
        p.deny.push("8.8.8.0/24".parse().unwrap());
        p.deny.push("2002::/16".parse().unwrap());
        p.allow.push("10.9.0.0/16".parse().unwrap());
        for no in [
            "8.8.8.8",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:909:909::1",
        ] {
            assert!(
                matches!(verdict(&p, no), Err(PeerDenial::Listed(_))),
                "{no}"
            );
        }
        for ok in ["10.9.1.1", "::ffff:10.9.1.1", "64:ff9b::a09:101"] {
            assert_eq!(verdict(&p, ok), Ok(()), "{ok}");
        }
        assert_eq!(verdict(&p, "10.8.1.1"), Err(PeerDenial::Private));
    }
}
