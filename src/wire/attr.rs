//! Attributes: type numbers and names, the raw (type, value) view, and typed decoding.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::message::{hex, TransactionId, MAGIC_COOKIE};
use super::WireError;

// RFC 3489 / 5389 / 8489
/// MAPPED-ADDRESS attribute type (RFC 8489 section 14.1).
pub const MAPPED_ADDRESS: u16 = 0x0001;
/// RESPONSE-ADDRESS attribute type (RFC 3489 only, deprecated).
pub const RESPONSE_ADDRESS: u16 = 0x0002;
/// CHANGE-REQUEST attribute type (RFC 3489; RFC 5780 section 7.2).
pub const CHANGE_REQUEST: u16 = 0x0003;
/// SOURCE-ADDRESS attribute type (RFC 3489 only, deprecated).
pub const SOURCE_ADDRESS: u16 = 0x0004;
/// CHANGED-ADDRESS attribute type (RFC 3489 only, deprecated).
pub const CHANGED_ADDRESS: u16 = 0x0005;
/// USERNAME attribute type (RFC 8489 section 14.3).
pub const USERNAME: u16 = 0x0006;
/// PASSWORD attribute type (RFC 3489 only, deprecated).
pub const PASSWORD: u16 = 0x0007;
/// MESSAGE-INTEGRITY attribute type (RFC 8489 section 14.5).
pub const MESSAGE_INTEGRITY: u16 = 0x0008;
/// ERROR-CODE attribute type (RFC 8489 section 14.8).
pub const ERROR_CODE: u16 = 0x0009;
/// UNKNOWN-ATTRIBUTES attribute type (RFC 8489 section 14.13).
pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
/// REFLECTED-FROM attribute type (RFC 3489 only, deprecated).
pub const REFLECTED_FROM: u16 = 0x000B;
/// REALM attribute type (RFC 8489 section 14.9).
pub const REALM: u16 = 0x0014;
/// NONCE attribute type (RFC 8489 section 14.10).
pub const NONCE: u16 = 0x0015;
/// MESSAGE-INTEGRITY-SHA256 attribute type (RFC 8489 section 14.6).
pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
/// PASSWORD-ALGORITHM attribute type (RFC 8489 section 14.12).
pub const PASSWORD_ALGORITHM: u16 = 0x001D;
/// USERHASH attribute type (RFC 8489 section 14.4).
pub const USERHASH: u16 = 0x001E;
/// XOR-MAPPED-ADDRESS attribute type (RFC 8489 section 14.2).
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
/// PASSWORD-ALGORITHMS attribute type (RFC 8489 section 14.11).
pub const PASSWORD_ALGORITHMS: u16 = 0x8002;
/// ALTERNATE-DOMAIN attribute type (RFC 8489 section 14.16).
pub const ALTERNATE_DOMAIN: u16 = 0x8003;
/// SOFTWARE attribute type (RFC 8489 section 14.14).
pub const SOFTWARE: u16 = 0x8022;
/// ALTERNATE-SERVER attribute type (RFC 8489 section 14.15).
pub const ALTERNATE_SERVER: u16 = 0x8023;
/// FINGERPRINT attribute type (RFC 8489 section 14.7).
pub const FINGERPRINT: u16 = 0x8028;
// RFC 8656 TURN
/// CHANNEL-NUMBER attribute type (RFC 8656 section 18.1).
pub const CHANNEL_NUMBER: u16 = 0x000C;
/// LIFETIME attribute type (RFC 8656 section 18.2).
pub const LIFETIME: u16 = 0x000D;
/// BANDWIDTH attribute type (pre-RFC 5766 TURN drafts; reserved since).
pub const BANDWIDTH: u16 = 0x0010;
/// XOR-PEER-ADDRESS attribute type (RFC 8656 section 18.3).
pub const XOR_PEER_ADDRESS: u16 = 0x0012;
/// DATA attribute type (RFC 8656 section 18.4).
pub const DATA: u16 = 0x0013;
/// XOR-RELAYED-ADDRESS attribute type (RFC 8656 section 18.5).
pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
/// REQUESTED-ADDRESS-FAMILY attribute type (RFC 8656 section 18.6).
pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
/// EVEN-PORT attribute type (RFC 8656 section 18.7).
pub const EVEN_PORT: u16 = 0x0018;
/// REQUESTED-TRANSPORT attribute type (RFC 8656 section 18.8).
pub const REQUESTED_TRANSPORT: u16 = 0x0019;
/// DONT-FRAGMENT attribute type (RFC 8656 section 18.9).
pub const DONT_FRAGMENT: u16 = 0x001A;
/// RESERVATION-TOKEN attribute type (RFC 8656 section 18.10).
pub const RESERVATION_TOKEN: u16 = 0x0022;
/// ADDITIONAL-ADDRESS-FAMILY attribute type (RFC 8656 section 18.11).
pub const ADDITIONAL_ADDRESS_FAMILY: u16 = 0x8000;
/// ADDRESS-ERROR-CODE attribute type (RFC 8656 section 18.12).
pub const ADDRESS_ERROR_CODE: u16 = 0x8001;
/// ICMP attribute type (RFC 8656 section 18.13).
pub const ICMP: u16 = 0x8004;
// RFC 6062
/// CONNECTION-ID attribute type (RFC 6062 section 6.2.1).
pub const CONNECTION_ID: u16 = 0x002A;
// RFC 8445 ICE
/// PRIORITY attribute type (RFC 8445 section 7.1.1).
pub const PRIORITY: u16 = 0x0024;
/// USE-CANDIDATE attribute type (RFC 8445 section 7.1.2).
pub const USE_CANDIDATE: u16 = 0x0025;
/// ICE-CONTROLLED attribute type (RFC 8445 section 7.1.3).
pub const ICE_CONTROLLED: u16 = 0x8029;
/// ICE-CONTROLLING attribute type (RFC 8445 section 7.1.3).
pub const ICE_CONTROLLING: u16 = 0x802A;
// RFC 5780
/// PADDING attribute type (RFC 5780 section 7.6).
pub const PADDING: u16 = 0x0026;
/// RESPONSE-PORT attribute type (RFC 5780 section 7.5).
pub const RESPONSE_PORT: u16 = 0x0027;
/// CACHE-TIMEOUT attribute type (RFC 5780).
pub const CACHE_TIMEOUT: u16 = 0x8027;
/// RESPONSE-ORIGIN attribute type (RFC 5780 section 7.3).
pub const RESPONSE_ORIGIN: u16 = 0x802B;
/// OTHER-ADDRESS attribute type (RFC 5780 section 7.4).
pub const OTHER_ADDRESS: u16 = 0x802C;
// Others registered with IANA
/// ACCESS-TOKEN attribute type (RFC 7635).
pub const ACCESS_TOKEN: u16 = 0x001B;
/// TRANSACTION-TRANSMIT-COUNTER attribute type (RFC 7982).
pub const TRANSACTION_TRANSMIT_COUNTER: u16 = 0x8025;
/// ECN-CHECK-STUN attribute type (RFC 6679).
pub const ECN_CHECK_STUN: u16 = 0x802D;
/// THIRD-PARTY-AUTHORIZATION attribute type (RFC 7635).
pub const THIRD_PARTY_AUTHORIZATION: u16 = 0x802E;
/// MOBILITY-TICKET attribute type (RFC 8016).
pub const MOBILITY_TICKET: u16 = 0x8030;
// Microsoft MS-TURN / MS-ICE2
/// MS-VERSION attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_VERSION: u16 = 0x8008;
/// MS-XOR-MAPPED-ADDRESS attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_XOR_MAPPED_ADDRESS: u16 = 0x8020;
/// MS-ALTERNATE-HOST-NAME attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_ALTERNATE_HOST_NAME: u16 = 0x8032;
/// MS-APP-ID attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_APP_ID: u16 = 0x8037;
/// MS-SECURE-TAG attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_SECURE_TAG: u16 = 0x8039;
/// MS-SEQUENCE-NUMBER attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_SEQUENCE_NUMBER: u16 = 0x8050;
/// MS-CANDIDATE-IDENTIFIER attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_CANDIDATE_IDENTIFIER: u16 = 0x8054;
/// MS-SERVICE-QUALITY attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_SERVICE_QUALITY: u16 = 0x8055;
/// MS-IMPLEMENTATION-VERSION attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_IMPLEMENTATION_VERSION: u16 = 0x8070;
/// MS-ALT-MAPPED-ADDRESS attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_ALT_MAPPED_ADDRESS: u16 = 0x8090;
/// MS-MULTIPLEXED-TURN-SESSION-ID attribute type (Microsoft [MS-TURN]/[MS-ICE2]).
pub const MS_MULTIPLEXED_TURN_SESSION_ID: u16 = 0x8095;
// Cisco
/// CISCO-STUN-FLOWDATA attribute type (Cisco, registered with IANA).
pub const CISCO_STUN_FLOWDATA: u16 = 0xC000;
/// ENF-FLOW-DESCRIPTION attribute type (Cisco, registered with IANA).
pub const CISCO_ENF_FLOW_DESCRIPTION: u16 = 0xC001;
/// ENF-NETWORK-STATUS attribute type (Cisco, registered with IANA).
pub const CISCO_ENF_NETWORK_STATUS: u16 = 0xC002;
/// CISCO-WEBEX-FLOW-INFO attribute type (Cisco, registered with IANA).
pub const CISCO_WEBEX_FLOW_INFO: u16 = 0xC003;
// Google (libwebrtc)
/// GOOG-NETWORK-INFO attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_NETWORK_INFO: u16 = 0xC057;
/// GOOG-LAST-ICE-CHECK-RECEIVED attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_LAST_ICE_CHECK_RECEIVED: u16 = 0xC058;
/// GOOG-MISC-INFO attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_MISC_INFO: u16 = 0xC059;
/// GOOG-OBSOLETE-1 attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_OBSOLETE_1: u16 = 0xC05A;
/// GOOG-CONNECTION-ID attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_CONNECTION_ID: u16 = 0xC05B;
/// GOOG-DELTA attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_DELTA: u16 = 0xC05C;
/// GOOG-DELTA-ACK attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_DELTA_ACK: u16 = 0xC05D;
/// GOOG-DELTA-SYNC-REQ attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_DELTA_SYNC_REQ: u16 = 0xC05E;
/// GOOG-MESSAGE-INTEGRITY-32 attribute type (Google libwebrtc, registered with IANA).
pub const GOOG_MESSAGE_INTEGRITY_32: u16 = 0xC060;

/// The registered (or well-known vendor) name of an attribute type.
pub fn name(typ: u16) -> Option<&'static str> {
    Some(match typ {
        MAPPED_ADDRESS => "MAPPED-ADDRESS",
        RESPONSE_ADDRESS => "RESPONSE-ADDRESS",
        CHANGE_REQUEST => "CHANGE-REQUEST",
        SOURCE_ADDRESS => "SOURCE-ADDRESS",
        CHANGED_ADDRESS => "CHANGED-ADDRESS",
        USERNAME => "USERNAME",
        PASSWORD => "PASSWORD",
        MESSAGE_INTEGRITY => "MESSAGE-INTEGRITY",
        ERROR_CODE => "ERROR-CODE",
        UNKNOWN_ATTRIBUTES => "UNKNOWN-ATTRIBUTES",
        REFLECTED_FROM => "REFLECTED-FROM",
        CHANNEL_NUMBER => "CHANNEL-NUMBER",
        LIFETIME => "LIFETIME",
        BANDWIDTH => "BANDWIDTH",
        XOR_PEER_ADDRESS => "XOR-PEER-ADDRESS",
        DATA => "DATA",
        REALM => "REALM",
        NONCE => "NONCE",
        XOR_RELAYED_ADDRESS => "XOR-RELAYED-ADDRESS",
        REQUESTED_ADDRESS_FAMILY => "REQUESTED-ADDRESS-FAMILY",
        EVEN_PORT => "EVEN-PORT",
        REQUESTED_TRANSPORT => "REQUESTED-TRANSPORT",
        DONT_FRAGMENT => "DONT-FRAGMENT",
        ACCESS_TOKEN => "ACCESS-TOKEN",
        MESSAGE_INTEGRITY_SHA256 => "MESSAGE-INTEGRITY-SHA256",
        PASSWORD_ALGORITHM => "PASSWORD-ALGORITHM",
        USERHASH => "USERHASH",
        XOR_MAPPED_ADDRESS => "XOR-MAPPED-ADDRESS",
        RESERVATION_TOKEN => "RESERVATION-TOKEN",
        PRIORITY => "PRIORITY",
        USE_CANDIDATE => "USE-CANDIDATE",
        PADDING => "PADDING",
        RESPONSE_PORT => "RESPONSE-PORT",
        CONNECTION_ID => "CONNECTION-ID",
        ADDITIONAL_ADDRESS_FAMILY => "ADDITIONAL-ADDRESS-FAMILY",
        ADDRESS_ERROR_CODE => "ADDRESS-ERROR-CODE",
        PASSWORD_ALGORITHMS => "PASSWORD-ALGORITHMS",
        ALTERNATE_DOMAIN => "ALTERNATE-DOMAIN",
        ICMP => "ICMP",
        MS_VERSION => "MS-VERSION",
        MS_XOR_MAPPED_ADDRESS => "MS-XOR-MAPPED-ADDRESS",
        SOFTWARE => "SOFTWARE",
        ALTERNATE_SERVER => "ALTERNATE-SERVER",
        TRANSACTION_TRANSMIT_COUNTER => "TRANSACTION-TRANSMIT-COUNTER",
        CACHE_TIMEOUT => "CACHE-TIMEOUT",
        FINGERPRINT => "FINGERPRINT",
        ICE_CONTROLLED => "ICE-CONTROLLED",
        ICE_CONTROLLING => "ICE-CONTROLLING",
        RESPONSE_ORIGIN => "RESPONSE-ORIGIN",
        OTHER_ADDRESS => "OTHER-ADDRESS",
        ECN_CHECK_STUN => "ECN-CHECK-STUN",
        THIRD_PARTY_AUTHORIZATION => "THIRD-PARTY-AUTHORIZATION",
        MOBILITY_TICKET => "MOBILITY-TICKET",
        MS_ALTERNATE_HOST_NAME => "MS-ALTERNATE-HOST-NAME",
        MS_APP_ID => "MS-APP-ID",
        MS_SECURE_TAG => "MS-SECURE-TAG",
        MS_SEQUENCE_NUMBER => "MS-SEQUENCE-NUMBER",
        MS_CANDIDATE_IDENTIFIER => "MS-CANDIDATE-IDENTIFIER",
        MS_SERVICE_QUALITY => "MS-SERVICE-QUALITY",
        MS_IMPLEMENTATION_VERSION => "MS-IMPLEMENTATION-VERSION",
        MS_ALT_MAPPED_ADDRESS => "MS-ALT-MAPPED-ADDRESS",
        MS_MULTIPLEXED_TURN_SESSION_ID => "MS-MULTIPLEXED-TURN-SESSION-ID",
        CISCO_STUN_FLOWDATA => "CISCO-STUN-FLOWDATA",
        CISCO_ENF_FLOW_DESCRIPTION => "ENF-FLOW-DESCRIPTION",
        CISCO_ENF_NETWORK_STATUS => "ENF-NETWORK-STATUS",
        CISCO_WEBEX_FLOW_INFO => "CISCO-WEBEX-FLOW-INFO",
        GOOG_NETWORK_INFO => "GOOG-NETWORK-INFO",
        GOOG_LAST_ICE_CHECK_RECEIVED => "GOOG-LAST-ICE-CHECK-RECEIVED",
        GOOG_MISC_INFO => "GOOG-MISC-INFO",
        GOOG_OBSOLETE_1 => "GOOG-OBSOLETE-1",
        GOOG_CONNECTION_ID => "GOOG-CONNECTION-ID",
        GOOG_DELTA => "GOOG-DELTA",
        GOOG_DELTA_ACK => "GOOG-DELTA-ACK",
        GOOG_DELTA_SYNC_REQ => "GOOG-DELTA-SYNC-REQ",
        GOOG_MESSAGE_INTEGRITY_32 => "GOOG-MESSAGE-INTEGRITY-32",
        _ => return None,
    })
}

/// Comprehension-required attributes are 0x0000-0x7FFF (RFC 8489 section 14).
pub fn is_comprehension_required(typ: u16) -> bool {
    typ < 0x8000
}

/// The registered reason phrase of an error code.
pub fn error_name(code: u16) -> Option<&'static str> {
    Some(match code {
        274 => "Disable Candidate",
        275 => "Disable Candidate Pair",
        300 => "Try Alternate",
        400 => "Bad Request",
        401 => "Unauthenticated",
        403 => "Forbidden",
        405 => "Mobility Forbidden",
        420 => "Unknown Attribute",
        430 => "Stale Credentials",
        431 => "Integrity Check Failure",
        432 => "Missing Username",
        433 => "Use TLS",
        434 => "Missing Realm",
        435 => "Missing Nonce",
        436 => "Unknown User",
        437 => "Allocation Mismatch",
        438 => "Stale Nonce",
        440 => "Address Family not Supported",
        441 => "Wrong Credentials",
        442 => "Unsupported Transport Protocol",
        443 => "Peer Address Family Mismatch",
        446 => "Connection Already Exists",
        447 => "Connection Timeout or Failure",
        486 => "Allocation Quota Reached",
        487 => "Role Conflict",
        500 => "Server Error",
        508 => "Insufficient Capacity",
        600 => "Global Failure",
        _ => return None,
    })
}

/// An attribute as it is on the wire: type number and value bytes (padding excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAttribute<'a> {
    /// Attribute type number (see the constants in this module).
    pub typ: u16,
    /// Value bytes, without the 4-byte header and without padding.
    pub value: &'a [u8],
    /// Offset of the attribute header from the start of the message.
    pub offset: u32,
}

impl<'a> RawAttribute<'a> {
    /// The registered name of this attribute's type, None for an unassigned type.
    pub fn name(&self) -> Option<&'static str> {
        name(self.typ)
    }

    /// Decode into the typed view. XOR addresses need the message's transaction id.
    pub fn decode(&self, txid: &TransactionId) -> Result<Attribute<'a>, WireError> {
        decode(self.typ, self.value, txid)
    }
}

/// Address family numbers used by REQUESTED-ADDRESS-FAMILY and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4 (family byte 0x01).
    V4,
    /// IPv6 (family byte 0x02).
    V6,
    /// Any other family byte, kept as sent.
    Other(u8),
}

impl Family {
    fn from_byte(b: u8) -> Family {
        match b {
            0x01 => Family::V4,
            0x02 => Family::V6,
            o => Family::Other(o),
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Family::V4 => f.write_str("IPv4"),
            Family::V6 => f.write_str("IPv6"),
            Family::Other(o) => write!(f, "family 0x{o:02x}"),
        }
    }
}

/// A typed attribute value, borrowing from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribute<'a> {
    /// MAPPED-ADDRESS: the reflexive address in the clear (RFC 8489 section 14.1).
    MappedAddress(SocketAddr),
    /// XOR-MAPPED-ADDRESS, un-XORed: the server-reflexive address (RFC 8489 section 14.2).
    XorMappedAddress(SocketAddr),
    /// XOR-PEER-ADDRESS, un-XORed: the peer a TURN client talks to (RFC 8656 section 18.3).
    XorPeerAddress(SocketAddr),
    /// XOR-RELAYED-ADDRESS, un-XORed: the relayed address allocated (RFC 8656 section 18.5).
    XorRelayedAddress(SocketAddr),
    /// RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER, RESPONSE-ADDRESS, SOURCE-ADDRESS,
    /// CHANGED-ADDRESS, REFLECTED-FROM and vendor plain addresses, with their type.
    Address {
        /// Attribute type number.
        typ: u16,
        /// The address, as carried.
        addr: SocketAddr,
    },
    /// Vendor XOR addresses (MS-XOR-MAPPED-ADDRESS), with their type.
    XorAddress {
        /// Attribute type number.
        typ: u16,
        /// The address, un-XORed.
        addr: SocketAddr,
    },
    /// USERNAME (RFC 8489 section 14.3); in ICE checks `remote-ufrag:local-ufrag`
    /// (RFC 8445 section 7.2.2).
    Username(&'a str),
    /// USERHASH: the 32-byte SHA-256 of username and realm (RFC 8489 section 14.4).
    UserHash(&'a [u8]),
    /// MESSAGE-INTEGRITY: the 20-byte HMAC-SHA1 (RFC 8489 section 14.5).
    MessageIntegrity(&'a [u8]),
    /// MESSAGE-INTEGRITY-SHA256: a 16-32 byte (truncated) HMAC-SHA256 (RFC 8489 section 14.6).
    MessageIntegritySha256(&'a [u8]),
    /// FINGERPRINT: CRC-32 of the message XORed with 0x5354554E (RFC 8489 section 14.7).
    Fingerprint(u32),
    /// ERROR-CODE (RFC 8489 section 14.8).
    ErrorCode {
        /// Error code 300-699 (class times 100 plus number).
        code: u16,
        /// Reason phrase as sent (trailing NULs trimmed; empty when not UTF-8).
        reason: &'a str,
    },
    /// UNKNOWN-ATTRIBUTES: the types the server did not understand (RFC 8489 section 14.13).
    UnknownAttributes(Vec<u16>),
    /// REALM (RFC 8489 section 14.9).
    Realm(&'a str),
    /// NONCE, as bytes (RFC 8489 section 14.10).
    Nonce(&'a [u8]),
    /// PASSWORD-ALGORITHM chosen by the client (RFC 8489 section 14.12).
    PasswordAlgorithm {
        /// Algorithm number, see [`PASSWORD_ALGORITHM_MD5`] and [`PASSWORD_ALGORITHM_SHA256`].
        algorithm: u16,
        /// Algorithm parameters (empty for MD5 and SHA-256).
        params: &'a [u8],
    },
    /// PASSWORD-ALGORITHMS offered by the server: (algorithm, parameters) pairs
    /// (RFC 8489 section 14.11).
    PasswordAlgorithms(Vec<(u16, &'a [u8])>),
    /// ALTERNATE-DOMAIN (RFC 8489 section 14.16).
    AlternateDomain(&'a str),
    /// SOFTWARE: the agent's product and version string (RFC 8489 section 14.14).
    Software(&'a str),
    /// CHANGE-REQUEST flags (RFC 5780 section 7.2).
    ChangeRequest {
        /// The "change IP" flag (0x4).
        change_ip: bool,
        /// The "change port" flag (0x2).
        change_port: bool,
    },
    /// CHANNEL-NUMBER (RFC 8656 section 18.1).
    ChannelNumber(u16),
    /// LIFETIME in seconds; 0 in a Refresh deletes the allocation (RFC 8656 section 18.2).
    Lifetime(u32),
    /// BANDWIDTH in kbit/s (pre-RFC 5766 TURN drafts).
    Bandwidth(u32),
    /// DATA: the relayed application data (RFC 8656 section 18.4).
    Data(&'a [u8]),
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 section 18.6).
    RequestedAddressFamily(Family),
    /// ADDITIONAL-ADDRESS-FAMILY, for a dual-stack allocation (RFC 8656 section 18.11).
    AdditionalAddressFamily(Family),
    /// ADDRESS-ERROR-CODE: why one family of a dual-stack allocation failed
    /// (RFC 8656 section 18.12).
    AddressErrorCode {
        /// The family that failed.
        family: Family,
        /// Error code 300-699.
        code: u16,
        /// Reason phrase as sent.
        reason: &'a str,
    },
    /// EVEN-PORT (RFC 8656 section 18.7).
    EvenPort {
        /// The R bit: also reserve the next-higher port.
        reserve: bool,
    },
    /// REQUESTED-TRANSPORT: IP protocol number, 17 UDP or 6 TCP (RFC 8656 section 18.8, RFC 6062).
    RequestedTransport(u8),
    /// DONT-FRAGMENT (RFC 8656 section 18.9).
    DontFragment,
    /// RESERVATION-TOKEN: 8 opaque bytes (RFC 8656 section 18.10).
    ReservationToken(&'a [u8]),
    /// ICMP: an ICMP packet the relay received from the peer (RFC 8656 section 18.13).
    Icmp {
        /// ICMP type.
        icmp_type: u8,
        /// ICMP code.
        code: u8,
        /// The ICMP error data field (e.g. the MTU for "fragmentation needed").
        data: u32,
    },
    /// CONNECTION-ID of a TCP relay connection (RFC 6062 section 6.2.1).
    ConnectionId(u32),
    /// PRIORITY of the candidate a check is sent for (RFC 8445 section 7.1.1).
    Priority(u32),
    /// USE-CANDIDATE: the controlling agent nominates this pair (RFC 8445 section 7.1.2).
    UseCandidate,
    /// ICE-CONTROLLED with its tie-breaker (RFC 8445 section 7.1.3).
    IceControlled(u64),
    /// ICE-CONTROLLING with its tie-breaker (RFC 8445 section 7.1.3).
    IceControlling(u64),
    /// PADDING: its length in bytes (RFC 5780 section 7.6).
    Padding(usize),
    /// RESPONSE-PORT (RFC 5780 section 7.5).
    ResponsePort(u16),
    /// CACHE-TIMEOUT in seconds (RFC 5780).
    CacheTimeout(u32),
    /// TRANSACTION-TRANSMIT-COUNTER (RFC 7982).
    TransactionTransmitCounter {
        /// Which retransmission of the request this answers (1 = first).
        request: u8,
        /// Which response this is (1 = first).
        response: u8,
    },
    /// MS-VERSION: the MS-TURN protocol version.
    MsVersion(u32),
    /// MS-SEQUENCE-NUMBER ([MS-TURN]).
    MsSequenceNumber {
        /// The 20-byte connection id.
        connection_id: &'a [u8],
        /// Sequence number within that connection.
        sequence: u32,
    },
    /// MS-IMPLEMENTATION-VERSION ([MS-ICE2]).
    MsImplementationVersion(u32),
    /// GOOG-NETWORK-INFO: libwebrtc's network of the candidate.
    GoogNetworkInfo {
        /// libwebrtc network id.
        network_id: u16,
        /// libwebrtc network cost (higher is costlier, e.g. cellular).
        cost: u16,
    },
    /// Any attribute this decoder has no structure for (vendor or unknown), kept whole.
    Opaque {
        /// Attribute type number.
        typ: u16,
        /// Value bytes, without padding.
        value: &'a [u8],
    },
}

fn be16(v: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*v.get(at)?, *v.get(at + 1)?]))
}

fn be32(v: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *v.get(at)?,
        *v.get(at + 1)?,
        *v.get(at + 2)?,
        *v.get(at + 3)?,
    ]))
}

fn be64(v: &[u8], at: usize) -> Option<u64> {
    Some((u64::from(be32(v, at)?) << 32) | u64::from(be32(v, at + 4)?))
}

fn bad(typ: u16, detail: impl Into<String>) -> WireError {
    WireError::BadAttribute {
        typ,
        name: name(typ).unwrap_or("attribute"),
        detail: detail.into(),
    }
}

fn exact(typ: u16, v: &[u8], len: usize) -> Result<(), WireError> {
    if v.len() == len {
        Ok(())
    } else {
        Err(bad(
            typ,
            format!("length {} where {} is required", v.len(), len),
        ))
    }
}

fn text(typ: u16, v: &[u8]) -> Result<&str, WireError> {
    std::str::from_utf8(v).map_err(|e| bad(typ, format!("not UTF-8 at byte {}", e.valid_up_to())))
}

/// Parse a (possibly XOR'd) address attribute value.
pub fn parse_address(
    typ: u16,
    v: &[u8],
    xor: Option<&TransactionId>,
) -> Result<SocketAddr, WireError> {
    let family = *v
        .get(1)
        .ok_or_else(|| bad(typ, "too short for an address"))?;
    let port = be16(v, 2).ok_or_else(|| bad(typ, "too short for an address"))?;
    let cookie = MAGIC_COOKIE.to_be_bytes();
    match family {
        0x01 => {
            exact(typ, v, 8)?;
            let mut ip = [0u8; 4];
            ip.copy_from_slice(v.get(4..8).unwrap_or(&[0; 4]));
            let (port, ip) = match xor {
                Some(_) => {
                    for (b, c) in ip.iter_mut().zip(cookie) {
                        *b ^= c;
                    }
                    (port ^ (MAGIC_COOKIE >> 16) as u16, ip)
                }
                None => (port, ip),
            };
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port))
        }
        0x02 => {
            exact(typ, v, 20)?;
            let mut ip = [0u8; 16];
            ip.copy_from_slice(v.get(4..20).unwrap_or(&[0; 16]));
            let port = match xor {
                Some(txid) => {
                    let mut mask = [0u8; 16];
                    mask[..4].copy_from_slice(&cookie);
                    mask[4..].copy_from_slice(txid.as_bytes().get(..12).unwrap_or(&[0; 12]));
                    for (b, m) in ip.iter_mut().zip(mask) {
                        *b ^= m;
                    }
                    port ^ (MAGIC_COOKIE >> 16) as u16
                }
                None => port,
            };
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port))
        }
        f => Err(bad(typ, format!("unknown address family 0x{f:02x}"))),
    }
}

fn parse_error_code(typ: u16, v: &[u8]) -> Result<(u16, &str), WireError> {
    if v.len() < 4 {
        return Err(bad(
            typ,
            format!("length {} is shorter than the 4-byte code", v.len()),
        ));
    }
    let class = u16::from(v.get(2).copied().unwrap_or(0) & 0x07);
    let number = u16::from(v.get(3).copied().unwrap_or(0));
    if !(3..=6).contains(&class) || number > 99 {
        return Err(bad(
            typ,
            format!("class {class} number {number} is not a valid error code"),
        ));
    }
    // A reason that is not UTF-8 is a sender bug, not a reason to lose the code.
    let reason = std::str::from_utf8(v.get(4..).unwrap_or(&[])).unwrap_or("");
    Ok((class * 100 + number, reason.trim_end_matches('\0')))
}

fn decode<'a>(typ: u16, v: &'a [u8], txid: &TransactionId) -> Result<Attribute<'a>, WireError> {
    let legacy = txid.is_legacy();
    Ok(match typ {
        MAPPED_ADDRESS => Attribute::MappedAddress(parse_address(typ, v, None)?),
        XOR_MAPPED_ADDRESS => Attribute::XorMappedAddress(parse_address(typ, v, Some(txid))?),
        XOR_PEER_ADDRESS if !legacy => {
            Attribute::XorPeerAddress(parse_address(typ, v, Some(txid))?)
        }
        XOR_RELAYED_ADDRESS => Attribute::XorRelayedAddress(parse_address(typ, v, Some(txid))?),
        MS_XOR_MAPPED_ADDRESS => Attribute::XorAddress {
            typ,
            addr: parse_address(typ, v, Some(txid))?,
        },
        RESPONSE_ADDRESS
        | SOURCE_ADDRESS
        | CHANGED_ADDRESS
        | REFLECTED_FROM
        | ALTERNATE_SERVER
        | RESPONSE_ORIGIN
        | OTHER_ADDRESS
        | MS_ALT_MAPPED_ADDRESS => Attribute::Address {
            typ,
            addr: parse_address(typ, v, None)?,
        },
        USERNAME => Attribute::Username(text(typ, v)?),
        USERHASH => {
            exact(typ, v, 32)?;
            Attribute::UserHash(v)
        }
        MESSAGE_INTEGRITY => {
            exact(typ, v, 20)?;
            Attribute::MessageIntegrity(v)
        }
        MESSAGE_INTEGRITY_SHA256 => {
            if v.len() < 16 || v.len() > 32 || !v.len().is_multiple_of(4) {
                return Err(bad(
                    typ,
                    format!("length {} is not 16..=32 in steps of 4", v.len()),
                ));
            }
            Attribute::MessageIntegritySha256(v)
        }
        FINGERPRINT => {
            exact(typ, v, 4)?;
            Attribute::Fingerprint(be32(v, 0).unwrap_or(0))
        }
        ERROR_CODE => {
            let (code, reason) = parse_error_code(typ, v)?;
            Attribute::ErrorCode { code, reason }
        }
        UNKNOWN_ATTRIBUTES => {
            if !v.len().is_multiple_of(2) {
                return Err(bad(typ, "odd length"));
            }
            Attribute::UnknownAttributes(
                v.chunks_exact(2)
                    .map(|c| u16::from_be_bytes([c[0], c[1]]))
                    .collect(),
            )
        }
        REALM => Attribute::Realm(text(typ, v)?),
        NONCE => Attribute::Nonce(v),
        PASSWORD_ALGORITHM => {
            let algorithm = be16(v, 0).ok_or_else(|| bad(typ, "too short"))?;
            let plen = usize::from(be16(v, 2).ok_or_else(|| bad(typ, "too short"))?);
            let params = v
                .get(4..4 + plen)
                .ok_or_else(|| bad(typ, "parameters overrun"))?;
            Attribute::PasswordAlgorithm { algorithm, params }
        }
        PASSWORD_ALGORITHMS => {
            let mut list = Vec::new();
            let mut at = 0usize;
            while at < v.len() {
                let algorithm = be16(v, at).ok_or_else(|| bad(typ, "truncated entry"))?;
                let plen = usize::from(be16(v, at + 2).ok_or_else(|| bad(typ, "truncated entry"))?);
                let params = v
                    .get(at + 4..at + 4 + plen)
                    .ok_or_else(|| bad(typ, "parameters overrun"))?;
                list.push((algorithm, params));
                at += 4 + ((plen + 3) & !3);
            }
            Attribute::PasswordAlgorithms(list)
        }
        ALTERNATE_DOMAIN => Attribute::AlternateDomain(text(typ, v)?),
        SOFTWARE => Attribute::Software(text(typ, v)?),
        CHANGE_REQUEST => {
            exact(typ, v, 4)?;
            let flags = be32(v, 0).unwrap_or(0);
            Attribute::ChangeRequest {
                change_ip: flags & 0x4 != 0,
                change_port: flags & 0x2 != 0,
            }
        }
        CHANNEL_NUMBER => {
            exact(typ, v, 4)?;
            Attribute::ChannelNumber(be16(v, 0).unwrap_or(0))
        }
        LIFETIME => {
            exact(typ, v, 4)?;
            Attribute::Lifetime(be32(v, 0).unwrap_or(0))
        }
        BANDWIDTH => {
            exact(typ, v, 4)?;
            Attribute::Bandwidth(be32(v, 0).unwrap_or(0))
        }
        DATA => Attribute::Data(v),
        REQUESTED_ADDRESS_FAMILY | ADDITIONAL_ADDRESS_FAMILY => {
            exact(typ, v, 4)?;
            let fam = Family::from_byte(v.first().copied().unwrap_or(0));
            if typ == REQUESTED_ADDRESS_FAMILY {
                Attribute::RequestedAddressFamily(fam)
            } else {
                Attribute::AdditionalAddressFamily(fam)
            }
        }
        ADDRESS_ERROR_CODE => {
            let family = Family::from_byte(v.first().copied().unwrap_or(0));
            let (code, reason) = parse_error_code(typ, v)?;
            Attribute::AddressErrorCode {
                family,
                code,
                reason,
            }
        }
        EVEN_PORT => {
            exact(typ, v, 1)?;
            Attribute::EvenPort {
                reserve: v.first().is_some_and(|b| b & 0x80 != 0),
            }
        }
        REQUESTED_TRANSPORT => {
            exact(typ, v, 4)?;
            Attribute::RequestedTransport(v.first().copied().unwrap_or(0))
        }
        DONT_FRAGMENT => {
            exact(typ, v, 0)?;
            Attribute::DontFragment
        }
        RESERVATION_TOKEN => {
            exact(typ, v, 8)?;
            Attribute::ReservationToken(v)
        }
        ICMP => {
            exact(typ, v, 8)?;
            Attribute::Icmp {
                icmp_type: v.get(2).copied().unwrap_or(0),
                code: v.get(3).copied().unwrap_or(0),
                data: be32(v, 4).unwrap_or(0),
            }
        }
        CONNECTION_ID => {
            exact(typ, v, 4)?;
            Attribute::ConnectionId(be32(v, 0).unwrap_or(0))
        }
        PRIORITY => {
            exact(typ, v, 4)?;
            Attribute::Priority(be32(v, 0).unwrap_or(0))
        }
        USE_CANDIDATE => {
            exact(typ, v, 0)?;
            Attribute::UseCandidate
        }
        ICE_CONTROLLED | ICE_CONTROLLING => {
            exact(typ, v, 8)?;
            let tie = be64(v, 0).unwrap_or(0);
            if typ == ICE_CONTROLLED {
                Attribute::IceControlled(tie)
            } else {
                Attribute::IceControlling(tie)
            }
        }
        PADDING => Attribute::Padding(v.len()),
        RESPONSE_PORT => {
            exact(typ, v, 4)?;
            Attribute::ResponsePort(be16(v, 0).unwrap_or(0))
        }
        CACHE_TIMEOUT => {
            exact(typ, v, 4)?;
            Attribute::CacheTimeout(be32(v, 0).unwrap_or(0))
        }
        TRANSACTION_TRANSMIT_COUNTER => {
            exact(typ, v, 4)?;
            Attribute::TransactionTransmitCounter {
                request: v.get(2).copied().unwrap_or(0),
                response: v.get(3).copied().unwrap_or(0),
            }
        }
        MS_VERSION => {
            exact(typ, v, 4)?;
            Attribute::MsVersion(be32(v, 0).unwrap_or(0))
        }
        MS_SEQUENCE_NUMBER => {
            exact(typ, v, 24)?;
            Attribute::MsSequenceNumber {
                connection_id: v.get(..20).unwrap_or(&[]),
                sequence: be32(v, 20).unwrap_or(0),
            }
        }
        MS_IMPLEMENTATION_VERSION => {
            exact(typ, v, 4)?;
            Attribute::MsImplementationVersion(be32(v, 0).unwrap_or(0))
        }
        GOOG_NETWORK_INFO => {
            exact(typ, v, 4)?;
            Attribute::GoogNetworkInfo {
                network_id: be16(v, 0).unwrap_or(0),
                cost: be16(v, 2).unwrap_or(0),
            }
        }
        _ => Attribute::Opaque { typ, value: v },
    })
}

impl Attribute<'_> {
    /// The socket address carried by address-valued attributes.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match *self {
            Attribute::MappedAddress(a)
            | Attribute::XorMappedAddress(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a)
            | Attribute::Address { addr: a, .. }
            | Attribute::XorAddress { addr: a, .. } => Some(a),
            _ => None,
        }
    }
}

/// Readable text for an attribute value, used by the table and JSON outputs.
impl fmt::Display for Attribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Attribute::MappedAddress(a)
            | Attribute::XorMappedAddress(a)
            | Attribute::XorPeerAddress(a)
            | Attribute::XorRelayedAddress(a)
            | Attribute::Address { addr: a, .. }
            | Attribute::XorAddress { addr: a, .. } => write!(f, "{a}"),
            Attribute::Username(s)
            | Attribute::Realm(s)
            | Attribute::AlternateDomain(s)
            | Attribute::Software(s) => f.write_str(s),
            Attribute::UserHash(b)
            | Attribute::MessageIntegrity(b)
            | Attribute::MessageIntegritySha256(b)
            | Attribute::ReservationToken(b) => f.write_str(&hex(b)),
            Attribute::Nonce(b) => match std::str::from_utf8(b) {
                Ok(s) if s.chars().all(|c| !c.is_control()) => f.write_str(s),
                _ => f.write_str(&hex(b)),
            },
            Attribute::Fingerprint(v) => write!(f, "0x{v:08x}"),
            Attribute::ErrorCode { code, reason } => {
                let reason = if reason.is_empty() {
                    error_name(*code).unwrap_or("")
                } else {
                    reason
                };
                write!(f, "{code} {reason}")
            }
            Attribute::UnknownAttributes(list) => {
                let items: Vec<String> = list.iter().map(|t| format!("0x{t:04x}")).collect();
                f.write_str(&items.join(","))
            }
            Attribute::PasswordAlgorithm { algorithm, .. } => {
                f.write_str(password_algorithm_name(*algorithm))
            }
            Attribute::PasswordAlgorithms(list) => {
                let items: Vec<&str> = list
                    .iter()
                    .map(|(a, _)| password_algorithm_name(*a))
                    .collect();
                f.write_str(&items.join(","))
            }
            Attribute::ChangeRequest {
                change_ip,
                change_port,
            } => {
                write!(f, "change-ip={change_ip} change-port={change_port}")
            }
            Attribute::ChannelNumber(c) => write!(f, "0x{c:04x}"),
            Attribute::Lifetime(v) | Attribute::CacheTimeout(v) => write!(f, "{v}s"),
            Attribute::Bandwidth(v) => write!(f, "{v} kbps"),
            Attribute::Data(d) => write!(f, "{} bytes", d.len()),
            Attribute::RequestedAddressFamily(fam) | Attribute::AdditionalAddressFamily(fam) => {
                write!(f, "{fam}")
            }
            Attribute::AddressErrorCode {
                family,
                code,
                reason,
            } => write!(f, "{family} {code} {reason}"),
            Attribute::EvenPort { reserve } => write!(f, "reserve={reserve}"),
            Attribute::RequestedTransport(p) => match p {
                17 => f.write_str("UDP"),
                6 => f.write_str("TCP"),
                p => write!(f, "protocol {p}"),
            },
            Attribute::DontFragment => f.write_str("set"),
            Attribute::Icmp {
                icmp_type,
                code,
                data,
            } => write!(f, "type {icmp_type} code {code} data {data}"),
            Attribute::ConnectionId(v) => write!(f, "0x{v:08x}"),
            Attribute::Priority(v)
            | Attribute::MsVersion(v)
            | Attribute::MsImplementationVersion(v) => {
                write!(f, "{v}")
            }
            Attribute::UseCandidate => f.write_str("set"),
            Attribute::IceControlled(t) | Attribute::IceControlling(t) => {
                write!(f, "tiebreaker 0x{t:016x}")
            }
            Attribute::Padding(n) => write!(f, "{n} bytes"),
            Attribute::ResponsePort(p) => write!(f, "{p}"),
            Attribute::TransactionTransmitCounter { request, response } => {
                write!(f, "request {request} response {response}")
            }
            Attribute::MsSequenceNumber {
                connection_id,
                sequence,
            } => {
                write!(f, "connection {} sequence {sequence}", hex(connection_id))
            }
            Attribute::GoogNetworkInfo { network_id, cost } => {
                write!(f, "network {network_id} cost {cost}")
            }
            Attribute::Opaque { value, .. } => f.write_str(&hex(value)),
        }
    }
}

/// PASSWORD-ALGORITHM numbers (RFC 8489 section 18.5).
pub const PASSWORD_ALGORITHM_MD5: u16 = 0x0001;
/// PASSWORD-ALGORITHM number of SHA-256 (RFC 8489 section 18.5).
pub const PASSWORD_ALGORITHM_SHA256: u16 = 0x0002;

/// Name of a PASSWORD-ALGORITHM number: "MD5", "SHA-256" or "unknown".
pub fn password_algorithm_name(a: u16) -> &'static str {
    match a {
        PASSWORD_ALGORITHM_MD5 => "MD5",
        PASSWORD_ALGORITHM_SHA256 => "SHA-256",
        _ => "unknown",
    }
}
