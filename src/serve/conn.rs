//! One TCP client connection: bounded input and output buffers, and the limits that keep one
//! connection from taking more than its share of the loop or of memory.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

/// Bytes read from one connection per visit of the loop (then the other sockets get a turn).
pub const READ_BUDGET: usize = 64 << 10;
/// Frames handled from one connection per visit.
pub const FRAME_BUDGET: usize = 256;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 << 10;
/// Largest frame accepted from a connection that holds no allocation: the requests that come
/// before one (Binding, Allocate with credentials) are a few hundred bytes; a larger frame
/// closes the connection. With an allocation any frame (at most 65,555 bytes) is accepted.
pub const BARE_FRAME_MAX: usize = 4096;
/// Stop reading a connection with this much output waiting for it (its client does not read
/// its answers), and read again once it is down to [`RESUME_AT`].
pub const PAUSE_AT: usize = 64 << 10;
pub const RESUME_AT: usize = 16 << 10;
/// Output waiting for one connection beyond which more is dropped (relayed data for a client
/// that does not read: media is better lost than late).
pub const WRITE_MAX: usize = 256 << 10;

/// What a read from the connection gave.
pub enum ReadOutcome {
    /// Some bytes were appended to the input buffer (possibly none, after EINTR).
    Data(usize),
    /// Nothing more for now.
    WouldBlock,
    /// The client closed the connection, or it failed.
    Closed,
}

pub struct Conn {
    pub stream: TcpStream,
    pub client: SocketAddr,
    pub local: SocketAddr,
    /// Bytes read but not yet framed: at most one incomplete frame plus one read chunk.
    pub rbuf: Vec<u8>,
    /// Bytes waiting to be written, at most [`WRITE_MAX`].
    pub wbuf: Vec<u8>,
    /// Registered for WRITABLE as well.
    pub want_write: bool,
    /// Not read while its output is backed up (see [`PAUSE_AT`]).
    pub paused: bool,
    /// Since when the connection has held no allocation (`None` while it holds one).
    pub bare_since: Option<Instant>,
}

impl Conn {
    pub fn new(stream: TcpStream, client: SocketAddr, local: SocketAddr, now: Instant) -> Conn {
        Conn {
            stream,
            client,
            local,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
            want_write: false,
            paused: false,
            bare_since: Some(now),
        }
    }

    /// The largest frame this connection may send now.
    pub fn max_frame(&self) -> usize {
        if self.bare_since.is_some() {
            BARE_FRAME_MAX
        } else {
            usize::MAX
        }
    }

    /// How long the connection has been without an allocation.
    pub fn bare_for(&self, now: Instant) -> Duration {
        self.bare_since
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default()
    }

    /// Read at most `max` bytes (and at most one chunk) onto the input buffer.
    pub fn read_some(&mut self, max: usize) -> ReadOutcome {
        let len = self.rbuf.len();
        let want = max.clamp(1, READ_CHUNK);
        self.rbuf.resize(len + want, 0);
        let got = match self.rbuf.get_mut(len..) {
            Some(tail) => self.stream.read(tail),
            None => Ok(0),
        };
        let (keep, outcome) = match got {
            Ok(0) => (0, ReadOutcome::Closed),
            Ok(n) => (n, ReadOutcome::Data(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => (0, ReadOutcome::WouldBlock),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => (0, ReadOutcome::Data(0)),
            Err(_) => (0, ReadOutcome::Closed),
        };
        self.rbuf.truncate(len + keep);
        outcome
    }

    /// Put back what is left of the input buffer after `consumed` bytes were framed, and give
    /// a large buffer's memory back once it is empty (idle connections cost little).
    pub fn restore_input(&mut self, mut rbuf: Vec<u8>, consumed: usize) {
        rbuf.drain(..consumed.min(rbuf.len()));
        if rbuf.is_empty() && rbuf.capacity() > READ_CHUNK {
            rbuf = Vec::new();
        }
        self.rbuf = rbuf;
    }

    /// Write what is pending; ask for WRITABLE while something remains. Returns the number
    /// of bytes written.
    pub fn flush(&mut self, registry: &Registry, token: Token) -> io::Result<usize> {
        let mut written = 0;
        while written < self.wbuf.len() {
            match self.stream.write(self.wbuf.get(written..).unwrap_or(&[])) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.wbuf.drain(..written.min(self.wbuf.len()));
        if self.wbuf.is_empty() && self.wbuf.capacity() > WRITE_MAX {
            self.wbuf = Vec::new();
        }
        let want = !self.wbuf.is_empty();
        if want != self.want_write {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(&mut self.stream, token, interest)?;
            self.want_write = want;
        }
        Ok(written)
    }
}
