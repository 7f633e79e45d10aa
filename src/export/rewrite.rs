//! A frame redacted on its way into an export (`analyze --export --redact`).
//!
//! Rewritten in place: Ethernet MAC addresses (Linux cooked capture addresses are zeroed),
//! IPv4/IPv6 source and destination addresses (the IPv4 header checksum recomputed), and in
//! STUN messages over UDP the address attributes (MAPPED-ADDRESS, XOR-MAPPED-ADDRESS,
//! XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS, ALTERNATE-SERVER, RESPONSE-ORIGIN, OTHER-ADDRESS),
//! USERNAME, REALM and SOFTWARE (length kept: the pseudonym padded with `*`, or `*`s when it
//! does not fit) and the bytes of DATA (zeroed); FINGERPRINT is recomputed,
//! MESSAGE-INTEGRITY no longer verifies. UDP and TCP checksums are zeroed.
//!
//! What cannot be redacted safely is cut after its headers, the frame keeping its original
//! length (Wireshark shows it as cut by the snap length): the payload of TCP segments (TLS,
//! HTTP, STUN over TCP), of UDP datagrams that are not STUN (DNS, RTP, DTLS), of ChannelData
//! (relayed media), of IP fragments after the first, of ICMP; and frames that are not IP
//! beyond their link header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::capture::link;
use crate::redact::Redactor;

use super::layout::{self, IpVersion, Layout, PROTO_TCP, PROTO_UDP};

/// What redaction did to a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rewritten {
    /// Not redacted (no redactor).
    Untouched,
    /// Addresses and names replaced; everything else kept.
    Redacted,
    /// Redacted, and a payload that could not be redacted safely cut off.
    PayloadCut,
}

const STUN_HEADER: usize = 20;
const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// Redact one frame captured on link type `link`.
pub(crate) fn frame(r: &mut Redactor, link: u32, data: &mut Vec<u8>) -> Rewritten {
    redact_link_header(r, link, data);
    let Some(l) = layout::layout(link, data) else {
        data.truncate(link_header_len(link).min(data.len()));
        return Rewritten::PayloadCut;
    };
    rewrite_ip(r, &l, data);
    let Some(t) = l.transport else {
        return cut(data, ip_header_end(&l, data));
    };
    match t.proto {
        PROTO_UDP => {
            put_u16(data, t.at + 6, 0);
            let payload_end = l.ip_end.min(data.len());
            match data.get_mut(t.payload_at..payload_end) {
                Some(payload) if is_stun(payload) => {
                    stun(r, payload);
                    Rewritten::Redacted
                }
                _ => cut(data, t.payload_at),
            }
        }
        PROTO_TCP => {
            put_u16(data, t.at + 16, 0);
            cut(data, t.payload_at)
        }
        _ => cut(data, t.at),
    }
}

/// Cut `data` at `at` (if it is longer): a payload that could not be redacted.
fn cut(data: &mut Vec<u8>, at: usize) -> Rewritten {
    if data.len() > at {
        data.truncate(at);
        return Rewritten::PayloadCut;
    }
    Rewritten::Redacted
}

/// Bytes of the link header of link types whose header has a fixed length.
fn link_header_len(link: u32) -> usize {
    match link {
        link::LINKTYPE_ETHERNET => 14,
        link::LINKTYPE_LINUX_SLL => 16,
        link::LINKTYPE_LINUX_SLL2 => 20,
        link::LINKTYPE_NULL | link::LINKTYPE_LOOP => 4,
        _ => 0,
    }
}

/// The end of the IP header (the start of what the packet carries).
fn ip_header_end(l: &Layout, data: &[u8]) -> usize {
    match l.version {
        IpVersion::V4 => l.ip_at + usize::from(data.get(l.ip_at).map_or(5, |b| b & 0x0f)) * 4,
        IpVersion::V6 => l.ip_at + 40,
    }
}

fn redact_link_header(r: &mut Redactor, link: u32, data: &mut [u8]) {
    match link {
        link::LINKTYPE_ETHERNET => {
            for at in [0usize, 6] {
                let Some(slot) = data.get_mut(at..at + 6) else {
                    return;
                };
                let mut mac = [0u8; 6];
                mac.copy_from_slice(slot);
                slot.copy_from_slice(&r.mac(mac));
            }
        }
        link::LINKTYPE_LINUX_SLL => zero(data, 6, 8),
        link::LINKTYPE_LINUX_SLL2 => zero(data, 12, 8),
        _ => {}
    }
}

fn zero(data: &mut [u8], at: usize, len: usize) {
    if let Some(s) = data.get_mut(at..at + len) {
        s.fill(0);
    }
}

fn put_u16(data: &mut [u8], at: usize, v: u16) {
    if let Some(s) = data.get_mut(at..at + 2) {
        s.copy_from_slice(&v.to_be_bytes());
    }
}

fn rewrite_ip(r: &mut Redactor, l: &Layout, data: &mut [u8]) {
    let (src_at, dst_at) = match l.version {
        IpVersion::V4 => (l.ip_at + 12, l.ip_at + 16),
        IpVersion::V6 => (l.ip_at + 8, l.ip_at + 24),
    };
    put_ip(data, src_at, r.ip(l.src));
    put_ip(data, dst_at, r.ip(l.dst));
    if l.version == IpVersion::V4 {
        let header_len = usize::from(data.get(l.ip_at).map_or(5, |b| b & 0x0f)) * 4;
        put_u16(data, l.ip_at + 10, 0);
        if let Some(header) = data.get(l.ip_at..l.ip_at + header_len) {
            let sum = internet_checksum(header);
            put_u16(data, l.ip_at + 10, sum);
        }
    }
}

fn put_ip(data: &mut [u8], at: usize, ip: IpAddr) {
    let bytes = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    if let Some(s) = data.get_mut(at..at + bytes.len()) {
        s.copy_from_slice(&bytes);
    }
}

/// The RFC 1071 checksum of `bytes` (with the checksum field zero).
fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair.first().copied().unwrap_or(0)) << 8;
        let lo = u32::from(pair.get(1).copied().unwrap_or(0));
        sum += hi | lo;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One whole STUN message filling the datagram: type's top bits zero, length a multiple of
/// 4 that accounts for every byte after the header. Anything else (DNS, DTLS, RTP) is not
/// redacted attribute by attribute but cut.
fn is_stun(p: &[u8]) -> bool {
    let (Some(first), Some(len)) = (p.first(), be16(p, 2)) else {
        return false;
    };
    first & 0xc0 == 0 && len.is_multiple_of(4) && STUN_HEADER + usize::from(len) == p.len()
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

/// Redact the attributes of the STUN message `msg`.
fn stun(r: &mut Redactor, msg: &mut [u8]) {
    let len = usize::from(be16(msg, 2).unwrap_or(0));
    let mut xor_key = [0u8; 16];
    if let Some(k) = msg.get(4..20) {
        xor_key.copy_from_slice(k);
    }
    let mut at = STUN_HEADER;
    while at + 4 <= STUN_HEADER + len {
        let kind = be16(msg, at).unwrap_or(0);
        let value_len = usize::from(be16(msg, at + 2).unwrap_or(0));
        let value_at = at + 4;
        let Some(value) = msg.get_mut(value_at..value_at + value_len) else {
            return;
        };
        match kind {
            0x0001 | 0x8023 | 0x802b | 0x802c => address(r, value, None),
            0x0020 | 0x0012 | 0x0016 => address(r, value, Some(&xor_key)),
            0x0006 => {
                let p = r.username(&String::from_utf8_lossy(value));
                fill(value, &p);
            }
            0x0014 => {
                let p = r.realm(&String::from_utf8_lossy(value));
                fill(value, &p);
            }
            0x8022 => fill(value, "redacted"),
            0x0013 => value.fill(0),
            0x8028 => {
                let crc = crc32fast::hash(msg.get(..at).unwrap_or_default()) ^ FINGERPRINT_XOR;
                if let Some(v) = msg.get_mut(value_at..value_at + 4) {
                    v.copy_from_slice(&crc.to_be_bytes());
                }
            }
            _ => {}
        }
        at = value_at + value_len.next_multiple_of(4);
    }
}

/// `pseudonym` in `value`'s length: padded with `*`, or only `*`s when it does not fit.
fn fill(value: &mut [u8], pseudonym: &str) {
    value.fill(b'*');
    if pseudonym.len() <= value.len() {
        if let Some(head) = value.get_mut(..pseudonym.len()) {
            head.copy_from_slice(pseudonym.as_bytes());
        }
    }
}

/// A STUN address attribute value (family at 1, port at 2, address at 4), XOR-ed with the
/// cookie and transaction id when `xor_key` is given.
fn address(r: &mut Redactor, value: &mut [u8], xor_key: Option<&[u8; 16]>) {
    let width = match value.get(1) {
        Some(1) => 4,
        Some(2) => 16,
        _ => return,
    };
    let key: [u8; 16] = xor_key.copied().unwrap_or([0; 16]);
    let Some(raw) = value.get_mut(4..4 + width) else {
        return;
    };
    let mut plain = [0u8; 16];
    for ((p, b), k) in plain.iter_mut().zip(raw.iter()).zip(key.iter()) {
        *p = b ^ k;
    }
    let ip = if width == 4 {
        IpAddr::V4(Ipv4Addr::new(plain[0], plain[1], plain[2], plain[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(plain))
    };
    let mapped = match r.ip(ip) {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    if mapped.len() != width {
        return;
    }
    for ((b, m), k) in raw.iter_mut().zip(mapped.iter()).zip(key.iter()) {
        *b = m ^ k;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::layout::tests::udp4_frame;

    const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

    /// A Binding success response with XOR-MAPPED-ADDRESS 8.8.8.8:5000, USERNAME
    /// `alice.smith` and FINGERPRINT.
    fn binding_response() -> Vec<u8> {
        let mut attrs = vec![0x00, 0x20, 0, 8, 0, 1];
        attrs.extend((5000u16 ^ 0x2112).to_be_bytes());
        attrs.extend([8 ^ 0x21, 8 ^ 0x12, 8 ^ 0xa4, 8 ^ 0x42]);
        attrs.extend([0x00, 0x06, 0, 11]);
        attrs.extend(b"alice.smith\0");
        let mut m = vec![0x01, 0x01];
        m.extend(((attrs.len() + 8) as u16).to_be_bytes());
        m.extend(COOKIE);
        m.extend([7u8; 12]);
        m.extend(attrs);
        m.extend([0x80, 0x28, 0, 4, 0, 0, 0, 0]);
        m
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn stun_over_udp_is_rewritten_in_place() {
        let mut r = Redactor::new();
        r.ip(ip("192.168.9.9"));
        let mut f = udp4_frame(&binding_response());
        let len = f.len();
        assert_eq!(
            frame(&mut r, link::LINKTYPE_ETHERNET, &mut f),
            Rewritten::Redacted
        );
        assert_eq!(f.len(), len, "lengths kept");
        let l = layout::layout(link::LINKTYPE_ETHERNET, &f).unwrap();
        assert_eq!(l.src, r.ip(ip("10.0.0.1")));
        assert_eq!(l.src, ip("10.0.0.2"));
        assert_eq!(l.dst, ip("198.51.100.1"));
        assert_eq!(
            internet_checksum(&f[14..34]),
            0,
            "IPv4 header checksum fixed"
        );
        assert_eq!(&f[40..42], &[0, 0], "UDP checksum zeroed");
        let msg = &f[42..];
        let mapped: Vec<u8> = msg[28..32].iter().zip(COOKIE).map(|(b, k)| b ^ k).collect();
        assert_eq!(mapped, [198, 51, 100, 2], "XOR-MAPPED-ADDRESS redacted");
        assert_eq!(&msg[26..28], &(5000u16 ^ 0x2112).to_be_bytes(), "port kept");
        assert_eq!(&msg[36..47], b"user-1*****");
        let crc = crc32fast::hash(&msg[..48]) ^ FINGERPRINT_XOR;
        assert_eq!(&msg[52..56], &crc.to_be_bytes(), "FINGERPRINT recomputed");
        assert!(!holds(&f, &[8, 8, 8, 8]) && !holds(&f, &[192, 0, 2, 9]));
    }

    fn holds(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn payloads_that_are_not_stun_are_cut_after_their_headers() {
        let mut r = Redactor::new();
        let mut f = udp4_frame(b"\x12\x34\x01\x00 a DNS query for turn.acme.com");
        assert_eq!(
            frame(&mut r, link::LINKTYPE_ETHERNET, &mut f),
            Rewritten::PayloadCut
        );
        assert_eq!(f.len(), 42, "Ethernet, IPv4 and UDP headers only");
        let mut arp = vec![0xffu8; 12];
        arp.extend([0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1, 10, 0, 0, 1]);
        assert_eq!(
            frame(&mut r, link::LINKTYPE_ETHERNET, &mut arp),
            Rewritten::PayloadCut
        );
        assert_eq!(arp.len(), 14, "not IP: the link header only");
    }
}
