//! Relay port assignment over the configured range.
//!
//! The core picks the port (randomly, from a seeded generator, so tests are deterministic) and
//! asks the I/O layer to bind it; a port the I/O layer could not bind is set aside for a while.

use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::time::Duration;

use super::Time;

/// How long a port that failed to bind is skipped.
pub const BLOCKED_FOR: Duration = Duration::from_secs(60);

/// Ports in use, per address family (index 0 IPv4, 1 IPv6).
#[derive(Debug, Clone)]
pub struct RelayPorts {
    min: u16,
    max: u16,
    used: [Bitmap; 2],
    in_use: [u32; 2],
    blocked: HashMap<(usize, u16), Time>,
    rng: u64,
}

#[derive(Debug, Clone)]
struct Bitmap(Vec<u64>);

impl Bitmap {
    fn new() -> Self {
        Bitmap(vec![0; 1024])
    }
    fn get(&self, port: u16) -> bool {
        self.0
            .get(usize::from(port >> 6))
            .is_some_and(|w| w & (1 << (port & 63)) != 0)
    }
    fn set(&mut self, port: u16, on: bool) {
        if let Some(w) = self.0.get_mut(usize::from(port >> 6)) {
            if on {
                *w |= 1 << (port & 63);
            } else {
                *w &= !(1 << (port & 63));
            }
        }
    }
}

impl RelayPorts {
    /// Ports of `range`, handed out in an order shuffled by `seed` (so that relay ports are not guessable).
    pub fn new(range: RangeInclusive<u16>, seed: u64) -> Self {
        let (min, max) = (*range.start(), *range.end());
        RelayPorts {
            min: min.max(1),
            max,
            used: [Bitmap::new(), Bitmap::new()],
            in_use: [0, 0],
            blocked: HashMap::new(),
            rng: seed | 1,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// How many ports the range holds.
    pub fn size(&self) -> u32 {
        if self.max < self.min {
            0
        } else {
            u32::from(self.max - self.min) + 1
        }
    }

    /// Ports in use for address family `family` (0 for IPv4, 1 for IPv6).
    pub fn in_use(&self, family: usize) -> u32 {
        self.in_use.get(family).copied().unwrap_or(0)
    }

    fn free(&self, family: usize, port: u16, now: Time) -> bool {
        let Some(used) = self.used.get(family) else {
            return false;
        };
        !used.get(port) && !matches!(self.blocked.get(&(family, port)), Some(t) if *t > now)
    }

    /// Take a free port (an even one if `even`), or `None` when the range is exhausted.
    pub fn acquire(&mut self, family: usize, even: bool, now: Time) -> Option<u16> {
        let size = self.size();
        if size == 0 || family > 1 {
            return None;
        }
        let start = (self.next_random() % u64::from(size)) as u32;
        for i in 0..size {
            let off = (start + i) % size;
            let port = self.min.checked_add(u16::try_from(off).ok()?)?;
            if even && port % 2 != 0 {
                continue;
            }
            if self.free(family, port, now) {
                self.blocked.remove(&(family, port));
                self.used.get_mut(family)?.set(port, true);
                if let Some(n) = self.in_use.get_mut(family) {
                    *n += 1;
                }
                return Some(port);
            }
        }
        None
    }

    /// Take an even port P with P+1 free as well (EVEN-PORT with the R bit): both are marked
    /// in use; the caller reserves P+1.
    pub fn acquire_pair(&mut self, family: usize, now: Time) -> Option<u16> {
        let size = self.size();
        if size < 2 || family > 1 {
            return None;
        }
        let start = (self.next_random() % u64::from(size)) as u32;
        for i in 0..size {
            let off = (start + i) % size;
            let port = self.min.checked_add(u16::try_from(off).ok()?)?;
            if port % 2 != 0 || port >= self.max {
                continue;
            }
            let next = port + 1;
            if self.free(family, port, now) && self.free(family, next, now) {
                for p in [port, next] {
                    self.blocked.remove(&(family, p));
                    self.used.get_mut(family)?.set(p, true);
                    if let Some(n) = self.in_use.get_mut(family) {
                        *n += 1;
                    }
                }
                return Some(port);
            }
        }
        None
    }

    /// 8 unpredictable-enough bytes for a RESERVATION-TOKEN (from the seeded generator).
    pub fn token(&mut self) -> [u8; 8] {
        self.next_random().to_be_bytes()
    }

    /// Give a port back.
    pub fn release(&mut self, family: usize, port: u16) {
        if let Some(used) = self.used.get_mut(family) {
            if used.get(port) {
                used.set(port, false);
                if let Some(n) = self.in_use.get_mut(family) {
                    *n = n.saturating_sub(1);
                }
            }
        }
    }

    /// The I/O layer could not bind this port: release it and skip it for [`BLOCKED_FOR`].
    pub fn block(&mut self, family: usize, port: u16, now: Time) {
        self.release(family, port);
        if self.blocked.len() > 65_536 {
            self.blocked.retain(|_, t| *t > now);
        }
        self.blocked.insert((family, port), now + BLOCKED_FOR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exhausts_and_recovers() {
        let t = Time::from_secs(0);
        let mut p = RelayPorts::new(5000..=5003, 42);
        let mut got: Vec<u16> = (0..4).map(|_| p.acquire(0, false, t).unwrap()).collect();
        got.sort();
        assert_eq!(got, vec![5000, 5001, 5002, 5003]);
        assert_eq!(p.acquire(0, false, t), None);
        // The IPv6 family is independent.
        assert!(p.acquire(1, false, t).is_some());
        p.release(0, 5002);
        assert_eq!(p.acquire(0, false, t), Some(5002));
        p.block(0, 5002, t);
        assert_eq!(p.acquire(0, false, t), None);
        assert_eq!(p.acquire(0, false, t + BLOCKED_FOR), Some(5002));
    }

    #[test]
    fn even_ports() {
        let t = Time::from_secs(0);
        let mut p = RelayPorts::new(5001..=5005, 1);
        for _ in 0..2 {
            assert_eq!(p.acquire(0, true, t).map(|x| x % 2), Some(0));
        }
        assert_eq!(p.acquire(0, true, t), None);
        assert!(p.acquire(0, false, t).is_some());
    }

    #[test]
    fn pairs() {
        let t = Time::from_secs(0);
        let mut p = RelayPorts::new(5001..=5004, 3);
        assert_eq!(p.acquire_pair(0, t), Some(5002));
        assert_eq!(p.acquire_pair(0, t), None, "5004 has no 5005 in range");
        assert_eq!(p.in_use(0), 2);
        assert!(p.acquire(0, false, t).is_some());
    }

    #[test]
    fn empty_range() {
        #[allow(clippy::reversed_empty_ranges)]
        let mut p = RelayPorts::new(10..=5, 1);
        assert_eq!(p.acquire(0, false, Time::from_secs(0)), None);
    }
}
