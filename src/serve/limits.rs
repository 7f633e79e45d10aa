//! Per-source limits with bounded memory: a token bucket per source for answers to
//! unauthenticated requests, and per-source tallies that turn floods of log lines into one
//! summary line a minute.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Whom a limit is kept for: an IPv4 address, or an IPv6 /64 (one subscriber's network: a
/// host may pick any address in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// An IPv4 source, or an IPv6 source that embeds one (IPv4-mapped, NAT64,
    /// 6to4, Teredo...: see [`crate::turn::embedded_ipv4`]).
    V4(std::net::Ipv4Addr),
    /// An IPv6 source's /64: the upper 64 bits of its address.
    V6Net(u64),
}

impl SourceKey {
    /// The key of a source address; an IPv6 address that embeds an IPv4 address counts as
    /// that IPv4 address ([`crate::turn::canonical`]).
    pub fn of(ip: IpAddr) -> SourceKey {
        match crate::turn::canonical(ip) {
            IpAddr::V4(v4) => SourceKey::V4(v4),
            IpAddr::V6(v6) => SourceKey::V6Net((u128::from(v6) >> 64) as u64),
        }
    }
}

impl fmt::Display for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceKey::V4(v4) => write!(f, "{v4}"),
            SourceKey::V6Net(net) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*net) << 64)),
        }
    }
}

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by source, at most `max_sources` of them. When the table is full,
/// buckets that have refilled completely (they carry no information) are forgotten, at most
/// once a second (a sweep is a walk of the table); meanwhile new sources share one overflow
/// bucket, so a flood of spoofed sources can neither grow the table, nor make every packet
/// walk it, nor take more than one bucket's worth of answers between them.
pub struct RateLimit {
    rate: f64,
    burst: f64,
    max_sources: usize,
    buckets: HashMap<SourceKey, Bucket>,
    overflow: Bucket,
    last_sweep: Instant,
}

impl RateLimit {
    /// `rate` answers a second per source with bursts of `burst`; 0 turns the limit off.
    pub fn new(rate: u32, burst: u32, max_sources: usize, now: Instant) -> RateLimit {
        RateLimit {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            max_sources: max_sources.max(1),
            buckets: HashMap::new(),
            overflow: Bucket {
                tokens: f64::from(burst.max(1)),
                at: now,
            },
            last_sweep: now,
        }
    }

    /// Take a token for `source`: false when it has none left.
    pub fn allow(&mut self, source: SourceKey, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        if self.buckets.len() >= self.max_sources
            && now.saturating_duration_since(self.last_sweep) >= Duration::from_secs(1)
            && !self.buckets.contains_key(&source)
        {
            self.last_sweep = now;
            self.forget_full(now);
        }
        let (rate, burst) = (self.rate, self.burst);
        let bucket = if self.buckets.len() < self.max_sources {
            self.buckets.entry(source).or_insert(Bucket {
                tokens: burst,
                at: now,
            })
        } else {
            match self.buckets.get_mut(&source) {
                Some(b) => b,
                None => &mut self.overflow,
            }
        };
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn forget_full(&mut self, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        self.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
    }

    /// Sources with a bucket of their own now (at most `max_sources`; the overflow bucket is
    /// not counted).
    pub fn sources(&self) -> usize {
        self.buckets.len()
    }
}

/// Counts of something per source over a window, for summary lines such as "12000 refusals
/// from 192.0.2.1 in the last minute". At most `max_sources` sources are named; the rest are
/// counted together.
pub struct Tally {
    counts: HashMap<SourceKey, Counts>,
    max_sources: usize,
    others: Counts,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    seen: u64,
    suppressed: u64,
}

/// What a [`Tally`] says about one more event from a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it in full.
    Log,
    /// Count it only (the summary will say how many).
    Suppress,
}

impl Tally {
    /// An empty tally naming at most `max_sources` sources (at least 1).
    pub fn new(max_sources: usize) -> Tally {
        Tally {
            counts: HashMap::new(),
            max_sources: max_sources.max(1),
            others: Counts::default(),
        }
    }

    /// Count an event from `source`; the first `full` of a window are logged in full.
    pub fn count(&mut self, source: SourceKey, full: u64) -> Verdict {
        let known = self.counts.len() < self.max_sources || self.counts.contains_key(&source);
        let c = if known {
            self.counts.entry(source).or_default()
        } else {
            &mut self.others
        };
        c.seen += 1;
        if known && c.seen <= full {
            Verdict::Log
        } else {
            c.suppressed += 1;
            Verdict::Suppress
        }
    }

    /// The summary lines of the window that ends (`what` names the events, e.g. "refusals"),
    /// and a fresh window.
    pub fn roll(&mut self, what: &str, window: Duration) -> Vec<String> {
        let mut lines: Vec<(SourceKey, u64)> = self
            .counts
            .drain()
            .filter(|(_, c)| c.suppressed > 0)
            .map(|(k, c)| (k, c.suppressed))
            .collect();
        lines.sort_by_key(|l| std::cmp::Reverse(l.1));
        let secs = window.as_secs();
        let mut out: Vec<String> = lines
            .into_iter()
            .map(|(k, n)| format!("{n} {what} from {k} in the last {secs} s not logged one by one"))
            .collect();
        if self.others.suppressed > 0 {
            out.push(format!(
                "{} {what} from sources beyond the {} tracked in the last {secs} s not logged \
                 one by one",
                self.others.suppressed, self.max_sources
            ));
        }
        self.others = Counts::default();
        out
    }
}

/// How many of something each source holds right now (TCP connections without an
/// allocation). Only sources holding at least one have an entry, so the table is never larger
/// than what it counts.
#[derive(Default)]
pub struct Holdings {
    held: HashMap<SourceKey, u32>,
}

impl Holdings {
    /// How many `source` holds now (0 when it has no entry).
    pub fn of(&self, source: SourceKey) -> u32 {
        self.held.get(&source).copied().unwrap_or(0)
    }

    /// One more held by `source`.
    pub fn add(&mut self, source: SourceKey) {
        *self.held.entry(source).or_default() += 1;
    }

    /// One fewer held by `source`; its entry goes when it reaches 0 (never below).
    pub fn remove(&mut self, source: SourceKey) {
        if let Some(n) = self.held.get_mut(&source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.held.remove(&source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> SourceKey {
        SourceKey::of(s.parse().unwrap())
    }

    #[test]
    fn keys_are_ipv4_addresses_and_ipv6_slash_64s() {
        assert_eq!(key("192.0.2.1"), key("::ffff:192.0.2.1"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("2001:db8:1:2::1").to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10, 5, 100, t0);
        let a = key("192.0.2.1");
        assert_eq!((0..20).filter(|_| r.allow(a, t0)).count(), 5);
        // Another source has its own bucket.
        assert!(r.allow(key("192.0.2.2"), t0));
        // One second later: 10 more (the burst caps at 5).
        assert_eq!(
            (0..20)
                .filter(|_| r.allow(a, t0 + Duration::from_secs(1)))
                .count(),
            5
        );
        assert_eq!(
            (0..20)
                .filter(|_| r.allow(a, t0 + Duration::from_millis(1500)))
                .count(),
            5
        );
        let mut off = RateLimit::new(0, 5, 100, t0);
        assert!((0..100).all(|_| off.allow(a, t0)));
    }

    #[test]
    fn the_table_stays_bounded_under_spoofed_sources() {
        let t0 = Instant::now();
        let mut r = RateLimit::new(10, 2, 64, t0);
        let mut allowed = 0;
        for i in 0..100_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            if r.allow(SourceKey::V4(ip), t0) {
                allowed += 1;
            }
        }
        assert!(r.sources() <= 64);
        // One answer for each of the 64 tracked sources, then the shared overflow bucket's 2.
        assert_eq!(allowed, 64 + 2);
        // Once their buckets refill, tracked sources make room for new ones.
        assert!(r.allow(key("192.0.2.9"), t0 + Duration::from_secs(5)));
    }

    #[test]
    fn holdings_count_per_source_and_forget_empty_sources() {
        let mut h = Holdings::default();
        let a = key("192.0.2.1");
        h.add(a);
        h.add(a);
        h.add(key("192.0.2.2"));
        assert_eq!((h.of(a), h.of(key("192.0.2.2"))), (2, 1));
        h.remove(a);
        h.remove(a);
        h.remove(a);
        assert_eq!(h.of(a), 0);
        assert_eq!(h.held.len(), 1);
    }

    #[test]
    fn tallies_log_the_first_few_then_summarise() {
        let mut t = Tally::new(2);
        let a = key("192.0.2.1");
        let v: Vec<Verdict> = (0..5).map(|_| t.count(a, 3)).collect();
        assert_eq!(v.iter().filter(|v| **v == Verdict::Log).count(), 3);
        t.count(key("192.0.2.2"), 3);
        for _ in 0..7 {
            assert_eq!(t.count(key("192.0.2.3"), 3), Verdict::Suppress);
        }
        let lines = t.roll("refusals", Duration::from_secs(60));
        assert_eq!(
            lines,
            vec![
                "2 refusals from 192.0.2.1 in the last 60 s not logged one by one".to_string(),
                "7 refusals from sources beyond the 2 tracked in the last 60 s not logged one by \
                 one"
                .to_string()
            ]
        );
        assert!(t.roll("refusals", Duration::from_secs(60)).is_empty());
        assert_eq!(t.count(a, 3), Verdict::Log, "a new window logs again");
    }
}
