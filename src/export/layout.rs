//! Where the IP and transport headers of a captured frame are: for the 5-tuple of a flow
//! (`--export-flows`) and for rewriting a frame in place (`--redact`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::capture::link::{self, Net};

/// IP protocol numbers this module looks into.
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;

/// IPv6 extension headers walked to the transport header (hop-by-hop, routing, destination
/// options); a fragment header ends the walk.
const IPV6_EXTENSIONS: [u8; 3] = [0, 43, 60];
const IPV6_FRAGMENT: u8 = 44;
/// Extension headers walked at most (a hostile chain ends there).
const MAX_IPV6_EXTENSIONS: usize = 8;

/// The IP version of a frame's packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IpVersion {
    V4,
    V6,
}

/// The offsets of a frame's IP packet and of what it carries, all from the frame's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub version: IpVersion,
    /// The IP header's first byte.
    pub ip_at: usize,
    /// The first byte after the IP packet as its header says (the frame may hold less, or
    /// an Ethernet trailer after it).
    pub ip_end: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The transport protocol, with its header's offset; `None` for a fragment after the
    /// first (no transport header) or when the headers are cut.
    pub transport: Option<TransportAt>,
}

/// A UDP or TCP header in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TransportAt {
    pub proto: u8,
    /// The transport header's first byte.
    pub at: usize,
    /// The first payload byte (after the UDP or TCP header); may be past the captured bytes.
    pub payload_at: usize,
    pub src_port: u16,
    pub dst_port: u16,
}

/// One direction-free flow: protocol and both endpoints, the lower endpoint first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiveTuple {
    /// IP protocol number (6 TCP, 17 UDP).
    pub proto: u8,
    /// The endpoint that sorts first (address, then port), whichever way a packet goes.
    pub low: SocketAddr,
    /// The other endpoint.
    pub high: SocketAddr,
}

impl FiveTuple {
    /// The flow of a packet from `a` to `b` (the same for `b` to `a`).
    pub fn new(proto: u8, a: SocketAddr, b: SocketAddr) -> FiveTuple {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        FiveTuple { proto, low, high }
    }
}

impl Layout {
    /// The flow the frame belongs to, when it has a UDP or TCP header.
    pub fn five_tuple(&self) -> Option<FiveTuple> {
        let t = self.transport?;
        Some(FiveTuple::new(
            t.proto,
            SocketAddr::new(self.src, t.src_port),
            SocketAddr::new(self.dst, t.dst_port),
        ))
    }
}

/// The layout of a frame captured on link type `link`, when it carries IP.
pub(crate) fn layout(link: u32, frame: &[u8]) -> Option<Layout> {
    let (net, version) = match link::decap(link, frame).ok()? {
        Net::Ipv4(n) => (n, IpVersion::V4),
        Net::Ipv6(n) => (n, IpVersion::V6),
        Net::Other => return None,
    };
    // The network slice is part of the frame: its offset is the distance between the starts.
    let ip_at = (net.as_ptr() as usize).checked_sub(frame.as_ptr() as usize)?;
    if ip_at > frame.len() {
        return None;
    }
    match version {
        IpVersion::V4 => ipv4(net, ip_at),
        IpVersion::V6 => ipv6(net, ip_at),
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*s.first()?, *s.get(1)?]))
}

fn ipv4(net: &[u8], ip_at: usize) -> Option<Layout> {
    let header = net.get(..20)?;
    let ihl = usize::from(header.first()? & 0x0f) * 4;
    let total = usize::from(be16(header, 2)?);
    let frag = be16(header, 6)?;
    let proto = *header.get(9)?;
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(header.get(12..16)?).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(header.get(16..20)?).ok()?);
    let first_fragment = frag & 0x1fff == 0;
    let transport = if first_fragment && ihl >= 20 {
        transport_at(net, ip_at, ihl, proto)
    } else {
        None
    };
    Some(Layout {
        version: IpVersion::V4,
        ip_at,
        ip_end: ip_at + total.max(ihl),
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        transport,
    })
}

fn ipv6(net: &[u8], ip_at: usize) -> Option<Layout> {
    let header = net.get(..40)?;
    let payload_len = usize::from(be16(header, 4)?);
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(header.get(8..24)?).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(header.get(24..40)?).ok()?);
    let mut next = *header.get(6)?;
    let mut at = 40usize;
    let mut transport = None;
    for _ in 0..MAX_IPV6_EXTENSIONS {
        if IPV6_EXTENSIONS.contains(&next) {
            let len = (usize::from(*net.get(at + 1)?) + 1) * 8;
            next = *net.get(at)?;
            at += len;
            continue;
        }
        if next != IPV6_FRAGMENT {
            transport = transport_at(net, ip_at, at, next);
        }
        break;
    }
    Some(Layout {
        version: IpVersion::V6,
        ip_at,
        ip_end: ip_at + 40 + payload_len,
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        transport,
    })
}

/// The UDP or TCP header at `at` of the IP packet `net` (which starts at `ip_at` of the frame).
fn transport_at(net: &[u8], ip_at: usize, at: usize, proto: u8) -> Option<TransportAt> {
    let header_len = match proto {
        PROTO_UDP => 8,
        PROTO_TCP => usize::from(net.get(at + 12)? >> 4) * 4,
        _ => return None,
    };
    Some(TransportAt {
        proto,
        at: ip_at + at,
        payload_at: ip_at + at + header_len.max(8),
        src_port: be16(net, at)?,
        dst_port: be16(net, at + 2)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An Ethernet frame with an IPv4/UDP packet from 10.0.0.1:5000 to 192.0.2.9:3478.
    pub(crate) fn udp4_frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        f.extend([
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend([10, 0, 0, 1, 192, 0, 2, 9]);
        let udp_len = (8 + payload.len()) as u16;
        f.extend(5000u16.to_be_bytes());
        f.extend(3478u16.to_be_bytes());
        f.extend(udp_len.to_be_bytes());
        f.extend([0, 0]);
        f.extend(payload);
        f
    }

    #[test]
    fn finds_the_headers_of_an_ethernet_udp_frame() {
        let f = udp4_frame(b"hello");
        let l = layout(link::LINKTYPE_ETHERNET, &f).unwrap();
        assert_eq!(l.ip_at, 14);
        assert_eq!(l.ip_end, f.len());
        let t = l.transport.unwrap();
        assert_eq!((t.at, t.payload_at, t.proto), (34, 42, PROTO_UDP));
        let tuple = l.five_tuple().unwrap();
        let back = FiveTuple::new(
            17,
            "192.0.2.9:3478".parse().unwrap(),
            "10.0.0.1:5000".parse().unwrap(),
        );
        assert_eq!(tuple, back);
    }

    #[test]
    fn a_cut_frame_has_no_layout() {
        let f = udp4_frame(b"");
        assert!(layout(link::LINKTYPE_ETHERNET, &f[..20]).is_none());
        assert!(layout(link::LINKTYPE_ETHERNET, &f[..36])
            .unwrap()
            .transport
            .is_none());
    }
}
