//! Attributes: type numbers and names, the raw (type, value) view, and typed decoding.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::message::{hex, TransactionId, MAGIC_COOKIE};
use super::WireError;

// RFC 3489 / 5389 / 8489
pub const MAPPED_ADDRESS: u16 = 0x0001;
pub const RESPONSE_ADDRESS: u16 = 0x0002;
pub const CHANGE_REQUEST: u16 = 0x0003;
pub const SOURCE_ADDRESS: u16 = 0x0004;
pub const CHANGED_ADDRESS: u16 = 0x0005;
pub const USERNAME: u16 = 0x0006;
pub const PASSWORD: u16 = 0x0007;
pub const MESSAGE_INTEGRITY: u16 = 0x0008;
pub const ERROR_CODE: u16 = 0x0009;
pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
pub const REFLECTED_FROM: u16 = 0x000B;
pub const REALM: u16 = 0x0014;
pub const NONCE: u16 = 0x0015;
pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
pub const PASSWORD_ALGORITHM: u16 = 0x001D;
pub const USERHASH: u16 = 0x001E;
pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
pub const PASSWORD_ALGORITHMS: u16 = 0x8002;
pub const ALTERNATE_DOMAIN: u16 = 0x8003;
pub const SOFTWARE: u16 = 0x8022;
pub const ALTERNATE_SERVER: u16 = 0x8023;
pub const FINGERPRINT: u16 = 0x8028;
// RFC 8656 TURN
pub const CHANNEL_NUMBER: u16 = 0x000C;
pub const LIFETIME: u16 = 0x000D;
pub const BANDWIDTH: u16 = 0x0010;
pub const XOR_PEER_ADDRESS: u16 = 0x0012;
pub const DATA: u16 = 0x0013;
pub const XOR_RELAYED_ADDRESS: u16 = 0x0016;
pub const REQUESTED_ADDRESS_FAMILY: u16 = 0x0017;
pub const EVEN_PORT: u16 = 0x0018;
pub const REQUESTED_TRANSPORT: u16 = 0x0019;
pub const DONT_FRAGMENT: u16 = 0x001A;
pub const RESERVATION_TOKEN: u16 = 0x0022;
pub const ADDITIONAL_ADDRESS_FAMILY: u16 = 0x8000;
pub const ADDRESS_ERROR_CODE: u16 = 0x8001;
pub const ICMP: u16 = 0x8004;
// RFC 6062
pub const CONNECTION_ID: u16 = 0x002A;
// RFC 8445 ICE
pub const PRIORITY: u16 = 0x0024;
pub const USE_CANDIDATE: u16 = 0x0025;
pub const ICE_CONTROLLED: u16 = 0x8029;
pub const ICE_CONTROLLING: u16 = 0x802A;
// RFC 5780
pub const PADDING: u16 = 0x0026;
pub const RESPONSE_PORT: u16 = 0x0027;
pub const CACHE_TIMEOUT: u16 = 0x8027;
pub const RESPONSE_ORIGIN: u16 = 0x802B;
pub const OTHER_ADDRESS: u16 = 0x802C;
// Others registered with IANA
pub const ACCESS_TOKEN: u16 = 0x001B;
pub const TRANSACTION_TRANSMIT_COUNTER: u16 = 0x8025;
pub const ECN_CHECK_STUN: u16 = 0x802D;
pub const THIRD_PARTY_AUTHORIZATION: u16 = 0x802E;
pub const MOBILITY_TICKET: u16 = 0x8030;
// Microsoft MS-TURN / MS-ICE2
pub const MS_VERSION: u16 = 0x8008;
pub const MS_XOR_MAPPED_ADDRESS: u16 = 0x8020;
pub const MS_ALTERNATE_HOST_NAME: u16 = 0x8032;
pub const MS_APP_ID: u16 = 0x8037;
pub const MS_SECURE_TAG: u16 = 0x8039;
pub const MS_SEQUENCE_NUMBER: u16 = 0x8050;
pub const MS_CANDIDATE_IDENTIFIER: u16 = 0x8054;
pub const MS_SERVICE_QUALITY: u16 = 0x8055;
pub const MS_IMPLEMENTATION_VERSION: u16 = 0x8070;
pub const MS_ALT_MAPPED_ADDRESS: u16 = 0x8090;
pub const MS_MULTIPLEXED_TURN_SESSION_ID: u16 = 0x8095;
// Cisco
pub const CISCO_STUN_FLOWDATA: u16 = 0xC000;
pub const CISCO_ENF_FLOW_DESCRIPTION: u16 = 0xC001;
pub const CISCO_ENF_NETWORK_STATUS: u16 = 0xC002;
pub const CISCO_WEBEX_FLOW_INFO: u16 = 0xC003;
// Google (libwebrtc)
pub const GOOG_NETWORK_INFO: u16 = 0xC057;
pub const GOOG_LAST_ICE_CHECK_RECEIVED: u16 = 0xC058;
pub const GOOG_MISC_INFO: u16 = 0xC059;
pub const GOOG_OBSOLETE_1: u16 = 0xC05A;
pub const GOOG_CONNECTION_ID: u16 = 0xC05B;
pub const GOOG_DELTA: u16 = 0xC05C;
pub const GOOG_DELTA_ACK: u16 = 0xC05D;
pub const GOOG_DELTA_SYNC_REQ: u16 = 0xC05E;
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
    pub typ: u16,
    pub value: &'a [u8],
    /// Offset of the attribute header from the start of the message.
    pub offset: u32,
}

impl<'a> RawAttribute<'a> {
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
    V4,
    V6,
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
    MappedAddress(SocketAddr),
    XorMappedAddress(SocketAddr),
    XorPeerAddress(SocketAddr),
    XorRelayedAddress(SocketAddr),
    /// RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER, RESPONSE-ADDRESS, SOURCE-ADDRESS,
    /// CHANGED-ADDRESS, REFLECTED-FROM and vendor plain addresses, with their type.
    Address {
        typ: u16,
        addr: SocketAddr,
    },
    /// Vendor XOR addresses (MS-XOR-MAPPED-ADDRESS), with their type.
    XorAddress {
        typ: u16,
        addr: SocketAddr,
    },
    Username(&'a str),
    UserHash(&'a [u8]),
    MessageIntegrity(&'a [u8]),
    MessageIntegritySha256(&'a [u8]),
    Fingerprint(u32),
    ErrorCode {
        code: u16,
        reason: &'a str,
    },
    UnknownAttributes(Vec<u16>),
    Realm(&'a str),
    Nonce(&'a [u8]),
    PasswordAlgorithm {
        algorithm: u16,
        params: &'a [u8],
    },
    PasswordAlgorithms(Vec<(u16, &'a [u8])>),
    AlternateDomain(&'a str),
    Software(&'a str),
    ChangeRequest {
        change_ip: bool,
        change_port: bool,
    },
    ChannelNumber(u16),
    Lifetime(u32),
    Bandwidth(u32),
    Data(&'a [u8]),
    RequestedAddressFamily(Family),
    AdditionalAddressFamily(Family),
    AddressErrorCode {
        family: Family,
        code: u16,
        reason: &'a str,
    },
    EvenPort {
        reserve: bool,
    },
    RequestedTransport(u8),
    DontFragment,
    ReservationToken(&'a [u8]),
    Icmp {
        icmp_type: u8,
        code: u8,
        data: u32,
    },
    ConnectionId(u32),
    Priority(u32),
    UseCandidate,
    IceControlled(u64),
    IceControlling(u64),
    Padding(usize),
    ResponsePort(u16),
    CacheTimeout(u32),
    TransactionTransmitCounter {
        request: u8,
        response: u8,
    },
    MsVersion(u32),
    MsSequenceNumber {
        connection_id: &'a [u8],
        sequence: u32,
    },
    MsImplementationVersion(u32),
    GoogNetworkInfo {
        network_id: u16,
        cost: u16,
    },
    /// Any attribute this decoder has no structure for (vendor or unknown), kept whole.
    Opaque {
        typ: u16,
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
pub const PASSWORD_ALGORITHM_SHA256: u16 = 0x0002;

pub fn password_algorithm_name(a: u16) -> &'static str {
    match a {
        PASSWORD_ALGORITHM_MD5 => "MD5",
        PASSWORD_ALGORITHM_SHA256 => "SHA-256",
        _ => "unknown",
    }
}
