//! The event log: lines are cleaned and bounded on the event loop, then handed to a writer
//! thread through a bounded queue, so a slow or stopped reader of the log can never stall the
//! loop. When the queue is full a line is dropped and counted; the writer logs the count.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use super::rfc3339;

/// Lines waiting for the writer (at most [`MAX_LINE`] bytes each: a few MiB at most).
const QUEUE_LINES: usize = 4096;
/// Longest line written, timestamp excluded; the rest is cut and its size said.
pub const MAX_LINE: usize = 1024;

/// The loop's end of the log.
pub struct Log {
    queue: Option<SyncSender<String>>,
    dropped: Arc<AtomicU64>,
    finished: Receiver<()>,
}

impl Log {
    /// Start the writer thread on `out`.
    pub fn start(mut out: Box<dyn Write + Send>) -> Log {
        let (queue, lines) = mpsc::sync_channel::<String>(QUEUE_LINES);
        let (done, finished) = mpsc::channel();
        let dropped = Arc::new(AtomicU64::new(0));
        let counter = dropped.clone();
        let spawned = thread::Builder::new()
            .name("serve-log".into())
            .spawn(move || {
                write_lines(&lines, &mut *out, &counter);
                let _ = done.send(());
            });
        Log {
            // Without a writer thread every line counts as dropped.
            queue: spawned.ok().map(|_| queue),
            dropped,
            finished,
        }
    }

    /// Queue one line (cleaned, bounded and timestamped); never blocks.
    pub fn line(&self, text: &str) {
        let line = format!("{} {}", rfc3339(SystemTime::now()), clean(text, MAX_LINE));
        let sent = match &self.queue {
            Some(q) => match q.try_send(line) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            },
            None => false,
        };
        if !sent {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Let the writer finish what is queued, waiting at most `limit` (a reader that stopped
    /// reading must not hold up the exit).
    pub fn finish(mut self, limit: Duration) {
        self.queue = None;
        match self.finished.recv_timeout(limit) {
            Ok(()) | Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout) => {}
        }
    }
}

/// The writer thread: write every line, then, when lines were dropped meanwhile, a line saying
/// how many.
fn write_lines(lines: &Receiver<String>, out: &mut dyn Write, dropped: &AtomicU64) {
    while let Ok(first) = lines.recv() {
        // Write errors (closed pipe, full disk) are ignored: the writer keeps draining, so the
        // loop never waits on a log that is gone.
        let _ = writeln!(out, "{first}");
        // Write what else is queued before flushing once.
        while let Ok(more) = lines.try_recv() {
            let _ = writeln!(out, "{more}");
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(
                out,
                "{} log: {lost} line(s) dropped: the log was not read fast enough",
                rfc3339(SystemTime::now())
            );
        }
        let _ = out.flush();
    }
}

/// `text` as one printable line of at most `max` bytes: control characters (newlines, escape
/// sequences) are escaped as `\xNN` / `\u{NNNN}`, and what does not fit is replaced by a note
/// of how many bytes were cut.
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max) + 32);
    for (i, c) in text.char_indices() {
        let before = out.len();
        if c.is_control() {
            if (c as u32) < 0x100 {
                out.push_str(&format!("\\x{:02x}", c as u32));
            } else {
                out.push_str(&format!("\\u{{{:04x}}}", c as u32));
            }
        } else {
            out.push(c);
        }
        if out.len() > max {
            out.truncate(before);
            out.push_str(&format!("... ({} more bytes)", text.len() - i));
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn lines_are_one_printable_bounded_line() {
        assert_eq!(clean("plain", 100), "plain");
        assert_eq!(clean("a\nb\r\x1b[31m", 100), "a\\x0ab\\x0d\\x1b[31m");
        assert_eq!(clean("x\u{2028}y\u{85}", 100), "x\u{2028}y\\x85");
        let long = "é".repeat(1000);
        let c = clean(&long, 101);
        assert!(c.len() <= 101 + 32, "{}", c.len());
        assert!(c.ends_with("... (1900 more bytes)"), "{c}");
    }

    /// A writer that blocks until released, standing for a reader that stopped reading.
    struct Stuck(Arc<Mutex<()>>, Arc<Mutex<Vec<u8>>>);
    impl Write for Stuck {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let _g = self.0.lock().unwrap();
            self.1.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stuck_writer_never_blocks_lines_and_drops_are_counted() {
        let gate = Arc::new(Mutex::new(()));
        let written = Arc::new(Mutex::new(Vec::new()));
        let held = gate.lock().unwrap();
        let log = Log::start(Box::new(Stuck(gate.clone(), written.clone())));
        for i in 0..(QUEUE_LINES + 500) {
            log.line(&format!("line {i}"));
        }
        // Every call returned although nothing could be written.
        drop(held);
        log.finish(Duration::from_secs(5));
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert!(text.contains("line 0\n"), "the first line is written");
        assert!(
            text.contains("line(s) dropped: the log was not read fast enough"),
            "the drops are logged"
        );
    }
}
