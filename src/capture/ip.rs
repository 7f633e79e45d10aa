//! IPv4 / IPv6 (extension headers, AH) down to UDP, TCP and ICMP destination-unreachable.
//!
//! The headers are sliced by etherparse, borrowed from the capture: IPv4 (with options),
//! IPv6 and each of its extension headers (hop-by-hop, routing, destination options, AH,
//! fragment), UDP and TCP (with options). Checksums are not verified: captures taken on the
//! sending host see them before the NIC fills them in. Kept here: what Wireshark does with
//! lengths that disagree with the capture (a total length of 0 from segmentation offload, a
//! cut by the snaplen, a jumbogram), the hand-off of fragments, and the ICMP and ICMPv6
//! destination-unreachable messages with the UDP or TCP ports of the packet they quote
//! (read here: the quoted packet is cut short by design, and only its addresses and ports
//! matter).
//!
//! Stateless: a fragment is handed on as [`L4::Fragment`] for [`super::defrag`]; a TCP
//! segment as [`TcpSegment`] for [`super::tcp`]. Nothing here allocates for a well-formed
//! packet.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use etherparse::err::{ipv4, ipv6, tcp, LenError};
use etherparse::{
    IpAuthHeaderSlice, Ipv4HeaderSlice, Ipv6FragmentHeaderSlice, Ipv6HeaderSlice,
    Ipv6RawExtHeaderSlice, TcpHeaderSlice, UdpHeaderSlice,
};

use super::link::Net;
use super::source::be16;
use super::{ProblemKind, Transport, UnreachableKind};

pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_SYN: u8 = 0x02;
pub(crate) const TCP_RST: u8 = 0x04;
pub(crate) const TCP_ACK: u8 = 0x10;

/// One TCP segment, as the reassembler sees it.
#[derive(Debug, Clone)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub data: Cow<'a, [u8]>,
    /// Payload bytes the segment had on the wire but the capture did not keep (snaplen).
    pub missing_tail: u32,
}

/// Identity of an IP datagram being reassembled (RFC 791 / RFC 8200).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// IPv4 protocol; 0 for IPv6 (not part of the key there).
    pub proto: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct Fragment<'a> {
    pub key: FragKey,
    /// Byte offset in the fragmentable part.
    pub offset: u32,
    pub more: bool,
    /// Borrowed from the capture; owned when the capture is streamed.
    pub data: Cow<'a, [u8]>,
    /// Protocol (IPv4) or next header of the fragmentable part (IPv6).
    pub proto: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct Unreach<'a> {
    pub reporter: IpAddr,
    pub kind: UnreachableKind,
    pub quoted_transport: Transport,
    pub quoted_src: SocketAddr,
    pub quoted_dst: SocketAddr,
    pub quoted_payload: &'a [u8],
}

#[derive(Debug, Clone)]
pub(crate) enum L4<'a> {
    Nothing,
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        data: &'a [u8],
    },
    Tcp(TcpSegment<'a>),
    Fragment(Fragment<'a>),
    Unreachable(Unreach<'a>),
}

#[derive(Debug, Clone)]
pub(crate) struct Parsed<'a> {
    pub l4: L4<'a>,
    pub problem: Option<ProblemKind>,
}

impl<'a> Parsed<'a> {
    fn problem(kind: ProblemKind) -> Parsed<'a> {
        Parsed {
            l4: L4::Nothing,
            problem: Some(kind),
        }
    }

    fn ok(l4: L4<'a>) -> Parsed<'a> {
        Parsed { l4, problem: None }
    }
}

/// How much of the frame the capture kept: `Some((captured, original))` when cut by snaplen.
pub(crate) type Cut = Option<(u32, u32)>;

fn short(layer: &'static str, needed: usize, got: usize, cut: Cut) -> ProblemKind {
    match cut {
        Some((captured, original)) => ProblemKind::SnaplenCut { captured, original },
        None => ProblemKind::Truncated { layer, needed, got },
    }
}

fn malformed(layer: &'static str, detail: &str) -> ProblemKind {
    ProblemKind::Malformed {
        layer,
        detail: detail.to_string(),
    }
}

fn v4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(Ipv4Addr::from(s))
}

fn v6(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

#[inline(always)]
pub(crate) fn parse(net: Net<'_>, cut: Cut) -> Parsed<'_> {
    match net {
        Net::Ipv4(d) => ipv4(d, cut),
        Net::Ipv6(d) => ipv6(d, cut),
        Net::Other => Parsed::ok(L4::Nothing),
    }
}

#[inline(always)]
fn ipv4(d: &[u8], cut: Cut) -> Parsed<'_> {
    let header = match Ipv4HeaderSlice::from_slice(d) {
        Ok(header) => header,
        Err(ipv4::HeaderSliceError::Len(e)) => {
            return Parsed::problem(short("IPv4", e.required_len, e.len, cut))
        }
        Err(ipv4::HeaderSliceError::Content(ipv4::HeaderError::UnexpectedVersion { .. })) => {
            return Parsed::problem(malformed("IPv4", "version is not 4"))
        }
        Err(ipv4::HeaderSliceError::Content(_)) => {
            return Parsed::problem(malformed("IPv4", "header length below 20"))
        }
    };
    let ihl = header.slice().len();
    let total = usize::from(header.total_len());
    // Total length 0: segmentation offload on the capturing host; take what was captured.
    let total = if total == 0 { d.len() } else { total };
    if total < ihl {
        return Parsed::problem(malformed("IPv4", "total length below header length"));
    }
    let mut problem = None;
    let end = if total > d.len() {
        problem = Some(short("IPv4", total, d.len(), cut));
        d.len()
    } else {
        total
    };
    let missing = (total - end) as u32;
    let payload = d.get(ihl..end).unwrap_or_default();
    let more = header.more_fragments();
    let offset = u32::from(header.fragments_offset().byte_offset());
    let proto = header.protocol().0;
    let src = IpAddr::V4(header.source_addr());
    let dst = IpAddr::V4(header.destination_addr());
    if more || offset != 0 {
        let id = u32::from(header.identification());
        return Parsed {
            l4: L4::Fragment(Fragment {
                key: FragKey {
                    src,
                    dst,
                    id,
                    proto,
                },
                offset,
                more,
                data: Cow::Borrowed(payload),
                proto,
            }),
            problem,
        };
    }
    let mut p = transport(proto, src, dst, payload, missing, cut);
    if p.problem.is_none() {
        p.problem = problem;
    }
    p
}

const MAX_EXT_HEADERS: usize = 16;

fn ipv6(d: &[u8], cut: Cut) -> Parsed<'_> {
    let header = match Ipv6HeaderSlice::from_slice(d) {
        Ok(header) => header,
        Err(ipv6::HeaderSliceError::Len(e)) => {
            return Parsed::problem(short("IPv6", e.required_len, e.len, cut))
        }
        Err(ipv6::HeaderSliceError::Content(_)) => {
            return Parsed::problem(malformed("IPv6", "version is not 6"))
        }
    };
    let nh = header.next_header().0;
    let plen = usize::from(header.payload_length());
    // Payload length 0: jumbogram or offload; take what was captured.
    let total = if plen == 0 { d.len() } else { 40 + plen };
    let mut problem = None;
    let end = if total > d.len() {
        problem = Some(short("IPv6", total, d.len(), cut));
        d.len()
    } else {
        total
    };
    let missing = (total - end) as u32;
    let body = d.get(40..end).unwrap_or_default();
    let src = IpAddr::V6(header.source_addr());
    let dst = IpAddr::V6(header.destination_addr());
    let mut p = match ext_headers(nh, body) {
        Ok(Ext::Transport(proto, rest)) => transport(proto, src, dst, rest, missing, cut),
        Ok(Ext::Fragment {
            next,
            offset,
            more,
            id,
            rest,
        }) => Parsed::ok(L4::Fragment(Fragment {
            key: FragKey {
                src,
                dst,
                id,
                proto: 0,
            },
            offset,
            more,
            data: Cow::Borrowed(rest),
            proto: next,
        })),
        Ok(Ext::Nothing) => Parsed::ok(L4::Nothing),
        Err(k) => Parsed::problem(k),
    };
    if p.problem.is_none() {
        p.problem = problem;
    }
    p
}

pub(crate) enum Ext<'a> {
    Transport(u8, &'a [u8]),
    Fragment {
        next: u8,
        offset: u32,
        more: bool,
        id: u32,
        rest: &'a [u8],
    },
    Nothing,
}

/// Walk IPv6 extension headers starting with next-header `nh` at the start of `b`, each
/// sliced by etherparse (which needs the whole header in the capture).
pub(crate) fn ext_headers(mut nh: u8, b: &[u8]) -> Result<Ext<'_>, ProblemKind> {
    let mut rest = b;
    for _ in 0..MAX_EXT_HEADERS {
        match nh {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6: the generic
            // layout (next header, length in 8-byte units).
            0 | 43 | 60 | 135 | 139 | 140 => {
                let ext = Ipv6RawExtHeaderSlice::from_slice(rest)
                    .map_err(|e| ext_short("IPv6 extension header", b, &e))?;
                nh = ext.next_header().0;
                rest = rest.get(ext.slice().len()..).unwrap_or_default();
            }
            // Authentication header: length in 4-byte units, minus 2.
            51 => {
                let ah = IpAuthHeaderSlice::from_slice(rest).map_err(|e| match e {
                    etherparse::err::ip_auth::HeaderSliceError::Len(e) => {
                        ext_short("IPv6 AH", b, &e)
                    }
                    etherparse::err::ip_auth::HeaderSliceError::Content(_) => {
                        malformed("IPv6 AH", "payload length 0")
                    }
                })?;
                nh = ah.next_header().0;
                rest = rest.get(ah.slice().len()..).unwrap_or_default();
            }
            44 => {
                let frag = Ipv6FragmentHeaderSlice::from_slice(rest)
                    .map_err(|e| ext_short("IPv6 fragment header", b, &e))?;
                let after = rest.get(frag.slice().len()..).unwrap_or_default();
                if !frag.is_fragmenting_payload() {
                    // Atomic fragment (RFC 6946): not really fragmented.
                    nh = frag.next_header().0;
                    rest = after;
                    continue;
                }
                return Ok(Ext::Fragment {
                    next: frag.next_header().0,
                    offset: u32::from(frag.fragment_offset().byte_offset()),
                    more: frag.more_fragments(),
                    id: frag.identification(),
                    rest: after,
                });
            }
            // No next header, ESP (encrypted): nothing to read.
            59 | 50 => return Ok(Ext::Nothing),
            proto => return Ok(Ext::Transport(proto, rest)),
        }
    }
    Err(malformed("IPv6", "too many extension headers"))
}

/// An extension header the capture holds only in part: what the headers up to its end need,
/// against what `b` (all of them) has.
fn ext_short(layer: &'static str, b: &[u8], e: &LenError) -> ProblemKind {
    let before = b.len().saturating_sub(e.len);
    ProblemKind::Truncated {
        layer,
        needed: before + e.required_len,
        got: b.len(),
    }
}

/// Transport-layer dispatch for an unfragmented (or reassembled) IP payload.
#[inline(always)]
pub(crate) fn transport<'a>(
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    p: &'a [u8],
    missing: u32,
    cut: Cut,
) -> Parsed<'a> {
    match proto {
        17 => {
            let header = match UdpHeaderSlice::from_slice(p) {
                Ok(header) => header,
                Err(e) => return Parsed::problem(short("UDP", e.required_len, e.len, cut)),
            };
            let (sport, dport) = (header.source_port(), header.destination_port());
            let ulen = usize::from(header.length());
            let mut problem = None;
            let end = if ulen == 0 {
                // Jumbogram (RFC 2675) or offload: to the end of the IP payload.
                p.len()
            } else if ulen < 8 {
                return Parsed::problem(malformed("UDP", "length below 8"));
            } else if ulen > p.len() {
                if missing == 0 || cut.is_none() {
                    problem = Some(short("UDP", ulen, p.len(), None));
                } else {
                    problem = cut
                        .map(|(captured, original)| ProblemKind::SnaplenCut { captured, original });
                }
                p.len()
            } else {
                ulen
            };
            Parsed {
                l4: L4::Udp {
                    src: SocketAddr::new(src, sport),
                    dst: SocketAddr::new(dst, dport),
                    data: p.get(8..end).unwrap_or_default(),
                },
                problem,
            }
        }
        6 => {
            let header = match TcpHeaderSlice::from_slice(p) {
                Ok(header) => header,
                Err(tcp::HeaderSliceError::Len(e)) => {
                    return Parsed::problem(short("TCP", e.required_len, e.len, cut))
                }
                Err(tcp::HeaderSliceError::Content(_)) => {
                    return Parsed::problem(malformed("TCP", "data offset below 5"))
                }
            };
            let data = p.get(header.slice().len()..).unwrap_or_default();
            Parsed {
                l4: L4::Tcp(TcpSegment {
                    src: SocketAddr::new(src, header.source_port()),
                    dst: SocketAddr::new(dst, header.destination_port()),
                    seq: header.sequence_number(),
                    ack: header.acknowledgment_number(),
                    flags: tcp_flags(&header),
                    data: Cow::Borrowed(data),
                    missing_tail: missing,
                }),
                problem: cut
                    .filter(|_| missing > 0)
                    .map(|(captured, original)| ProblemKind::SnaplenCut { captured, original }),
            }
        }
        1 if src.is_ipv4() => icmp4(src, p),
        58 if src.is_ipv6() => icmp6(src, p),
        _ => Parsed::ok(L4::Nothing),
    }
}

/// The flag bits as the reassembler tests them ([`TCP_FIN`], [`TCP_SYN`], ...).
fn tcp_flags(header: &TcpHeaderSlice<'_>) -> u8 {
    [
        header.fin(),
        header.syn(),
        header.rst(),
        header.psh(),
        header.ack(),
        header.urg(),
        header.ece(),
        header.cwr(),
    ]
    .iter()
    .enumerate()
    .fold(0, |flags, (bit, set)| flags | (u8::from(*set) << bit))
}

fn icmp4(reporter: IpAddr, p: &[u8]) -> Parsed<'_> {
    let (Some(&ty), Some(&code)) = (p.first(), p.get(1)) else {
        return Parsed::ok(L4::Nothing);
    };
    if ty != 3 {
        return Parsed::ok(L4::Nothing);
    }
    let kind = match code {
        0 | 6 | 11 => UnreachableKind::Network,
        1 | 7 | 12 => UnreachableKind::Host,
        2 => UnreachableKind::Protocol,
        3 => UnreachableKind::Port,
        9 | 10 | 13 => UnreachableKind::AdminProhibited,
        code => UnreachableKind::Other {
            icmp_type: ty,
            code,
        },
    };
    let q = p.get(8..).unwrap_or_default();
    let (Some(&vihl), Some(flags), Some(&proto), Some(qs), Some(qd)) =
        (q.first(), be16(q, 6), q.get(9), v4(q, 12), v4(q, 16))
    else {
        return Parsed::problem(ProblemKind::Truncated {
            layer: "ICMP quoted IPv4",
            needed: 20,
            got: q.len(),
        });
    };
    if vihl >> 4 != 4 || flags & 0x1fff != 0 {
        return Parsed::ok(L4::Nothing);
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    let t = q.get(ihl.max(20)..).unwrap_or_default();
    quoted(reporter, kind, proto, IpAddr::V4(qs), IpAddr::V4(qd), t)
}

fn icmp6(reporter: IpAddr, p: &[u8]) -> Parsed<'_> {
    let (Some(&ty), Some(&code)) = (p.first(), p.get(1)) else {
        return Parsed::ok(L4::Nothing);
    };
    if ty != 1 {
        return Parsed::ok(L4::Nothing);
    }
    let kind = match code {
        0 => UnreachableKind::Network,
        1 | 5 | 6 => UnreachableKind::AdminProhibited,
        3 => UnreachableKind::Host,
        4 => UnreachableKind::Port,
        code => UnreachableKind::Other {
            icmp_type: ty,
            code,
        },
    };
    let q = p.get(8..).unwrap_or_default();
    let (Some(&ver), Some(&nh), Some(qs), Some(qd)) = (q.first(), q.get(6), v6(q, 8), v6(q, 24))
    else {
        return Parsed::problem(ProblemKind::Truncated {
            layer: "ICMPv6 quoted IPv6",
            needed: 40,
            got: q.len(),
        });
    };
    if ver >> 4 != 6 {
        return Parsed::ok(L4::Nothing);
    }
    match ext_headers(nh, q.get(40..).unwrap_or_default()) {
        Ok(Ext::Transport(proto, t)) => {
            quoted(reporter, kind, proto, IpAddr::V6(qs), IpAddr::V6(qd), t)
        }
        Ok(Ext::Fragment {
            next,
            offset: 0,
            rest,
            ..
        }) => quoted(reporter, kind, next, IpAddr::V6(qs), IpAddr::V6(qd), rest),
        _ => Parsed::ok(L4::Nothing),
    }
}

fn quoted<'a>(
    reporter: IpAddr,
    kind: UnreachableKind,
    proto: u8,
    src: IpAddr,
    dst: IpAddr,
    t: &'a [u8],
) -> Parsed<'a> {
    let (Some(sport), Some(dport)) = (be16(t, 0), be16(t, 2)) else {
        return Parsed::ok(L4::Nothing);
    };
    let (quoted_transport, quoted_payload) = match proto {
        17 => {
            let ulen = usize::from(be16(t, 4).unwrap_or_default());
            let end = if ulen >= 8 {
                ulen.min(t.len())
            } else {
                t.len()
            };
            (Transport::Udp, t.get(8..end).unwrap_or_default())
        }
        6 => {
            let hlen = t.get(12).map_or(0, |d| usize::from(d >> 4) * 4);
            let payload = if hlen >= 20 {
                t.get(hlen..).unwrap_or_default()
            } else {
                &[]
            };
            (Transport::Tcp, payload)
        }
        _ => return Parsed::ok(L4::Nothing),
    };
    Parsed::ok(L4::Unreachable(Unreach {
        reporter,
        kind,
        quoted_transport,
        quoted_src: SocketAddr::new(src, sport),
        quoted_dst: SocketAddr::new(dst, dport),
        quoted_payload,
    }))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn ipv4_header(
        proto: u8,
        src: [u8; 4],
        dst: [u8; 4],
        payload_len: usize,
        id: u16,
        frag: u16,
    ) -> Vec<u8> {
        let total = (20 + payload_len) as u16;
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&total.to_be_bytes());
        h.extend_from_slice(&id.to_be_bytes());
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0]);
        h.extend_from_slice(&src);
        h.extend_from_slice(&dst);
        h
    }

    pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = Vec::new();
        u.extend_from_slice(&sport.to_be_bytes());
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    pub fn ipv4_udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
        let u = udp(sport, dport, payload);
        let mut p = ipv4_header(17, src, dst, u.len(), 1, 0x4000);
        p.extend_from_slice(&u);
        p
    }

    pub fn ipv6_packet(nh: u8, src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[nh, 64]);
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn udp4_with_ethernet_padding() {
        let mut p = ipv4_udp([10, 0, 0, 1], 5000, [10, 0, 0, 2], 3478, b"hello");
        p.extend_from_slice(&[0; 12]);
        let r = parse(Net::Ipv4(&p), None);
        assert!(r.problem.is_none());
        let L4::Udp { src, dst, data } = r.l4 else {
            panic!("{r:?}")
        };
        assert_eq!(src.to_string(), "10.0.0.1:5000");
        assert_eq!(dst.to_string(), "10.0.0.2:3478");
        assert_eq!(data, b"hello");
    }

    #[test]
    fn udp6_through_extension_headers() {
        let mut ext = vec![60, 0, 1, 4, 0, 0, 0, 0]; // hop-by-hop, next = dest opts
        ext.extend_from_slice(&[43, 0, 1, 4, 0, 0, 0, 0]); // dest opts, next = routing
        ext.extend_from_slice(&[51, 0, 0, 0, 0, 0, 0, 0]); // routing, next = AH
        ext.extend_from_slice(&[17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // AH (len 1 -> 12 bytes)
        ext.extend_from_slice(&udp(1, 2, b"xyz"));
        let mut a = [0u8; 16];
        a[15] = 1;
        let p = ipv6_packet(0, a, a, &ext);
        let r = parse(Net::Ipv6(&p), None);
        let L4::Udp { data, .. } = r.l4 else {
            panic!("{r:?}")
        };
        assert_eq!(data, b"xyz");
    }

    #[test]
    fn ipv6_fragment_header() {
        let mut ext = vec![17, 0, 0x00, 0x09, 0, 0, 0, 7]; // offset 8, more
        ext.extend_from_slice(b"abcdefgh");
        let p = ipv6_packet(44, [0; 16], [0; 16], &ext);
        let r = parse(Net::Ipv6(&p), None);
        let L4::Fragment(f) = r.l4 else {
            panic!("{r:?}")
        };
        assert_eq!((f.offset, f.more, f.key.id, f.proto), (8, true, 7, 17));
        assert_eq!(&f.data[..], b"abcdefgh");
    }

    #[test]
    fn truncated_and_cut() {
        let p = ipv4_udp([1; 4], 1, [2; 4], 2, &[0; 100]);
        let r = parse(Net::Ipv4(&p[..60]), None);
        assert!(
            matches!(r.problem, Some(ProblemKind::Truncated { .. })),
            "{r:?}"
        );
        let r = parse(Net::Ipv4(&p[..60]), Some((74, 142)));
        assert!(
            matches!(r.problem, Some(ProblemKind::SnaplenCut { .. })),
            "{r:?}"
        );
        let L4::Udp { data, .. } = r.l4 else { panic!() };
        assert_eq!(data.len(), 32);
        for n in 0..p.len() {
            let _ = parse(Net::Ipv4(&p[..n]), None);
        }
    }

    #[test]
    fn icmp_port_unreachable() {
        let inner = ipv4_udp(
            [10, 0, 0, 1],
            5000,
            [10, 0, 0, 2],
            3478,
            &[0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42],
        );
        let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&inner);
        let mut p = ipv4_header(1, [10, 0, 0, 2], [10, 0, 0, 1], icmp.len(), 9, 0);
        p.extend_from_slice(&icmp);
        let r = parse(Net::Ipv4(&p), None);
        let L4::Unreachable(u) = r.l4 else {
            panic!("{r:?}")
        };
        assert_eq!(u.kind, UnreachableKind::Port);
        assert_eq!(u.reporter.to_string(), "10.0.0.2");
        assert_eq!(u.quoted_src.to_string(), "10.0.0.1:5000");
        assert_eq!(u.quoted_dst.to_string(), "10.0.0.2:3478");
        assert_eq!(u.quoted_transport, Transport::Udp);
        assert_eq!(u.quoted_payload.len(), 8);
    }

    #[test]
    fn icmpv6_admin_prohibited_quoting_tcp() {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[15] = 1;
        let mut b = a;
        b[15] = 2;
        let mut tcp = vec![
            0x13, 0x88, 0x0d, 0x96, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0, 0, 0, 0, 0, 0,
        ];
        tcp.extend_from_slice(b"data");
        let inner = ipv6_packet(6, a, b, &tcp);
        let mut icmp = vec![1, 1, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&inner);
        let p = ipv6_packet(58, b, a, &icmp);
        let r = parse(Net::Ipv6(&p), None);
        let L4::Unreachable(u) = r.l4 else {
            panic!("{r:?}")
        };
        assert_eq!(u.kind, UnreachableKind::AdminProhibited);
        assert_eq!(u.quoted_transport, Transport::Tcp);
        assert_eq!(u.quoted_src.port(), 5000);
        assert_eq!(u.quoted_dst.port(), 3478);
        assert_eq!(u.quoted_payload, b"data");
        for n in 0..p.len() {
            let _ = parse(Net::Ipv6(&p[..n]), None);
        }
    }
}
