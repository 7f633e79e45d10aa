//! A parallel walk of one capture: the file is cut into stretches that plain threads walk and
//! parse at the same time; what a [`DatagramScan`] takes of the UDP datagrams is accumulated
//! per stretch, and the rest goes through the stateful stages (defragmentation, TCP
//! reassembly) in frame order on the calling thread.
//!
//! Record walking is a chain of dependent loads, about 100 ns a record when the file is in
//! the page cache; one thread per core walking its own stretch is what makes the walk scale.
//! A pcap stretch starts at the first plausible record header after its nominal offset; the
//! walk of the stretch before it ends on a real record boundary, and a stretch whose guess
//! does not match that boundary is walked again from it, so a wrong guess costs time, never
//! correctness.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::source::{Kind, RecordReader, SegmentPlan};
use super::{parse_item, CaptureFile, CaptureStats, Event, FrameOut, Parsed1, Payload, Stateful};

/// Work a [`CaptureFile::scan`] does on UDP datagrams (those that need no reassembly), in
/// parallel, stretch by stretch.
pub trait DatagramScan: Sync {
    /// What one stretch accumulates.
    type Part: Send;

    /// An empty accumulator for a stretch.
    fn part(&self) -> Self::Part;

    /// Take the datagram into `part` (true), or leave it to be delivered in frame order with
    /// the other events (false). `p.frame` counts from 1 at the start of the stretch: add the
    /// `frame_base` that comes with the part to get Wireshark's frame number.
    fn datagram(&self, part: &mut Self::Part, p: &Payload<'_>) -> bool;
}

/// What [`CaptureFile::scan`] hands to its sink, in file order.
pub enum Scanned<'a, P> {
    /// One stretch: what the scan took into its part (frame numbers relative to
    /// `frame_base`), and the events it left, in frame order with Wireshark's frame numbers.
    Stretch {
        /// What [`DatagramScan::datagram`] took from the stretch.
        part: P,
        /// Frames before the stretch: add it to a frame number in `part` for Wireshark's.
        frame_base: u32,
        /// What the scan did not take, in frame order, frame numbers as Wireshark shows them.
        events: Vec<Event<'a>>,
    },
    /// What the end of the capture completed (TCP data still pending, fragments never
    /// completed); their frames may be lower than those before.
    Events(Vec<Event<'a>>),
}

/// How [`CaptureFile::scan_with`] cuts and spreads the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Nominal size of a stretch in bytes.
    pub stretch_bytes: usize,
    /// Walking threads (1: everything on the calling thread).
    pub threads: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            stretch_bytes: 2 << 20,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

impl CaptureStats {
    fn absorb(&mut self, o: CaptureStats) {
        self.frames += o.frames;
        self.bytes += o.bytes;
        self.problems += o.problems;
        self.payloads += o.payloads;
        for (link, n) in o.link_types {
            *self.link_types.entry(link).or_default() += n;
        }
        self.declare(o.declared_links);
    }

    /// Add link types declared further on, keeping the order of first appearance.
    pub(super) fn declare(&mut self, links: Vec<u32>) {
        for l in links {
            if !self.declared_links.contains(&l) {
                self.declared_links.push(l);
            }
        }
    }
}

/// One walked stretch.
struct Stretch<'a, P> {
    /// The walker after the walk (where the stretch ended, reader state), or `None` when no
    /// record plausibly starts in the stretch.
    reader: Option<RecordReader<'a>>,
    /// Where the walk began, and in which reader state (a guessed stretch assumes the state
    /// the file's leading blocks left; a pcapng interface declared later changes it).
    start: usize,
    start_kind: Option<Kind>,
    part: Option<P>,
    residue: Vec<Parsed1<'a>>,
    /// Counts for the datagrams the scan took.
    taken: CaptureStats,
}

fn walk<'a, S: DatagramScan>(scan: &S, mut reader: RecordReader<'a>) -> Stretch<'a, S::Part> {
    let start = reader.pos();
    let start_kind = Some(reader.kind().clone());
    let mut part = scan.part();
    let mut residue = Vec::new();
    let mut taken = CaptureStats::default();
    // Link type counts, run-length: nearly every frame has the link type of the one before.
    let mut run: Option<(u32, u64)> = None;
    while let Some(item) = reader.next_item() {
        let p = parse_item(item);
        if let (None, FrameOut::Event(Event::Payload(d)), Some(link)) = (&p.problem, &p.out, p.link)
        {
            if scan.datagram(&mut part, d) {
                taken.frames += 1;
                taken.bytes += p.len as u64;
                taken.payloads += 1;
                run = match run {
                    Some((l, n)) if l == link => Some((l, n + 1)),
                    other => {
                        if let Some((l, n)) = other {
                            *taken.link_types.entry(l).or_default() += n;
                        }
                        Some((link, 1))
                    }
                };
                continue;
            }
        }
        residue.push(p);
    }
    if let Some((l, n)) = run {
        *taken.link_types.entry(l).or_default() += n;
    }
    Stretch {
        reader: Some(reader),
        start,
        start_kind,
        part: Some(part),
        residue,
        taken,
    }
}

pub(super) fn rebase(p: &mut Parsed1<'_>, base: u32) {
    if p.frame == 0 {
        return;
    }
    p.frame = p.frame.saturating_add(base);
    if let FrameOut::Event(ev) = &mut p.out {
        match ev {
            Event::Payload(d) => d.frame = p.frame,
            Event::Unreachable { frame, .. }
            | Event::Tcp { frame, .. }
            | Event::TlsClientHello { frame, .. }
            | Event::TlsServer { frame, .. } => *frame = p.frame,
            Event::Tls(t) => t.frame = p.frame,
            Event::Problem(pr) => pr.frame = pr.frame.map(|_| p.frame),
        }
    }
}

impl CaptureFile {
    /// Walk the capture on all cores: `scan` sees the UDP datagrams stretch by stretch in
    /// parallel, and `sink` gets, in file order, each stretch's part with the events the scan
    /// left (TCP, ICMP, problems, datagrams it did not take), exactly as
    /// [`CaptureFile::events`] would give them. Returns the capture's counts.
    ///
    /// Uses plain threads (not the rayon pool), so it may be called from anywhere.
    pub fn scan<'a, S: DatagramScan>(
        &'a self,
        scan: &S,
        sink: impl FnMut(Scanned<'a, S::Part>),
    ) -> CaptureStats {
        self.scan_with(scan, ScanOptions::default(), sink)
    }

    /// As [`CaptureFile::scan`], with the stretch size and thread count given.
    pub fn scan_with<'a, S: DatagramScan>(
        &'a self,
        scan: &S,
        options: ScanOptions,
        mut sink: impl FnMut(Scanned<'a, S::Part>),
    ) -> CaptureStats {
        let plans: Vec<SegmentPlan> = self.segments(options.stretch_bytes);
        let mut st = Stateful::default();
        let mut taken = CaptureStats::default();
        // The walker of the last stretch taken: where the next one must start.
        let mut last: Option<RecordReader<'a>> = None;
        let mut base = 0u32;
        let mut stopped = false;
        let threads = options.threads.clamp(1, plans.len().max(1));
        ordered_parallel(
            plans.len(),
            threads,
            2 * threads + 1,
            |i| match plans.get(i).and_then(|plan| self.segment_reader(plan)) {
                Some(reader) => walk(scan, reader),
                None => Stretch {
                    reader: None,
                    start: usize::MAX,
                    start_kind: None,
                    part: None,
                    residue: Vec::new(),
                    taken: CaptureStats::default(),
                },
            },
            |i, stretch| {
                let Some(plan) = plans.get(i) else { return };
                if stopped {
                    return;
                }
                let stretch = match &last {
                    None => stretch,
                    Some(prev) if prev.pos() >= plan.limit => return,
                    Some(prev)
                        if stretch.reader.is_some()
                            && stretch.start == prev.pos()
                            && stretch.start_kind.as_ref() == Some(prev.kind()) =>
                    {
                        stretch
                    }
                    // The guess was wrong (or found nothing, or the stretch before declared
                    // interfaces or began a section): walk from where records really start,
                    // in the state they start in.
                    Some(prev) => walk(scan, prev.resume(plan.limit)),
                };
                let (Some(reader), Some(part)) = (stretch.reader, stretch.part) else {
                    return;
                };
                taken.absorb(stretch.taken);
                let mut events = Vec::with_capacity(stretch.residue.len());
                for mut p in stretch.residue {
                    rebase(&mut p, base);
                    st.apply(p, &mut events);
                }
                sink(Scanned::Stretch {
                    part,
                    frame_base: base,
                    events,
                });
                base = base.saturating_add(reader.frames());
                taken.declare(reader.declared_links());
                self.forget_pages(stretch.start, reader.pos());
                stopped = reader.stopped();
                last = Some(reader);
            },
        );
        let mut out = Vec::new();
        st.finish(&mut out);
        if !out.is_empty() {
            sink(Scanned::Events(out));
        }
        let mut stats = st.stats;
        stats.absorb(taken);
        stats
    }
}

/// Shared between the walking threads and the consumer of [`ordered_parallel`].
struct Slots<T> {
    ready: BTreeMap<usize, T>,
    /// Results handed to the consumer so far.
    consumed: usize,
    /// A thread failed (panicked): everybody stops waiting.
    failed: bool,
}

struct Shared<T> {
    slots: Mutex<Slots<T>>,
    changed: Condvar,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, Slots<T>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'g>(&self, g: MutexGuard<'g, Slots<T>>) -> MutexGuard<'g, Slots<T>> {
        self.changed.wait(g).unwrap_or_else(PoisonError::into_inner)
    }
}

/// Marks the shared state failed if its thread unwinds, so no one waits for it forever.
struct FailOnUnwind<'s, T>(&'s Shared<T>);

impl<T> Drop for FailOnUnwind<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().failed = true;
            self.0.changed.notify_all();
        }
    }
}

/// Run `work(0..n)` on `threads` threads and hand the results to `consume` in index order on
/// the calling thread, with at most `window` results ahead of the consumer.
fn ordered_parallel<T: Send>(
    n: usize,
    threads: usize,
    window: usize,
    work: impl Fn(usize) -> T + Sync,
    mut consume: impl FnMut(usize, T),
) {
    if threads <= 1 || n <= 1 {
        for i in 0..n {
            consume(i, work(i));
        }
        return;
    }
    let shared = Shared {
        slots: Mutex::new(Slots {
            ready: BTreeMap::new(),
            consumed: 0,
            failed: false,
        }),
        changed: Condvar::new(),
    };
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let _guard = FailOnUnwind(&shared);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    {
                        let mut g = shared.lock();
                        while i >= g.consumed + window && !g.failed {
                            g = shared.wait(g);
                        }
                        if g.failed {
                            return;
                        }
                    }
                    let r = work(i);
                    shared.lock().ready.insert(i, r);
                    shared.changed.notify_all();
                }
            });
        }
        let _guard = FailOnUnwind(&shared);
        for i in 0..n {
            let r = {
                let mut g = shared.lock();
                loop {
                    if let Some(r) = g.ready.remove(&i) {
                        break r;
                    }
                    if g.failed {
                        return;
                    }
                    g = shared.wait(g);
                }
            };
            consume(i, r);
            shared.lock().consumed = i + 1;
            shared.changed.notify_all();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_parallel_keeps_order_and_window() {
        let mut seen = Vec::new();
        ordered_parallel(100, 3, 4, |i| i * 2, |i, v| seen.push((i, v)));
        assert_eq!(seen, (0..100).map(|i| (i, i * 2)).collect::<Vec<_>>());
    }

    #[test]
    fn ordered_parallel_survives_a_panicking_worker() {
        let r = std::panic::catch_unwind(|| {
            ordered_parallel(
                50,
                2,
                3,
                |i| {
                    assert!(i != 7, "boom");
                    i
                },
                |_, _| {},
            )
        });
        assert!(r.is_err());
    }
}
