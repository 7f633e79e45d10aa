//! File descriptors: how many the server may use, which errors mean it has run out, and a
//! spare descriptor that lets a listener refuse connections cleanly when none is left.

use std::fs::File;
use std::io;

/// Descriptors kept out of every budget: stdio, epoll, the waker, the spare, the log thread,
/// /dev/urandom at start, and slack for the libraries.
pub const RESERVED: u64 = 32;

/// Raise the soft RLIMIT_NOFILE to the hard limit (as coturn does) and return the soft limit
/// in force; `None` when it cannot be read.
pub fn raise_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
    }
    Some(lim.rlim_cur)
}

/// True when `e` says the process or the system has no descriptor (or socket memory) left:
/// nothing is wrong with the address or port that was asked for.
pub fn exhausted(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// One descriptor held in reserve: when accept fails for lack of descriptors, the listener
/// releases it, accepts the waiting connection, closes it at once (the client sees the
/// connection close instead of hanging in the backlog) and takes it back.
pub struct Spare(Option<File>);

impl Spare {
    pub fn new() -> Spare {
        Spare(File::open("/dev/null").ok())
    }

    /// Run `refuse` with the spare descriptor freed; false when there was none to free.
    pub fn while_released(&mut self, refuse: impl FnOnce()) -> bool {
        if self.0.take().is_none() {
            self.0 = File::open("/dev/null").ok();
            return false;
        }
        refuse();
        self.0 = File::open("/dev/null").ok();
        true
    }
}

impl Default for Spare {
    fn default() -> Self {
        Spare::new()
    }
}
