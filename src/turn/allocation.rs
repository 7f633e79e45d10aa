//! One allocation: its relay, owner, lifetime, permissions and channels.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::{FiveTuple, Time};
use crate::wire::{IntegrityKind, Key, TransactionId};

/// A channel binding. Usable while `now < expires`; after that its number and peer stay
/// reserved for the quarantine period (RFC 8656 section 12).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Channel {
    pub peer: SocketAddr,
    pub expires: Time,
}

#[derive(Debug, Clone)]
pub(crate) enum State {
    /// Waiting for the I/O layer to bind the relay socket.
    Binding {
        even: bool,
        attempts: u8,
        /// ADDRESS-ERROR-CODE to add for an ADDITIONAL-ADDRESS-FAMILY we do not serve.
        additional_family_error: bool,
        /// RESERVATION-TOKEN to return (EVEN-PORT with the R bit).
        token: Option<[u8; 8]>,
    },
    Active,
}

#[derive(Debug, Clone)]
pub(crate) struct Allocation {
    pub five: FiveTuple,
    pub user: String,
    pub key: Key,
    /// The integrity kind the client uses: responses answer in kind.
    pub kind: IntegrityKind,
    pub relay: SocketAddr,
    /// 0 IPv4, 1 IPv6.
    pub family: usize,
    pub state: State,
    pub expires: Time,
    pub lifetime: u32,
    pub permissions: HashMap<IpAddr, Time>,
    pub channels: HashMap<u16, Channel>,
    pub peer_channels: HashMap<SocketAddr, u16>,
    pub allocate_txid: TransactionId,
    /// The success response, resent for a retransmitted Allocate.
    pub allocate_response: Vec<u8>,
    /// The earliest deadline queued for this allocation in the server's timer heap.
    pub scheduled: Option<Time>,
}

impl Allocation {
    pub fn is_active(&self) -> bool {
        matches!(self.state, State::Active)
    }

    /// A permission for `ip` that has not expired at `now`.
    pub fn permitted(&self, ip: IpAddr, now: Time) -> bool {
        self.permissions.get(&ip).is_some_and(|t| now < *t)
    }

    /// The live channel bound to `peer`, if any.
    pub fn channel_for(&self, peer: SocketAddr, now: Time) -> Option<u16> {
        let n = *self.peer_channels.get(&peer)?;
        let c = self.channels.get(&n)?;
        (now < c.expires).then_some(n)
    }

    /// The peer of a live channel.
    pub fn channel_peer(&self, channel: u16, now: Time) -> Option<SocketAddr> {
        let c = self.channels.get(&channel)?;
        (now < c.expires).then_some(c.peer)
    }

    /// When something about this allocation next needs the clock.
    pub fn next_deadline(&self, quarantine: Duration) -> Time {
        let mut t = self.expires;
        for p in self.permissions.values() {
            t = t.min(*p);
        }
        for c in self.channels.values() {
            t = t.min(c.expires + quarantine);
        }
        t
    }

    /// Forget expired permissions and channels whose quarantine is over.
    pub fn sweep(&mut self, now: Time, quarantine: Duration) {
        self.permissions.retain(|_, t| now < *t);
        let peer_channels = &mut self.peer_channels;
        self.channels.retain(|n, c| {
            let keep = now < c.expires + quarantine;
            if !keep && peer_channels.get(&c.peer) == Some(n) {
                peer_channels.remove(&c.peer);
            }
            keep
        });
    }
}
