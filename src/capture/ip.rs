//! IPv4 / IPv6 (extension headers, AH) down to UDP, TCP and ICMP destination-unreachable.
//!
//! Stateless: a fragment is handed on as [`L4::Fragment`] for [`super::defrag`]; a TCP
//! segment as [`TcpSegment`] for [`super::tcp`]. Nothing here allocates for a well-formed
//! packet.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::link::Net;
use super::source::{be16, be32};
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
    let (Some(&vihl), Some(src), Some(dst)) = (d.first(), v4(d, 12), v4(d, 16)) else {
        return Parsed::problem(short("IPv4", 20, d.len(), cut));
    };
    if vihl >> 4 != 4 {
        return Parsed::problem(malformed("IPv4", "version is not 4"));
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    if ihl < 20 {
        return Parsed::problem(malformed("IPv4", "header length below 20"));
    }
    if d.len() < ihl {
        return Parsed::problem(short("IPv4", ihl, d.len(), cut));
    }
    let total = usize::from(be16(d, 2).unwrap_or_default());
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
    let flags = be16(d, 6).unwrap_or_default();
    let more = flags & 0x2000 != 0;
    let offset = u32::from(flags & 0x1fff) * 8;
    let proto = d.get(9).copied().unwrap_or_default();
    let (src, dst) = (IpAddr::V4(src), IpAddr::V4(dst));
    if more || offset != 0 {
        let id = u32::from(be16(d, 4).unwrap_or_default());
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
    let (Some(&ver), Some(plen), Some(&nh), Some(src), Some(dst)) =
        (d.first(), be16(d, 4), d.get(6), v6(d, 8), v6(d, 24))
    else {
        return Parsed::problem(short("IPv6", 40, d.len(), cut));
    };
    if ver >> 4 != 6 {
        return Parsed::problem(malformed("IPv6", "version is not 6"));
    }
    let plen = usize::from(plen);
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
    let (src, dst) = (IpAddr::V6(src), IpAddr::V6(dst));
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

/// Walk IPv6 extension headers starting with next-header `nh` at the start of `b`.
pub(crate) fn ext_headers(mut nh: u8, b: &[u8]) -> Result<Ext<'_>, ProblemKind> {
    let mut at = 0usize;
    for _ in 0..MAX_EXT_HEADERS {
        let rest = b.get(at..).unwrap_or_default();
        match nh {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let (Some(&next), Some(&len)) = (rest.first(), rest.get(1)) else {
                    return Err(ProblemKind::Truncated {
                        layer: "IPv6 extension header",
                        needed: 2,
                        got: rest.len(),
                    });
                };
                nh = next;
                at += (usize::from(len) + 1) * 8;
            }
            // Authentication header: length in 4-byte units, minus 2.
            51 => {
                let (Some(&next), Some(&len)) = (rest.first(), rest.get(1)) else {
                    return Err(ProblemKind::Truncated {
                        layer: "IPv6 AH",
                        needed: 2,
                        got: rest.len(),
                    });
                };
                nh = next;
                at += (usize::from(len) + 2) * 4;
            }
            44 => {
                let (Some(&next), Some(off), Some(id)) =
                    (rest.first(), be16(rest, 2), be32(rest, 4))
                else {
                    return Err(ProblemKind::Truncated {
                        layer: "IPv6 fragment header",
                        needed: 8,
                        got: rest.len(),
                    });
                };
                let offset = u32::from(off & 0xfff8);
                let more = off & 1 != 0;
                let after = rest.get(8..).unwrap_or_default();
                if offset == 0 && !more {
                    // Atomic fragment (RFC 6946): not really fragmented.
                    nh = next;
                    at += 8;
                    continue;
                }
                return Ok(Ext::Fragment {
                    next,
                    offset,
                    more,
                    id,
                    rest: after,
                });
            }
            // No next header, ESP (encrypted): nothing to read.
            59 | 50 => return Ok(Ext::Nothing),
            proto => {
                if at > b.len() {
                    return Err(ProblemKind::Truncated {
                        layer: "IPv6 extension header",
                        needed: at,
                        got: b.len(),
                    });
                }
                return Ok(Ext::Transport(proto, rest));
            }
        }
    }
    Err(malformed("IPv6", "too many extension headers"))
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
            let (Some(sport), Some(dport), Some(ulen)) = (be16(p, 0), be16(p, 2), be16(p, 4))
            else {
                return Parsed::problem(short("UDP", 8, p.len(), cut));
            };
            let ulen = usize::from(ulen);
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
            let (Some(sport), Some(dport), Some(seq), Some(ack), Some(&doff), Some(&flags)) = (
                be16(p, 0),
                be16(p, 2),
                be32(p, 4),
                be32(p, 8),
                p.get(12),
                p.get(13),
            ) else {
                return Parsed::problem(short("TCP", 20, p.len(), cut));
            };
            let hlen = usize::from(doff >> 4) * 4;
            if hlen < 20 {
                return Parsed::problem(malformed("TCP", "data offset below 5"));
            }
            let Some(data) = p.get(hlen..) else {
                return Parsed::problem(short("TCP", hlen, p.len(), cut));
            };
            Parsed {
                l4: L4::Tcp(TcpSegment {
                    src: SocketAddr::new(src, sport),
                    dst: SocketAddr::new(dst, dport),
                    seq,
                    ack,
                    flags,
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
