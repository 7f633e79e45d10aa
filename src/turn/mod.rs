//! A sans-IO TURN server core (RFC 8656 over RFC 8489): no sockets, no clock, no randomness of
//! its own. The caller passes in every datagram or framed stream message with the time it
//! arrived, and takes out what to send, which relay sockets to bind or release, and allocation
//! events to log.
//!
//! Used by `turnscope replay` (captured requests, captured times) and `turnscope serve` (sockets
//! and timers in `crate::serve`). Depends on `crate::wire` only.
//!
//! ```
//! use turnscope::turn::{Config, Server, Transport, Time, Output, SequenceNonces};
//! use std::time::Duration;
//! # fn main() -> Result<(), std::net::AddrParseError> {
//! let config = Config::default().credential("alice", "secret");
//! let mut server = Server::new(config, Box::new(SequenceNonces::new(Duration::from_secs(600))));
//! # let bytes = [0u8; 0];
//! let now = Time::from_secs(0);
//! let client = "192.0.2.1:5000".parse()?;
//! let local = "198.51.100.1:3478".parse()?;
//! server.handle_client(now, Transport::Udp, client, local, &bytes);
//! while let Some(out) = server.poll_output() {
//!     match out {
//!         Output::ToClient { .. } | Output::ToPeer { .. } => { /* send */ }
//!         Output::BindRelay { relay } => { server.relay_bound(now, relay, true); }
//!         Output::ReleaseRelay { .. } | Output::Event(_) => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod allocation;
pub mod auth;
pub mod config;
#[cfg(feature = "testsupport")]
pub mod fuzzing;
mod outcome;
pub mod relay_ports;
mod server;

use std::fmt;
use std::net::SocketAddr;
use std::ops::{Add, Sub};
use std::time::Duration;

pub use auth::{Credentials, NonceCheck, NonceSource, SequenceNonces, StatelessNonces};
pub use config::{
    canonical, embedded_ipv4, Cidr, Config, Embedding, PeerDenial, PeerPolicy, Profile,
};
pub use outcome::{Answer, DeleteReason, DropReason, Event, Handled, Reason};
pub use server::{AllocationInfo, Server};

/// A point in time: nanoseconds since an origin the caller chooses (a capture's epoch, a
/// server's start). Only differences matter to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(i64);

impl Time {
    /// `nanos` nanoseconds after the origin.
    pub const fn from_nanos(nanos: i64) -> Time {
        Time(nanos)
    }

    /// `secs` seconds after the origin (saturating).
    pub const fn from_secs(secs: i64) -> Time {
        Time(secs.saturating_mul(1_000_000_000))
    }

    /// `ms` milliseconds after the origin (saturating).
    pub fn from_millis(ms: i64) -> Time {
        Time(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds after the origin.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds (rounded down).
    pub fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    /// How long after `earlier` this is; zero if it is not after.
    pub fn saturating_duration_since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0).max(0) as u64)
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        Time(self.0.saturating_add(nanos(d)))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;
    fn sub(self, d: Duration) -> Time {
        Time(self.0.saturating_sub(nanos(d)))
    }
}

/// The transport between client and server. (Relays are always UDP.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// UDP datagrams, one message each.
    Udp,
    /// A TCP connection: STUN messages and padded ChannelData, framed by the caller.
    Tcp,
}

impl Transport {
    /// `udp` or `tcp`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The client side of an allocation: transport, client address, and the server address the
/// client sent to (RFC 8656's 5-tuple).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FiveTuple {
    /// UDP or TCP.
    pub transport: Transport,
    /// The client's address as the server sees it (after any NAT).
    pub client: SocketAddr,
    /// The server address the client sent to (one of the listening addresses).
    pub server: SocketAddr,
}

impl fmt::Display for FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.transport, self.client)
    }
}

/// Why the I/O layer could not bind a relay socket ([`Server::relay_bind_failed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindFailure {
    /// Something else holds the port: skip it for a while.
    PortInUse,
    /// The process (or system) has no file descriptor left: no port is to blame.
    NoDescriptors,
    /// Anything else: treated like a port in use.
    Other,
}

/// What the core asks the I/O layer to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send a STUN message or ChannelData (already padded on TCP) to a client.
    ToClient {
        /// The client's 5-tuple (its connection, on TCP).
        to: FiveTuple,
        /// The message, ready to send.
        bytes: Vec<u8>,
    },
    /// Send a datagram from the relay socket `relay` to `peer`.
    ToPeer {
        /// The relayed address to send from.
        relay: SocketAddr,
        /// The peer to send to.
        peer: SocketAddr,
        /// The application data, unwrapped from its Send indication or ChannelData.
        bytes: Vec<u8>,
    },
    /// Bind a UDP socket on `relay`, then report with [`Server::relay_bound`].
    BindRelay {
        /// The address (IP and port) to bind.
        relay: SocketAddr,
    },
    /// Close the relay socket on `relay`.
    ReleaseRelay {
        /// The address of the socket to close.
        relay: SocketAddr,
    },
    /// Something to log (one line per allocation event).
    Event(Event),
}
