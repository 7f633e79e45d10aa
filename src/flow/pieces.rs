//! Captures read from several files: the rotated pieces of one interface's tcpdump (an
//! Expressway diagnostic bundle cuts each interface's capture into 20 MB pieces). Such a
//! capture is one capture for the analysis, its frames numbered on through the pieces in
//! time order; the evidence names the piece and its own frame number, what the engineer
//! opens in Wireshark ([`CaptureFlows::frame_ref`]).
//!
//! Pieces that arrive in time order are read as one stream, so transactions, allocations
//! and TCP streams crossing a cut are whole. Pieces that arrive out of order (a bundle lists
//! a wrapped ring of pieces as 00..19 when 07 is the oldest) are read as separate runs and
//! joined here ([`join`]): transactions of the same id are joined and allocations rebuilt,
//! but a TCP stream cut between two runs is resynchronised, as after a capture gap.

use std::collections::HashMap;

use crate::capture::Timestamp;

use super::{CaptureFlows, Counter, Transaction};

/// One file of a capture read from several.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Piece {
    /// Its label (`bundle!eth0_diagnostic_logging_tcpdump01_….pcap`).
    pub name: String,
    /// Frames of the capture before it: its frame `n` is the capture's `frame_base + n`.
    pub frame_base: u32,
    /// Frames in this file.
    pub frames: u32,
    /// Time of its first frame, None when it has none.
    pub first_ts: Option<Timestamp>,
    /// Time of its last frame, None when it has none.
    pub last_ts: Option<Timestamp>,
}

/// A frame as Wireshark shows it: the file, and the frame number in that file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'a> {
    /// The file's label (the piece name, or the capture's for a one-file capture).
    pub capture: &'a str,
    /// Frame number within that file, 1-based.
    pub frame: u32,
}

impl CaptureFlows {
    /// The file and its own frame number for frame `frame` of this capture.
    pub fn frame_ref(&self, frame: u32) -> FrameRef<'_> {
        let piece = self
            .pieces
            .iter()
            .rev()
            .find(|p| frame > p.frame_base && p.frames > 0);
        match piece {
            Some(p) => FrameRef {
                capture: &p.name,
                frame: frame - p.frame_base,
            },
            None => FrameRef {
                capture: &self.name,
                frame,
            },
        }
    }
}

/// Join captures read apart (runs of pieces, each with its frames numbered from 1) into
/// one, in the order given (time order). The name is the first run's.
pub fn join(runs: Vec<CaptureFlows>) -> CaptureFlows {
    let mut runs = runs.into_iter();
    let Some(mut joined) = runs.next() else {
        return CaptureFlows::default();
    };
    for later in runs {
        append(&mut joined, later);
    }
    joined.build_allocations();
    joined
}

fn shifted(c: &Counter, base: u32) -> Counter {
    Counter {
        first_frame: c.first_frame.saturating_add(base),
        last_frame: c.last_frame.saturating_add(base),
        ..*c
    }
}

/// Add a later run to `acc`: frames moved past `acc`'s, messages re-indexed, transactions
/// of the same id joined, counters merged. Every field is named, so that a field added to
/// [`CaptureFlows`] cannot be forgotten here.
fn append(acc: &mut CaptureFlows, later: CaptureFlows) {
    let CaptureFlows {
        name: _,
        frames,
        max_frame,
        link_types,
        first_ts,
        last_ts,
        stun_messages,
        msgs,
        transactions,
        traffic,
        send_ind,
        data_ind,
        channel_data,
        carried_stun,
        relayed_by_tuple,
        malformed,
        malformed_count,
        unreachable,
        tcp,
        tls,
        dns,
        tls_conns,
        http,
        problems,
        problem_count,
        allocations: _,
        summarised,
        pieces,
    } = later;
    let base = u32::try_from(acc.frames).unwrap_or(u32::MAX);
    let msg_base = acc.msgs.len() as u32;
    acc.msgs.extend(msgs.into_iter().map(|mut m| {
        m.frame = m.frame.saturating_add(base);
        m
    }));
    join_transactions(&mut acc.transactions, transactions, msg_base);
    for (k, c) in traffic {
        match super::budget::direction_counter(&mut acc.traffic, k) {
            Some(kept) => kept.merge(&shifted(&c, base)),
            None => acc.summarised.beyond_directions += c.packets,
        }
    }
    for (k, c) in send_ind {
        acc.send_ind.entry(k).or_default().merge(&shifted(&c, base));
    }
    for (k, c) in data_ind {
        acc.data_ind.entry(k).or_default().merge(&shifted(&c, base));
    }
    for (k, c) in channel_data {
        acc.channel_data
            .entry(k)
            .or_default()
            .merge(&shifted(&c, base));
    }
    for (k, n) in carried_stun {
        *acc.carried_stun.entry(k).or_default() += n;
    }
    for (tuple, relayed) in relayed_by_tuple {
        if !acc.relayed_by_tuple.iter().any(|(t, _)| *t == tuple) {
            acc.relayed_by_tuple.push((tuple, relayed));
        }
    }
    acc.malformed.extend(malformed.into_iter().map(|mut m| {
        m.frame = m.frame.saturating_add(base);
        m
    }));
    acc.unreachable.extend(unreachable.into_iter().map(|mut u| {
        u.frame = u.frame.saturating_add(base);
        u
    }));
    acc.tcp.extend(tcp.into_iter().map(|mut t| {
        t.frame = t.frame.saturating_add(base);
        t
    }));
    acc.tls.extend(tls.into_iter().map(|mut t| {
        t.frame = t.frame.saturating_add(base);
        t
    }));
    acc.dns.append(dns, base);
    acc.tls_conns.append(tls_conns, base);
    acc.http.append(http, base);
    acc.summarised.absorb(&summarised, base);
    acc.problems.extend(
        problems
            .into_iter()
            .map(|(frame, what)| (frame.map(|f| f.saturating_add(base)), what)),
    );
    acc.pieces.extend(pieces.into_iter().map(|mut p| {
        p.frame_base = p.frame_base.saturating_add(base);
        p
    }));
    for l in link_types {
        if !acc.link_types.contains(&l) {
            acc.link_types.push(l);
        }
    }
    acc.first_ts = [acc.first_ts, first_ts].into_iter().flatten().min();
    acc.last_ts = [acc.last_ts, last_ts].into_iter().flatten().max();
    acc.max_frame = acc.max_frame.max(max_frame.saturating_add(base));
    acc.frames += frames;
    acc.stun_messages += stun_messages;
    acc.malformed_count += malformed_count;
    acc.problem_count += problem_count;
}

/// Add the transactions of a later run (message indices moved by `msg_base`): sightings of
/// an id already there join it.
fn join_transactions(acc: &mut Vec<Transaction>, later: Vec<Transaction>, msg_base: u32) {
    let mut by_id: HashMap<_, usize> = acc.iter().enumerate().map(|(i, t)| (t.txid, i)).collect();
    for mut t in later {
        for i in t.requests.iter_mut().chain(t.responses.iter_mut()) {
            *i = i.saturating_add(msg_base);
        }
        match by_id.get(&t.txid).and_then(|&i| acc.get_mut(i)) {
            Some(existing) => {
                existing.requests.extend(t.requests);
                existing.responses.extend(t.responses);
            }
            None => {
                by_id.insert(t.txid, acc.len());
                acc.push(t);
            }
        }
    }
}
