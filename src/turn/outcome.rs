//! What the core did with an input, and why: returned to the caller (replay explains differences
//! with it) and logged as events (serve).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::auth::NonceCheck;
use super::config::PeerDenial;
use super::FiveTuple;
use crate::wire::attr;
use crate::wire::Method;

/// The outcome of one call to `handle_client` / `handle_peer`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// A response was queued.
    Answered(Answer),
    /// An Allocate waits for the relay socket: the answer follows `Server::relay_bound`.
    Pending,
    /// Data was passed on (to a peer or to the client).
    Relayed,
    /// Nothing was sent.
    Dropped(DropReason),
}

impl Handled {
    /// The answer, if a response was queued.
    pub fn answer(&self) -> Option<&Answer> {
        match self {
            Handled::Answered(a) => Some(a),
            _ => None,
        }
    }
}

/// A response the core queued: which method, success or which error, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The method of the request answered.
    pub method: Method,
    /// `None` for a success response, else the error code.
    pub code: Option<u16>,
    /// Why the core answered so.
    pub reason: Reason,
}

impl Answer {
    /// `success` or `error NNN`, as the replay contract spells outcomes.
    pub fn outcome(&self) -> String {
        match self.code {
            None => "success".to_string(),
            Some(c) => format!("error {c}"),
        }
    }
}

/// Longest client-supplied string (USERNAME, REALM) shown in a reason, in characters.
pub const SHOWN_CHARS: usize = 64;

/// A client-supplied string in a reason: quoted and escaped as `{:?}` does (no control
/// character reaches a log line), and cut after [`SHOWN_CHARS`] characters so that a hostile
/// 64 KB USERNAME makes no 64 KB line.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(SHOWN_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => {
                let head = self.0.get(..cut).unwrap_or_default();
                write!(f, "{head:?}... ({} bytes)", self.0.len())
            }
        }
    }
}

/// Why the core answered as it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Binding answered with the reflexive address.
    Binding,
    /// No MESSAGE-INTEGRITY: the first request of a long-term credential exchange (401).
    Challenge,
    /// A required attribute is absent (400).
    MissingAttribute(&'static str),
    /// An attribute's value does not decode (400).
    BadAttribute(&'static str),
    /// The header says request but the body does not parse (400).
    Malformed(String),
    /// A request method the server does not know (400).
    UnknownMethod(Method),
    /// USERNAME is not among the configured credentials (401).
    UnknownUser(String),
    /// MESSAGE-INTEGRITY does not verify and the request's REALM is not the server's.
    RealmMismatch {
        /// The request's USERNAME.
        user: String,
        /// The request's REALM.
        realm: String,
        /// The server's realm.
        expected: String,
    },
    /// MESSAGE-INTEGRITY does not verify with the user's password.
    IntegrityFailed {
        /// The request's USERNAME.
        user: String,
    },
    /// The request verifies but its NONCE is not (or no longer) valid (438).
    Nonce(NonceCheck),
    /// Comprehension-required attributes the server does not understand (420).
    UnknownAttributes(Vec<u16>),
    /// The request verified and was carried out.
    Authenticated {
        /// The USERNAME it verified with.
        user: String,
    },
    /// A retransmitted Allocate answered from the cache.
    Retransmission,
    /// Allocate on a 5-tuple that already has an allocation (437).
    AllocationExists,
    /// Refresh / CreatePermission / ChannelBind without an allocation on the 5-tuple (437).
    NoAllocation,
    /// The allocation belongs to another username (441).
    WrongCredentials {
        /// The request's USERNAME.
        user: String,
        /// The USERNAME that made the allocation.
        owner: String,
    },
    /// REQUESTED-TRANSPORT other than UDP (17), with the protocol number asked for (442).
    UnsupportedTransport(u8),
    /// REQUESTED-ADDRESS-FAMILY the server has no relay address for (440).
    AddressFamily(String),
    /// A peer of another address family than the relay (443).
    PeerFamilyMismatch(SocketAddr),
    /// RESERVATION-TOKEN: this server keeps no reservations (508).
    NoReservation,
    /// The user already holds its quota of allocations (486).
    UserQuota {
        /// The USERNAME.
        user: String,
        /// Allocations the user holds now.
        held: u32,
        /// The per-user quota.
        quota: u32,
    },
    /// The concurrent-allocation cap (licence) is reached (508).
    Capacity {
        /// The cap.
        cap: u32,
    },
    /// No free port in the relay range (508).
    PortsExhausted {
        /// First port of the range.
        min: u16,
        /// Last port of the range.
        max: u16,
    },
    /// The I/O layer could not bind relay sockets (508).
    BindFailed,
    /// The I/O layer has no file descriptor left for a relay socket (508).
    NoDescriptors,
    /// The allocation holds its maximum of permissions (508).
    TooManyPermissions {
        /// The maximum.
        max: u32,
    },
    /// The peer policy refuses the peer address (403).
    PeerDenied {
        /// The peer's IP address.
        peer: IpAddr,
        /// The rule that refused it.
        rule: PeerDenial,
    },
    /// CHANNEL-NUMBER outside 0x4000-0x7FFF (400).
    BadChannelNumber(u16),
    /// The channel is bound (or still reserved) for another peer (400).
    ChannelInUse {
        /// The channel asked for.
        channel: u16,
        /// The peer it is bound to now.
        peer: SocketAddr,
    },
    /// The peer is bound to another channel (400).
    PeerHasChannel {
        /// The peer asked for.
        peer: SocketAddr,
        /// The channel it is bound to now.
        channel: u16,
    },
    /// The allocation holds its maximum of channels (508).
    TooManyChannels {
        /// The maximum.
        max: u32,
    },
    /// Both EVEN-PORT or REQUESTED-ADDRESS-FAMILY and RESERVATION-TOKEN, or similar (400).
    Conflict(&'static str),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Binding => f.write_str("Binding is answered without authentication"),
            Reason::Challenge => f.write_str(
                "the request carries no MESSAGE-INTEGRITY: challenged with REALM and NONCE",
            ),
            Reason::MissingAttribute(a) => write!(f, "the request lacks {a}"),
            Reason::BadAttribute(a) => write!(f, "the request's {a} does not decode"),
            Reason::Malformed(e) => write!(f, "the request does not parse: {e}"),
            Reason::UnknownMethod(m) => write!(f, "unknown request method {m}"),
            Reason::UnknownUser(u) => {
                write!(f, "USERNAME {} is not among the credentials", Shown(u))
            }
            Reason::RealmMismatch {
                user,
                realm,
                expected,
            } => write!(
                f,
                "the request from {} does not verify: its REALM {} differs from the realm \
                 {expected:?}",
                Shown(user),
                Shown(realm)
            ),
            Reason::IntegrityFailed { user } => write!(
                f,
                "the request's MESSAGE-INTEGRITY does not verify with the password of {}",
                Shown(user)
            ),
            Reason::Nonce(c) => write!(f, "the request verifies but its NONCE is {c}"),
            Reason::UnknownAttributes(types) => {
                f.write_str("unknown comprehension-required attributes")?;
                for t in types {
                    match attr::name(*t) {
                        Some(n) => write!(f, " {n}")?,
                        None => write!(f, " 0x{t:04x}")?,
                    }
                }
                Ok(())
            }
            Reason::Authenticated { user } => {
                write!(
                    f,
                    "the request verifies with the password of {}",
                    Shown(user)
                )
            }
            Reason::Retransmission => f.write_str("a retransmission, answered from the cache"),
            Reason::AllocationExists => {
                f.write_str("this 5-tuple already has an allocation (another transaction)")
            }
            Reason::NoAllocation => f.write_str("no allocation exists on this 5-tuple"),
            Reason::WrongCredentials { user, owner } => write!(
                f,
                "the allocation on this 5-tuple belongs to {}, the request is from {}",
                Shown(owner),
                Shown(user)
            ),
            Reason::UnsupportedTransport(p) => {
                write!(f, "REQUESTED-TRANSPORT {p} is not UDP (17)")
            }
            Reason::AddressFamily(fam) => write!(f, "no relay address of family {fam}"),
            Reason::PeerFamilyMismatch(p) => {
                write!(f, "peer {p} is not of the relayed address's family")
            }
            Reason::NoReservation => f.write_str("RESERVATION-TOKEN names no reservation"),
            Reason::UserQuota { user, held, quota } => write!(
                f,
                "{} already holds {held} allocation(s), the per-user quota is {quota}",
                Shown(user)
            ),
            Reason::Capacity { cap } => {
                write!(
                    f,
                    "{cap} concurrent allocations, the capacity limit, are in use"
                )
            }
            Reason::PortsExhausted { min, max } => {
                write!(f, "every relay port in {min}-{max} is in use")
            }
            Reason::BindFailed => f.write_str("no relay socket could be bound"),
            Reason::NoDescriptors => {
                f.write_str("the server has no file descriptor left for a relay socket")
            }
            Reason::TooManyPermissions { max } => {
                write!(f, "the allocation already has {max} permissions")
            }
            Reason::PeerDenied { peer, rule } => write!(f, "peer {peer}: {rule}"),
            Reason::BadChannelNumber(c) => {
                write!(f, "channel 0x{c:04x} is outside 0x4000-0x7FFF")
            }
            Reason::ChannelInUse { channel, peer } => {
                write!(f, "channel 0x{channel:04x} is bound to {peer}")
            }
            Reason::PeerHasChannel { peer, channel } => {
                write!(f, "peer {peer} is bound to channel 0x{channel:04x}")
            }
            Reason::TooManyChannels { max } => {
                write!(f, "the allocation already has {max} channels")
            }
            Reason::Conflict(what) => f.write_str(what),
        }
    }
}

/// Why an input produced nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// Neither STUN nor ChannelData.
    NotTurn,
    /// Does not parse (and is not a request that can be answered).
    Malformed,
    /// FINGERPRINT present and wrong.
    BadFingerprint,
    /// A response or an indication the server has no use for.
    Ignored,
    /// An Allocate retransmitted while its relay is being bound.
    InProgress,
    /// No allocation on the 5-tuple.
    NoAllocation,
    /// A Send indication without XOR-PEER-ADDRESS or DATA.
    BadIndication,
    /// No permission for this peer IP address on the allocation.
    NoPermission(IpAddr),
    /// No channel of this number bound on the allocation.
    NoChannel(u16),
    /// The peer is of another address family than the relay.
    PeerFamilyMismatch,
    /// Too large to carry in a Data indication.
    TooLarge,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::NotTurn => f.write_str("not STUN or ChannelData"),
            DropReason::Malformed => f.write_str("malformed"),
            DropReason::BadFingerprint => f.write_str("FINGERPRINT does not match"),
            DropReason::Ignored => f.write_str("nothing to do"),
            DropReason::InProgress => f.write_str("the Allocate is in progress"),
            DropReason::NoAllocation => f.write_str("no allocation"),
            DropReason::BadIndication => f.write_str("Send indication lacks XOR-PEER-ADDRESS/DATA"),
            DropReason::NoPermission(ip) => write!(f, "no permission for {ip}"),
            DropReason::NoChannel(c) => write!(f, "channel 0x{c:04x} is not bound"),
            DropReason::PeerFamilyMismatch => f.write_str("peer family differs from the relay's"),
            DropReason::TooLarge => f.write_str("too large for a Data indication"),
        }
    }
}

/// Why an allocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Its lifetime ran out.
    Expired,
    /// Refresh with LIFETIME 0.
    Refresh,
    /// The client's TCP connection closed.
    Disconnected,
    /// The server is stopping.
    Shutdown,
}

impl fmt::Display for DeleteReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeleteReason::Expired => "expired",
            DeleteReason::Refresh => "refresh-0",
            DeleteReason::Disconnected => "disconnected",
            DeleteReason::Shutdown => "shutdown",
        })
    }
}

/// An allocation event, one log line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An allocation made.
    Allocated {
        /// The client's 5-tuple.
        client: FiveTuple,
        /// The USERNAME that made it.
        user: String,
        /// The relayed address.
        relay: SocketAddr,
        /// Lifetime granted, in seconds.
        lifetime: u32,
    },
    /// An allocation refreshed.
    Refreshed {
        /// The client's 5-tuple.
        client: FiveTuple,
        /// The USERNAME.
        user: String,
        /// The relayed address.
        relay: SocketAddr,
        /// Lifetime granted, in seconds.
        lifetime: u32,
    },
    /// An allocation ended.
    Deleted {
        /// The client's 5-tuple.
        client: FiveTuple,
        /// The USERNAME that made it.
        user: String,
        /// The relayed address.
        relay: SocketAddr,
        /// Why it ended (released, expired...).
        reason: DeleteReason,
    },
    /// A permission installed (not a refresh of one).
    Permission {
        /// The client's 5-tuple.
        client: FiveTuple,
        /// The relayed address.
        relay: SocketAddr,
        /// The peer's IP address.
        peer: IpAddr,
    },
    /// A channel bound (not a refresh of one).
    Channel {
        /// The client's 5-tuple.
        client: FiveTuple,
        /// The relayed address.
        relay: SocketAddr,
        /// The channel number.
        channel: u16,
        /// The peer bound to it.
        peer: SocketAddr,
    },
    /// A request refused after authentication was attempted (not the first 401 challenge).
    Refused {
        /// The client's 5-tuple.
        client: FiveTuple,
        /// The method of the request.
        method: Method,
        /// The error code answered.
        code: u16,
        /// Why, as a sentence.
        reason: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Allocated {
                client,
                user,
                relay,
                lifetime,
            } => write!(
                f,
                "allocate client={client} relay={relay} user={user} lifetime={lifetime}s"
            ),
            Event::Refreshed {
                client,
                user,
                relay,
                lifetime,
            } => write!(
                f,
                "refresh client={client} relay={relay} user={user} lifetime={lifetime}s"
            ),
            Event::Deleted {
                client,
                user,
                relay,
                reason,
            } => write!(
                f,
                "delete client={client} relay={relay} user={user} reason={reason}"
            ),
            Event::Permission {
                client,
                relay,
                peer,
            } => write!(f, "permission client={client} relay={relay} peer={peer}"),
            Event::Channel {
                client,
                relay,
                channel,
                peer,
            } => write!(
                f,
                "channel client={client} relay={relay} peer={peer} channel=0x{channel:04x}"
            ),
            Event::Refused {
                client,
                method,
                code,
                reason,
            } => write!(
                f,
                "refuse client={client} method={method} code={code} why: {reason}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_strings_in_reasons_are_escaped_and_cut() {
        let r = Reason::UnknownUser("bob\n\x1b[2J".to_string());
        assert_eq!(
            r.to_string(),
            "USERNAME \"bob\\n\\u{1b}[2J\" is not among the credentials"
        );
        let long = Reason::UnknownUser("u".repeat(65_000)).to_string();
        assert!(long.len() < 200, "{}", long.len());
        assert!(long.contains("... (65000 bytes)"), "{long}");
    }
}
