//! A compact, owned summary of one STUN message: what diagnosis needs, never the payload bytes.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::capture::{Timestamp, Transport};
use crate::decode::Carrier;
use crate::wire::{attr, Attribute, Class, FingerprintVerdict, Message, Method, TransactionId};

/// ICE attributes of a Binding request (a connectivity or consent check).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IceAttrs {
    /// PRIORITY of the candidate (RFC 8445 section 7.1.1), None when absent.
    pub priority: Option<u32>,
    /// `Some(true)` ICE-CONTROLLING, `Some(false)` ICE-CONTROLLED.
    pub controlling: Option<bool>,
    /// USE-CANDIDATE present: the controlling agent nominates the pair.
    pub use_candidate: bool,
}

/// What the offline integrity check with the given credentials says about a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum CredCheck {
    /// No credentials given, or the message carries no USERNAME + MESSAGE-INTEGRITY.
    #[default]
    NotChecked,
    /// The USERNAME is not among the given credentials.
    UnknownUser,
    /// Verifies with credential `cred` and the message's own REALM.
    Verified {
        /// Index into [`FlowOptions::credentials`](super::FlowOptions::credentials).
        cred: usize,
    },
    /// Verifies with credential `cred` only when the key uses `realm` instead of the message's.
    VerifiedOtherRealm {
        /// Index into [`FlowOptions::credentials`](super::FlowOptions::credentials).
        cred: usize,
        /// The realm that makes it verify (`--realm`, or the realm of a challenge).
        realm: String,
    },
    /// Does not verify with any given password for this USERNAME (`cred`: the first such).
    Failed {
        /// Index into [`FlowOptions::credentials`](super::FlowOptions::credentials).
        cred: usize,
    },
    /// RFC 3489 integrity or a password algorithm this checker does not cover.
    Unsupported,
}

/// How many unprotected attribute types a message summary keeps (enough to name them).
pub const MAX_UNPROTECTED: usize = 8;

/// Peer addresses and unknown attribute types kept per message (a message may list thousands).
pub const MAX_LISTED: usize = 16;

/// One STUN message as the flow layer keeps it.
#[derive(Debug, Clone)]
pub struct Msg {
    /// Frame number in the capture.
    pub frame: u32,
    /// Capture time of the frame.
    pub ts: Timestamp,
    /// Transport the message (or its carrier) came on.
    pub transport: Transport,
    /// Source address on the wire.
    pub src: SocketAddr,
    /// Destination address on the wire.
    pub dst: SocketAddr,
    /// Set for messages relayed inside TURN (then `src`/`dst` are the carrier's).
    pub carried: Option<Carrier>,
    /// For carried messages: the peer (XOR-PEER-ADDRESS of the indication, or the channel's
    /// peer when known).
    pub carrier_peer: Option<SocketAddr>,
    /// For carried messages over a ChannelData: the channel number.
    pub carrier_channel: Option<u16>,
    /// Method from the message type.
    pub method: Method,
    /// Request, indication, success or error.
    pub class: Class,
    /// Transaction id.
    pub txid: TransactionId,
    /// Message length from the header (bytes after the 20-byte header).
    pub len: u16,
    /// True for an RFC 3489 message (no magic cookie).
    pub rfc3489: bool,
    /// ERROR-CODE of an error response (300-699), None otherwise.
    pub error: Option<u16>,
    /// Text attributes, shared with the capture's other messages that carry the same text.
    pub reason: Option<Arc<str>>,
    /// USERNAME, None when absent.
    pub username: Option<Arc<str>>,
    /// REALM, None when absent.
    pub realm: Option<Arc<str>>,
    /// NONCE, its first 64 bytes (hex unless printable ASCII); None when absent.
    pub nonce: Option<Arc<str>>,
    /// SOFTWARE, None when absent.
    pub software: Option<Arc<str>>,
    /// Carries MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256.
    pub has_integrity: bool,
    /// Attribute types after the integrity attribute (FINGERPRINT aside): not covered by the
    /// MAC, appended after signing. At most [`MAX_UNPROTECTED`] kept.
    pub unprotected_attrs: Box<[u16]>,
    /// Result of checking the integrity with the `--credential`s.
    pub cred: CredCheck,
    /// `Some((carried, computed))` when FINGERPRINT does not match; `Some((0,0))` misplaced.
    pub bad_fingerprint: Option<(u32, u32)>,
    /// LIFETIME in seconds, None when absent.
    pub lifetime: Option<u32>,
    /// XOR-MAPPED-ADDRESS (or MAPPED-ADDRESS), None when absent.
    pub mapped: Option<SocketAddr>,
    /// XOR-RELAYED-ADDRESS, None when absent.
    pub relayed: Option<SocketAddr>,
    /// XOR-PEER-ADDRESS values, the first [`MAX_LISTED`].
    pub peers: Vec<SocketAddr>,
    /// CHANNEL-NUMBER, None when absent.
    pub channel: Option<u16>,
    /// ALTERNATE-SERVER (300 Try Alternate), None when absent.
    pub alternate: Option<SocketAddr>,
    /// UNKNOWN-ATTRIBUTES, the first [`MAX_LISTED`].
    pub unknown_attrs: Vec<u16>,
    /// ICE attributes, for Binding requests only; None otherwise.
    pub ice: Option<IceAttrs>,
    /// REQUESTED-TRANSPORT protocol (17 UDP, 6 TCP), None when absent.
    pub requested_transport: Option<u8>,
}

impl Msg {
    /// Summarise `m`; the integrity check is done by the caller (it needs the credentials).
    #[allow(clippy::too_many_arguments)]
    pub fn summarise(
        m: &Message<'_>,
        frame: u32,
        ts: Timestamp,
        transport: Transport,
        src: SocketAddr,
        dst: SocketAddr,
        carried: Option<Carrier>,
    ) -> Msg {
        let txid = m.transaction_id();
        let mut s = Msg {
            frame,
            ts,
            transport,
            src,
            dst,
            carried,
            carrier_peer: None,
            carrier_channel: None,
            method: m.method(),
            class: m.class(),
            txid,
            len: u16::try_from(m.len()).unwrap_or(u16::MAX),
            rfc3489: m.is_rfc3489(),
            error: None,
            reason: None,
            username: None,
            realm: None,
            nonce: None,
            software: None,
            has_integrity: false,
            unprotected_attrs: Box::default(),
            cred: CredCheck::NotChecked,
            bad_fingerprint: None,
            lifetime: None,
            mapped: None,
            relayed: None,
            peers: Vec::new(),
            channel: None,
            alternate: None,
            unknown_attrs: Vec::new(),
            ice: None,
            requested_transport: None,
        };
        let mut ice = IceAttrs::default();
        let mut is_ice = false;
        let mut has_fingerprint = false;
        for a in m.attributes().map_while(Result::ok) {
            match a.typ {
                attr::MESSAGE_INTEGRITY | attr::MESSAGE_INTEGRITY_SHA256 => s.has_integrity = true,
                attr::FINGERPRINT => has_fingerprint = true,
                attr::NONCE => s.nonce = Some(short_text(a.value, 64)),
                attr::DATA => {}
                _ => {}
            }
            if matches!(
                a.typ,
                attr::MESSAGE_INTEGRITY
                    | attr::MESSAGE_INTEGRITY_SHA256
                    | attr::FINGERPRINT
                    | attr::NONCE
                    | attr::DATA
            ) {
                continue;
            }
            let Ok(v) = a.decode(&txid) else { continue };
            match v {
                Attribute::ErrorCode { code, reason } => {
                    s.error = Some(code);
                    s.reason = Some(reason.chars().take(80).collect::<String>().into());
                }
                Attribute::Username(u) => s.username = Some(truncate(u, 128)),
                Attribute::Realm(r) => s.realm = Some(truncate(r, 128)),
                Attribute::Software(x) => s.software = Some(truncate(x, 80)),
                Attribute::Lifetime(l) => s.lifetime = Some(l),
                Attribute::XorMappedAddress(x) => s.mapped = Some(x),
                Attribute::MappedAddress(x) if s.mapped.is_none() => s.mapped = Some(x),
                Attribute::XorRelayedAddress(x) => s.relayed = Some(x),
                Attribute::XorPeerAddress(x) if s.peers.len() < MAX_LISTED => s.peers.push(x),
                Attribute::ChannelNumber(c) => s.channel = Some(c),
                Attribute::Address { typ, addr } if typ == attr::ALTERNATE_SERVER => {
                    s.alternate = Some(addr)
                }
                Attribute::UnknownAttributes(mut list) => {
                    list.truncate(MAX_LISTED);
                    s.unknown_attrs = list;
                }
                Attribute::Priority(p) => {
                    ice.priority = Some(p);
                    is_ice = true;
                }
                Attribute::IceControlling(_) => {
                    ice.controlling = Some(true);
                    is_ice = true;
                }
                Attribute::IceControlled(_) => {
                    ice.controlling = Some(false);
                    is_ice = true;
                }
                Attribute::UseCandidate => {
                    ice.use_candidate = true;
                    is_ice = true;
                }
                Attribute::RequestedTransport(p) => s.requested_transport = Some(p),
                _ => {}
            }
        }
        if s.has_integrity {
            s.unprotected_attrs = m
                .unprotected_attributes()
                .map(|a| a.typ)
                .take(MAX_UNPROTECTED)
                .collect();
        }
        if is_ice && s.method == Method::BINDING {
            s.ice = Some(ice);
        }
        if has_fingerprint {
            match m.verify_fingerprint() {
                FingerprintVerdict::Invalid { carried, computed } => {
                    s.bad_fingerprint = Some((carried, computed))
                }
                FingerprintVerdict::Misplaced => s.bad_fingerprint = Some((0, 0)),
                _ => {}
            }
        }
        s
    }

    /// USERNAME and MESSAGE-INTEGRITY: a request made with credentials.
    pub fn is_authenticated(&self) -> bool {
        self.username.is_some() && self.has_integrity
    }

    /// An ICE connectivity or consent check (Binding request with ICE attributes).
    pub fn is_ice_check(&self) -> bool {
        self.ice.is_some() && self.class == Class::Request
    }

    /// "success", "error 401", ... for a response; the class name otherwise.
    pub fn outcome(&self) -> String {
        match (self.class, self.error) {
            (Class::Error, Some(c)) => format!("error {c}"),
            (Class::Error, None) => "error".into(),
            (c, _) => c.as_str().into(),
        }
    }
}

/// `s` cut to at most `max` bytes (on a character boundary).
pub(crate) fn truncate(s: &str, max: usize) -> Arc<str> {
    if s.len() <= max {
        s.into()
    } else {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].into()
    }
}

/// A NONCE as text: printable ASCII kept, anything else hex.
fn short_text(v: &[u8], max: usize) -> Arc<str> {
    let v = &v[..v.len().min(max)];
    if v.iter().all(|b| (0x20..0x7f).contains(b)) {
        String::from_utf8_lossy(v).into()
    } else {
        v.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into()
    }
}

/// TURN methods: what a TURN client sends to its server.
pub fn is_turn_method(m: Method) -> bool {
    matches!(
        m,
        Method::ALLOCATE
            | Method::REFRESH
            | Method::CREATE_PERMISSION
            | Method::CHANNEL_BIND
            | Method::CONNECT
            | Method::CONNECTION_BIND
    )
}
