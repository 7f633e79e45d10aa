//! IPv4 and IPv6 fragment reassembly with bounded memory.
//!
//! Fragments are kept as slices of the capture (no copy) until a datagram is complete; only
//! then is one buffer allocated. Limits: fragments per datagram, datagrams pending, bytes
//! pending, and an age (capture time) after which an incomplete datagram is given up and
//! reported as [`ProblemKind::IncompleteFragments`].

use std::borrow::Cow;
use std::collections::HashMap;

use super::ip::{FragKey, Fragment};
use super::{Problem, ProblemKind, Timestamp};

/// Limits for the reassembler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_fragments: usize,
    pub max_pending: usize,
    pub max_bytes: usize,
    pub timeout_ns: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_fragments: 64,
            max_pending: 4096,
            max_bytes: 32 << 20,
            timeout_ns: 30_000_000_000,
        }
    }
}

struct Pending<'a> {
    first_frame: u32,
    first_ts: Timestamp,
    frags: Vec<(u32, Cow<'a, [u8]>)>,
    total: Option<u32>,
    proto: Option<u8>,
    bytes: usize,
}

/// A datagram made whole again.
pub(crate) struct Datagram {
    pub key: FragKey,
    /// Protocol (IPv4) or next header of the fragmentable part (IPv6).
    pub proto: u8,
    pub payload: Vec<u8>,
}

pub(crate) struct Defragmenter<'a> {
    pending: HashMap<FragKey, Pending<'a>>,
    bytes: usize,
    limits: Limits,
    adds: u32,
}

impl Default for Defragmenter<'_> {
    fn default() -> Self {
        Defragmenter::new(Limits::default())
    }
}

/// The largest fragmentable part: 65535 minus the smallest header.
const MAX_DATAGRAM: u32 = 65_535;

impl<'a> Defragmenter<'a> {
    pub fn new(limits: Limits) -> Self {
        Defragmenter {
            pending: HashMap::new(),
            bytes: 0,
            limits,
            adds: 0,
        }
    }

    fn give_up(&mut self, key: FragKey, problems: &mut Vec<Problem>) {
        if let Some(p) = self.pending.remove(&key) {
            self.bytes = self.bytes.saturating_sub(p.bytes);
            problems.push(Problem {
                frame: Some(p.first_frame),
                kind: ProblemKind::IncompleteFragments {
                    src: key.src,
                    dst: key.dst,
                    id: key.id,
                },
            });
        }
    }

    fn expire(&mut self, now: Timestamp, problems: &mut Vec<Problem>) {
        let timeout = self.limits.timeout_ns;
        let mut old: Vec<(u32, FragKey)> = self
            .pending
            .iter()
            .filter(|(_, p)| now.0.saturating_sub(p.first_ts.0).abs() > timeout)
            .map(|(k, p)| (p.first_frame, *k))
            .collect();
        old.sort_unstable_by_key(|(f, _)| *f);
        for (_, k) in old {
            self.give_up(k, problems);
        }
    }

    fn evict_oldest(&mut self, problems: &mut Vec<Problem>) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.first_frame)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            self.give_up(k, problems);
        }
    }

    /// Add a fragment; returns the datagram when this fragment completes it.
    pub fn add(
        &mut self,
        frame: u32,
        ts: Timestamp,
        frag: Fragment<'a>,
        problems: &mut Vec<Problem>,
    ) -> Option<Datagram> {
        self.adds = self.adds.wrapping_add(1);
        if self.adds.is_multiple_of(256) {
            self.expire(ts, problems);
        }
        let key = frag.key;
        let len = frag.data.len();
        let end = frag
            .offset
            .checked_add(len as u32)
            .filter(|e| *e <= MAX_DATAGRAM);
        let Some(end) = end else {
            self.give_up(key, problems);
            problems.push(Problem {
                frame: Some(frame),
                kind: ProblemKind::Malformed {
                    layer: "IP fragment",
                    detail: format!("fragment ends beyond {MAX_DATAGRAM} bytes"),
                },
            });
            return None;
        };
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.limits.max_pending {
                self.evict_oldest(problems);
            }
        }
        while self.bytes + len > self.limits.max_bytes && !self.pending.is_empty() {
            self.evict_oldest(problems);
        }
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            first_frame: frame,
            first_ts: ts,
            frags: Vec::new(),
            total: None,
            proto: None,
            bytes: 0,
        });
        if p.frags.len() >= self.limits.max_fragments {
            self.give_up(key, problems);
            return None;
        }
        if !frag.more {
            match p.total {
                Some(t) if t != end => {
                    self.give_up(key, problems);
                    problems.push(Problem {
                        frame: Some(frame),
                        kind: ProblemKind::Malformed {
                            layer: "IP fragment",
                            detail: "two last fragments with different ends".into(),
                        },
                    });
                    return None;
                }
                _ => p.total = Some(end),
            }
        }
        if frag.offset == 0 {
            p.proto = Some(frag.proto);
        }
        p.frags.push((frag.offset, frag.data));
        p.bytes += len;
        self.bytes += len;
        let total = p.total?;
        // Complete when the union of fragments covers [0, total).
        let mut spans: Vec<(u32, u32)> = p
            .frags
            .iter()
            .map(|(o, d)| (*o, o.saturating_add(d.len() as u32)))
            .collect();
        spans.sort_unstable();
        let mut covered = 0u32;
        for (s, e) in spans {
            if s > covered {
                return None;
            }
            covered = covered.max(e);
        }
        if covered < total {
            return None;
        }
        let p = self.pending.remove(&key)?;
        self.bytes = self.bytes.saturating_sub(p.bytes);
        let mut payload = vec![0u8; total as usize];
        // Earlier fragments win on overlap: copy the later ones first.
        for (o, d) in p.frags.iter().rev() {
            let o = *o as usize;
            let n = d.len().min(payload.len().saturating_sub(o));
            if let (Some(dst), Some(src)) = (payload.get_mut(o..o + n), d.get(..n)) {
                dst.copy_from_slice(src);
            }
        }
        Some(Datagram {
            key,
            proto: p.proto.unwrap_or(frag.proto),
            payload,
        })
    }

    /// End of capture: everything still pending is incomplete.
    pub fn finish(&mut self, problems: &mut Vec<Problem>) {
        let mut keys: Vec<(u32, FragKey)> = self
            .pending
            .iter()
            .map(|(k, p)| (p.first_frame, *k))
            .collect();
        keys.sort_unstable_by_key(|(f, _)| *f);
        for (_, k) in keys {
            self.give_up(k, problems);
        }
    }

    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn frag(id: u32, offset: u32, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            key: FragKey {
                src: IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)),
                dst: IpAddr::V4(Ipv4Addr::new(5, 6, 7, 8)),
                id,
                proto: 17,
            },
            offset,
            more,
            data: Cow::Borrowed(data),
            proto: 17,
        }
    }

    #[test]
    fn out_of_order_and_overlap() {
        let data: Vec<u8> = (0..40u8).collect();
        let mut d = Defragmenter::default();
        let mut pr = Vec::new();
        assert!(d
            .add(1, Timestamp(0), frag(1, 32, false, &data[32..]), &mut pr)
            .is_none());
        assert!(d
            .add(2, Timestamp(0), frag(1, 0, true, &data[..16]), &mut pr)
            .is_none());
        assert!(d
            .add(3, Timestamp(0), frag(1, 8, true, &data[8..24]), &mut pr)
            .is_none());
        let dg = d
            .add(4, Timestamp(0), frag(1, 24, true, &data[24..32]), &mut pr)
            .unwrap();
        assert_eq!(dg.payload, data);
        assert!(pr.is_empty());
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn limits_and_expiry() {
        let data = [0u8; 8];
        let mut d = Defragmenter::new(Limits {
            max_fragments: 4,
            max_pending: 2,
            max_bytes: 1000,
            timeout_ns: 10,
        });
        let mut pr = Vec::new();
        for i in 0..3 {
            d.add(i + 1, Timestamp(0), frag(i, 0, true, &data), &mut pr);
        }
        assert_eq!(pr.len(), 1, "oldest evicted when too many pending");
        for i in 0..6 {
            d.add(
                10 + i,
                Timestamp(0),
                frag(9, 8 * (i + 1), true, &data),
                &mut pr,
            );
        }
        assert!(pr.len() >= 2, "{pr:?}");
        assert!(d
            .add(30, Timestamp(0), frag(7, 65_530, false, &data), &mut pr)
            .is_none());
        d.finish(&mut pr);
        assert_eq!(d.pending(), 0);
        assert!(pr.iter().all(|p| p.frame.is_some()));
    }
}
