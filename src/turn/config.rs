//! Server configuration: profile, realm, credentials, relay addresses and ports, quotas, peer
//! policy, lifetimes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

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
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Cidr {
        Cidr {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
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

/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

const PRIVATE: &[Cidr] = &[
    Cidr::v4(10, 0, 0, 0, 8),
    Cidr::v4(172, 16, 0, 0, 12),
    Cidr::v4(192, 168, 0, 0, 16),
    Cidr::v4(100, 64, 0, 0, 10),
    Cidr::v4(169, 254, 0, 0, 16),
    Cidr {
        addr: IpAddr::V6(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0)),
        prefix: 7,
    },
    Cidr {
        addr: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)),
        prefix: 10,
    },
];

/// Why the peer policy refuses a peer address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerDenial {
    Loopback,
    Private,
    Multicast,
    Unspecified,
    Broadcast,
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
            PeerDenial::Listed(c) => write!(f, "peers in {c} are denied"),
        }
    }
}

/// Which peer addresses CreatePermission / ChannelBind may name (403 otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPolicy {
    pub allow_loopback: bool,
    /// RFC 1918, RFC 6598 (CGNAT), link-local and IPv6 ULA / link-local.
    pub allow_private: bool,
    pub allow_multicast: bool,
    /// Explicitly allowed prefixes: win over every rule below them.
    pub allow: Vec<Cidr>,
    /// Explicitly denied prefixes.
    pub deny: Vec<Cidr>,
}

impl Default for PeerPolicy {
    /// The `serve` default: loopback, private and multicast peers denied.
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
    /// Everything but the unspecified and broadcast addresses.
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
        let ip = canonical(ip);
        if self.allow.iter().any(|c| c.contains(ip)) {
            return Ok(());
        }
        if let Some(c) = self.deny.iter().find(|c| c.contains(ip)) {
            return Err(PeerDenial::Listed(*c));
        }
        if ip.is_unspecified() {
            return Err(PeerDenial::Unspecified);
        }
        if ip == IpAddr::V4(Ipv4Addr::BROADCAST) {
            return Err(PeerDenial::Broadcast);
        }
        if ip.is_loopback() && !self.allow_loopback {
            return Err(PeerDenial::Loopback);
        }
        if ip.is_multicast() && !self.allow_multicast {
            return Err(PeerDenial::Multicast);
        }
        if !self.allow_private && PRIVATE.iter().any(|c| c.contains(ip)) {
            return Err(PeerDenial::Private);
        }
        Ok(())
    }
}

/// Everything the core needs to know; no sockets, no clock.
#[derive(Debug, Clone)]
pub struct Config {
    pub profile: Profile,
    pub realm: String,
    /// user -> password (long-term credentials).
    pub credentials: Vec<(String, String)>,
    /// SOFTWARE on every response; `None` leaves it out.
    pub software: Option<String>,
    /// Where IPv4 relays are bound (`None`: IPv4 allocations get 440).
    pub relay_v4: Option<IpAddr>,
    /// Where IPv6 relays are bound (`None`: IPv6 allocations get 440).
    pub relay_v6: Option<IpAddr>,
    pub relay_ports: RangeInclusive<u16>,
    /// Concurrent allocations per username (486 beyond it).
    pub user_quota: Option<u32>,
    /// Concurrent allocations in total (508 beyond it), e.g. a relay licence of 1800.
    pub max_allocations: Option<u32>,
    /// Permissions per allocation (508 beyond it): bounds memory per client.
    pub max_permissions: u32,
    /// Channels per allocation: bounds memory per client (the number space allows 16384).
    pub max_channels: u32,
    pub peer_policy: PeerPolicy,
    /// How long an issued NONCE stays valid (438 after).
    pub nonce_lifetime: Duration,
    pub default_lifetime: Duration,
    pub max_lifetime: Duration,
    pub permission_lifetime: Duration,
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

    pub fn credential(mut self, user: &str, password: &str) -> Config {
        self.credentials
            .push((user.to_string(), password.to_string()));
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
