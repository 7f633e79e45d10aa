//! Long-term credentials and nonces.
//!
//! Nonces come from an injected [`NonceSource`]: [`StatelessNonces`] (the default: the issue
//! time and an HMAC under a secret over that time and the client's 5-tuple, so the server keeps
//! no per-nonce state and an attacker cannot grow its memory by asking for challenges),
//! [`SequenceNonces`] (deterministic, for tests), or any other implementation (replay registers
//! the nonces a captured server issued).
//!
//! A nonce is bound to the 5-tuple it was issued to (RFC 8489 section 9.2 lets the server put
//! the client's transport address into it): a signed request captured on the path and replayed
//! from another address carries a nonce that is not valid there, gets 438 and a fresh nonce, and
//! cannot be re-signed without the password.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

use super::{FiveTuple, Time, Transport};
use crate::wire::{Credential, Key};

/// What a [`NonceSource`] says about a NONCE a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by this source to this 5-tuple, within its lifetime.
    Valid,
    /// Issued by this source, but longer ago than the nonce lifetime.
    Stale {
        /// How long ago it was issued.
        age: Duration,
    },
    /// Not a nonce this source issued to this 5-tuple (forged, from another server, or issued
    /// to another client address: a replay).
    Unknown,
}

impl fmt::Display for NonceCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NonceCheck::Valid => f.write_str("valid"),
            NonceCheck::Stale { age } => write!(f, "expired ({} s old)", age.as_secs()),
            NonceCheck::Unknown => f.write_str("not issued by this server to this client"),
        }
    }
}

/// Issues and judges NONCE values. Time is passed in; nothing here reads a clock.
pub trait NonceSource: Send {
    /// A fresh nonce for the client on `five`, issued at `now` (at most 128 characters of
    /// printable ASCII).
    fn issue(&mut self, now: Time, five: &FiveTuple) -> String;
    /// Judge a nonce a request on `five` carries, at `now`. A nonce issued to another 5-tuple
    /// is not valid here.
    fn check(&self, nonce: &[u8], now: Time, five: &FiveTuple) -> NonceCheck;
}

/// Stateless nonces: 16 hex digits of the issue time (seconds) and 16 of HMAC-SHA1 over that
/// time and the client's 5-tuple.
pub struct StatelessNonces {
    secret: [u8; 32],
    lifetime: Duration,
}

impl StatelessNonces {
    /// `secret` must be unpredictable in a live server (e.g. from the OS random source).
    pub fn new(secret: [u8; 32], lifetime: Duration) -> Self {
        StatelessNonces { secret, lifetime }
    }

    fn mac(&self, secs: i64, five: &FiveTuple) -> [u8; 8] {
        let mut out = [0u8; 8];
        if let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&self.secret) {
            mac.update(&secs.to_be_bytes());
            mac.update(&[match five.transport {
                Transport::Udp => 17,
                Transport::Tcp => 6,
            }]);
            for addr in [five.client, five.server] {
                // The IP as 16 bytes (IPv4 mapped), so no two addresses feed the same bytes.
                let ip = match addr.ip() {
                    std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                    std::net::IpAddr::V6(v6) => v6,
                };
                mac.update(&ip.octets());
                mac.update(&addr.port().to_be_bytes());
            }
            let full = mac.finalize().into_bytes();
            for (o, b) in out.iter_mut().zip(full.iter()) {
                *o = *b;
            }
        }
        out
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn parse_hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [h, l] => (hex_val(*h)?, hex_val(*l)?),
            _ => return None,
        };
        *o = (hi << 4) | lo;
    }
    Some(out)
}

impl NonceSource for StatelessNonces {
    fn issue(&mut self, now: Time, five: &FiveTuple) -> String {
        let secs = now.as_secs();
        let mac = self.mac(secs, five);
        let mut s = format!("{:016x}", secs as u64);
        for b in mac {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    fn check(&self, nonce: &[u8], now: Time, five: &FiveTuple) -> NonceCheck {
        let (Some(time_hex), Some(mac_hex)) = (nonce.get(..16), nonce.get(16..)) else {
            return NonceCheck::Unknown;
        };
        let (Some(secs), Some(mac)) = (parse_hex::<8>(time_hex), parse_hex::<8>(mac_hex)) else {
            return NonceCheck::Unknown;
        };
        let secs = i64::from_be_bytes(secs);
        if !bool::from(self.mac(secs, five).ct_eq(&mac)) {
            return NonceCheck::Unknown;
        }
        let now_secs = now.as_secs();
        if secs > now_secs.saturating_add(1) {
            return NonceCheck::Unknown;
        }
        let age = Duration::from_secs(now_secs.saturating_sub(secs).max(0) as u64);
        if age >= self.lifetime {
            NonceCheck::Stale { age }
        } else {
            NonceCheck::Valid
        }
    }
}

/// Deterministic nonces `nonce-1`, `nonce-2`, ... each valid for `lifetime` after its issue,
/// on the 5-tuple it was issued to. For tests and benches; keeps one entry per issued nonce.
pub struct SequenceNonces {
    next: u64,
    lifetime: Duration,
    issued: HashMap<Vec<u8>, Issued>,
}

/// When and to whom a [`SequenceNonces`] nonce was issued.
#[derive(Debug, Clone, Copy)]
struct Issued {
    at: Time,
    to: FiveTuple,
}

impl SequenceNonces {
    /// Nonces valid for `lifetime` after they are issued.
    pub fn new(lifetime: Duration) -> Self {
        SequenceNonces {
            next: 1,
            lifetime,
            issued: HashMap::new(),
        }
    }
}

impl NonceSource for SequenceNonces {
    fn issue(&mut self, now: Time, five: &FiveTuple) -> String {
        let n = format!("nonce-{}", self.next);
        self.next += 1;
        // Bound memory: a test never needs more than this many live nonces.
        if self.issued.len() >= 4096 {
            self.issued.clear();
        }
        self.issued
            .insert(n.clone().into_bytes(), Issued { at: now, to: *five });
        n
    }

    fn check(&self, nonce: &[u8], now: Time, five: &FiveTuple) -> NonceCheck {
        match self.issued.get(nonce) {
            Some(issued) if issued.to == *five => {
                let age = now.saturating_duration_since(issued.at);
                if age >= self.lifetime {
                    NonceCheck::Stale { age }
                } else {
                    NonceCheck::Valid
                }
            }
            _ => NonceCheck::Unknown,
        }
    }
}

/// The configured users with their long-term keys for the server realm.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    users: HashMap<String, Key>,
}

impl Credentials {
    /// The long-term keys (MD5 of `user:realm:password`) of `users` for `realm`.
    pub fn new(realm: &str, users: &[Credential]) -> Self {
        Credentials {
            users: users
                .iter()
                .map(|c| (c.user.clone(), c.key(realm)))
                .collect(),
        }
    }

    /// The key of `user`, if configured.
    pub fn key(&self, user: &str) -> Option<&Key> {
        self.users.get(user)
    }

    /// How many users are configured.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when no user is configured (every request gets 401).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five(client: &str) -> FiveTuple {
        FiveTuple {
            transport: Transport::Udp,
            client: client.parse().unwrap_or_else(|e| panic!("{client}: {e}")),
            server: "198.51.100.10:3478"
                .parse()
                .unwrap_or_else(|e| panic!("{e}")),
        }
    }

    #[test]
    fn stateless_nonces_expire_and_resist_forgery() {
        let c = five("192.0.2.1:40000");
        let mut n = StatelessNonces::new([7; 32], Duration::from_secs(600));
        let t0 = Time::from_secs(1_000);
        let nonce = n.issue(t0, &c);
        assert_eq!(nonce.len(), 32);
        assert_eq!(n.check(nonce.as_bytes(), t0, &c), NonceCheck::Valid);
        assert_eq!(
            n.check(nonce.as_bytes(), Time::from_secs(1_599), &c),
            NonceCheck::Valid
        );
        assert!(matches!(
            n.check(nonce.as_bytes(), Time::from_secs(1_600), &c),
            NonceCheck::Stale { .. }
        ));
        let mut forged = nonce.clone().into_bytes();
        forged[15] = if forged[15] == b'0' { b'1' } else { b'0' };
        assert_eq!(n.check(&forged, t0, &c), NonceCheck::Unknown);
        assert_eq!(n.check(b"short", t0, &c), NonceCheck::Unknown);
        assert_eq!(n.check(&[0xff; 32], t0, &c), NonceCheck::Unknown);
        let other = StatelessNonces::new([8; 32], Duration::from_secs(600));
        assert_eq!(other.check(nonce.as_bytes(), t0, &c), NonceCheck::Unknown);
        // Issued in the future: not ours.
        assert_eq!(
            n.check(nonce.as_bytes(), Time::from_secs(990), &c),
            NonceCheck::Unknown
        );
    }

    #[test]
    fn stateless_nonces_are_bound_to_the_five_tuple() {
        let c = five("192.0.2.1:40000");
        let mut n = StatelessNonces::new([7; 32], Duration::from_secs(600));
        let t0 = Time::from_secs(1_000);
        let nonce = n.issue(t0, &c);
        let replayed_from = [
            five("192.0.2.1:40001"),
            five("192.0.2.2:40000"),
            FiveTuple {
                transport: Transport::Tcp,
                ..c
            },
            FiveTuple {
                server: "198.51.100.10:443"
                    .parse()
                    .unwrap_or_else(|e| panic!("{e}")),
                ..c
            },
        ];
        for other in replayed_from {
            assert_eq!(
                n.check(nonce.as_bytes(), t0, &other),
                NonceCheck::Unknown,
                "nonce for {c:?} accepted on {other:?}"
            );
        }
        assert_eq!(n.check(nonce.as_bytes(), t0, &c), NonceCheck::Valid);
    }

    #[test]
    fn sequence_nonces() {
        let c = five("192.0.2.1:40000");
        let mut n = SequenceNonces::new(Duration::from_secs(10));
        let a = n.issue(Time::from_secs(0), &c);
        assert_eq!(a, "nonce-1");
        assert_eq!(
            n.check(b"nonce-1", Time::from_secs(9), &c),
            NonceCheck::Valid
        );
        assert!(matches!(
            n.check(b"nonce-1", Time::from_secs(10), &c),
            NonceCheck::Stale { .. }
        ));
        assert_eq!(
            n.check(b"nonce-2", Time::from_secs(0), &c),
            NonceCheck::Unknown
        );
        assert_eq!(
            n.check(b"nonce-1", Time::from_secs(1), &five("192.0.2.9:40000")),
            NonceCheck::Unknown
        );
    }
}
