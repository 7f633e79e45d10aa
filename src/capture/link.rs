//! Link layers: from a frame to the IP packet it carries.
//!
//! Ethernet (with any number, up to a bound, of 802.1Q / 802.1ad / QinQ tags, PPPoE session
//! and MPLS), Linux cooked v1 (SLL, 113) and v2 (SLL2, 276), raw IP (12, 14, 101, 228, 229),
//! BSD NULL (0, host byte order: both accepted) and LOOP (108, network byte order).
//!
//! etherparse slices the Ethernet II header and each VLAN tag. Read here: PPPoE and MPLS
//! (etherparse 0.21 has neither), SLL2 and the BSD loopback headers (nor these), and SLL:
//! etherparse's `LinuxSllSlice` refuses hardware types other than Ethernet, netlink, GRE,
//! radiotap and FRAD, while `tcpdump -i any` writes loopback (772), PPP (512) and tunnel
//! (0xfffe) frames with the same 16-byte header and an ethertype, as Wireshark reads them.

use etherparse::{Ethernet2Slice, SingleVlanSlice};

use super::source::be16;
use super::ProblemKind;

/// BSD loopback: a 4-byte address family in the writer's byte order (both orders accepted).
pub const LINKTYPE_NULL: u32 = 0;
/// Ethernet II, with VLAN tags, PPPoE session and MPLS read through.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Raw IP under DLT_RAW's number on most systems, in files older than
/// [`LINKTYPE_RAW`] (the IP version is read from the packet).
pub const LINKTYPE_RAW_12: u32 = 12;
/// Raw IP under DLT_RAW's number on OpenBSD (the IP version is read from the packet).
pub const LINKTYPE_RAW_14: u32 = 14;
/// Raw IP, IPv4 or IPv6 (the version is read from the packet).
pub const LINKTYPE_RAW: u32 = 101;
/// OpenBSD loopback: a 4-byte address family in network byte order.
pub const LINKTYPE_LOOP: u32 = 108;
/// Linux cooked capture v1 (`tcpdump -i any`): a 16-byte header ending in an ethertype.
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// Raw IPv4.
pub const LINKTYPE_IPV4: u32 = 228;
/// Raw IPv6.
pub const LINKTYPE_IPV6: u32 = 229;
/// Linux cooked capture v2 (`tcpdump -i any -y LINUX_SLL2`): a 20-byte header that also
/// names the interface.
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// The network-layer packet found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Net<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// Not IP (ARP, LLDP, ...): nothing to say about it.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkError {
    Unknown(u32),
    Problem(ProblemKind),
}

fn truncated(layer: &'static str, needed: usize, got: usize) -> LinkError {
    LinkError::Problem(ProblemKind::Truncated { layer, needed, got })
}

/// Whether this crate understands a link type.
pub fn is_supported(link: u32) -> bool {
    matches!(
        link,
        LINKTYPE_NULL
            | LINKTYPE_ETHERNET
            | LINKTYPE_RAW_12
            | LINKTYPE_RAW_14
            | LINKTYPE_RAW
            | LINKTYPE_LOOP
            | LINKTYPE_LINUX_SLL
            | LINKTYPE_IPV4
            | LINKTYPE_IPV6
            | LINKTYPE_LINUX_SLL2
    )
}

pub(crate) fn decap(link: u32, data: &[u8]) -> Result<Net<'_>, LinkError> {
    match link {
        LINKTYPE_ETHERNET => {
            let eth = Ethernet2Slice::from_slice_without_fcs(data)
                .map_err(|e| truncated("Ethernet", e.required_len, e.len))?;
            ethertype(eth.ether_type().0, eth.payload_slice())
        }
        LINKTYPE_LINUX_SLL => {
            let et = be16(data, 14).ok_or_else(|| truncated("Linux SLL", 16, data.len()))?;
            ethertype(et, data.get(16..).unwrap_or_default())
        }
        LINKTYPE_LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(truncated("Linux SLL2", 20, data.len()));
            }
            let et = be16(data, 0).unwrap_or_default();
            ethertype(et, data.get(20..).unwrap_or_default())
        }
        LINKTYPE_RAW | LINKTYPE_RAW_12 | LINKTYPE_RAW_14 => Ok(by_version(data)),
        LINKTYPE_IPV4 => Ok(Net::Ipv4(data)),
        LINKTYPE_IPV6 => Ok(Net::Ipv6(data)),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            let Some(af) = data.get(..4) else {
                return Err(truncated("loopback", 4, data.len()));
            };
            let mut v = u32::from_le_bytes([af[0], af[1], af[2], af[3]]);
            // Host byte order for NULL, network order for LOOP; some writers get it wrong.
            // Address families are small, so the non-zero half tells the order.
            if v & 0xffff_0000 != 0 {
                v = v.swap_bytes();
            }
            let rest = data.get(4..).unwrap_or_default();
            Ok(match v {
                2 => Net::Ipv4(rest),
                10 | 24 | 28 | 30 => Net::Ipv6(rest),
                _ => Net::Other,
            })
        }
        other => Err(LinkError::Unknown(other)),
    }
}

fn by_version(data: &[u8]) -> Net<'_> {
    match data.first().map(|b| b >> 4) {
        Some(4) => Net::Ipv4(data),
        Some(6) => Net::Ipv6(data),
        _ => Net::Other,
    }
}

const MAX_TAGS: usize = 8;

fn ethertype(mut et: u16, mut rest: &[u8]) -> Result<Net<'_>, LinkError> {
    for _ in 0..MAX_TAGS {
        match et {
            0x0800 => return Ok(Net::Ipv4(rest)),
            0x86dd => return Ok(Net::Ipv6(rest)),
            // 802.1Q, 802.1ad, old QinQ: TCI then the inner ethertype.
            0x8100 | 0x88a8 | 0x9100 | 0x9200 => {
                let tag = SingleVlanSlice::from_slice(rest)
                    .map_err(|e| truncated("VLAN tag", e.required_len, e.len))?;
                et = tag.ether_type().0;
                rest = tag.payload_slice();
            }
            // PPPoE session: 6-byte header, then a 2-byte PPP protocol.
            0x8864 => {
                let proto = be16(rest, 6).ok_or_else(|| truncated("PPPoE", 8, rest.len()))?;
                let inner = rest.get(8..).unwrap_or_default();
                return Ok(match proto {
                    0x0021 => Net::Ipv4(inner),
                    0x0057 => Net::Ipv6(inner),
                    _ => Net::Other,
                });
            }
            // MPLS unicast / multicast: labels until bottom-of-stack, then guess by version.
            0x8847 | 0x8848 => {
                for _ in 0..MAX_TAGS {
                    let Some(label) = rest.get(..4) else {
                        return Err(truncated("MPLS", 4, rest.len()));
                    };
                    let bottom = label[2] & 1 == 1;
                    rest = rest.get(4..).unwrap_or_default();
                    if bottom {
                        return Ok(by_version(rest));
                    }
                }
                return Ok(Net::Other);
            }
            _ => return Ok(Net::Other),
        }
    }
    Ok(Net::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP4: &[u8] = &[0x45, 0, 0, 20];
    const IP6: &[u8] = &[0x60, 0, 0, 0];

    fn eth(et: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&et.to_be_bytes());
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn ethernet_and_vlans() {
        assert_eq!(decap(1, &eth(0x0800, IP4)), Ok(Net::Ipv4(IP4)));
        assert_eq!(decap(1, &eth(0x86dd, IP6)), Ok(Net::Ipv6(IP6)));
        let mut q = vec![0x00, 0x64, 0x08, 0x00];
        q.extend_from_slice(IP4);
        assert_eq!(decap(1, &eth(0x8100, &q)), Ok(Net::Ipv4(IP4)));
        let mut qinq = vec![0x00, 0x0a, 0x81, 0x00, 0x00, 0x64, 0x86, 0xdd];
        qinq.extend_from_slice(IP6);
        assert_eq!(decap(1, &eth(0x88a8, &qinq)), Ok(Net::Ipv6(IP6)));
        assert_eq!(decap(1, &eth(0x0806, IP4)), Ok(Net::Other));
        assert!(matches!(decap(1, &[0; 13]), Err(LinkError::Problem(_))));
        assert!(matches!(
            decap(1, &eth(0x8100, &[0, 1])),
            Err(LinkError::Problem(_))
        ));
        // A long chain of tags ends without panicking.
        let chain: Vec<u8> = std::iter::repeat_n([0u8, 1, 0x81, 0], 40)
            .flatten()
            .collect();
        assert_eq!(decap(1, &eth(0x8100, &chain)), Ok(Net::Other));
    }

    #[test]
    fn cooked() {
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(IP4);
        assert_eq!(decap(113, &sll), Ok(Net::Ipv4(IP4)));
        let mut sll2 = vec![0x86, 0xdd];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(IP6);
        assert_eq!(decap(276, &sll2), Ok(Net::Ipv6(IP6)));
        assert!(matches!(decap(276, &[0x08, 0]), Err(LinkError::Problem(_))));
    }

    #[test]
    fn raw_and_loopback() {
        assert_eq!(decap(101, IP4), Ok(Net::Ipv4(IP4)));
        assert_eq!(decap(12, IP6), Ok(Net::Ipv6(IP6)));
        assert_eq!(decap(14, IP4), Ok(Net::Ipv4(IP4)));
        assert_eq!(decap(228, IP4), Ok(Net::Ipv4(IP4)));
        assert_eq!(decap(229, IP6), Ok(Net::Ipv6(IP6)));
        for (link, af) in [
            (0u32, 2u32.to_le_bytes()),
            (0, 2u32.to_be_bytes()),
            (108, 2u32.to_be_bytes()),
            (108, 2u32.to_le_bytes()),
        ] {
            let mut v = af.to_vec();
            v.extend_from_slice(IP4);
            assert_eq!(decap(link, &v), Ok(Net::Ipv4(IP4)), "{link} {af:?}");
        }
        for af in [10u32, 24, 28, 30] {
            let mut v = af.to_le_bytes().to_vec();
            v.extend_from_slice(IP6);
            assert_eq!(decap(0, &v), Ok(Net::Ipv6(IP6)));
        }
        assert_eq!(decap(147, IP4), Err(LinkError::Unknown(147)));
    }
}
