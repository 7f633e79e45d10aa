//! Builders for small captures written byte by byte.
#![allow(dead_code)]

pub const COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

pub fn stun(ty: u16, body_len: usize, fill: u8) -> Vec<u8> {
    let mut m = ty.to_be_bytes().to_vec();
    m.extend_from_slice(&(body_len as u16).to_be_bytes());
    m.extend_from_slice(&COOKIE);
    m.extend_from_slice(&[fill; 12]);
    m.extend(std::iter::repeat_n(fill, body_len));
    m
}

/// ChannelData with the TCP padding.
pub fn channel_data(ch: u16, len: usize, fill: u8) -> Vec<u8> {
    let mut m = ch.to_be_bytes().to_vec();
    m.extend_from_slice(&(len as u16).to_be_bytes());
    m.extend(std::iter::repeat_n(fill, len));
    m.extend(std::iter::repeat_n(0, (4 - len % 4) % 4));
    m
}

pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub fn sll2(proto: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = proto.to_be_bytes().to_vec();
    v.extend_from_slice(&[0, 0]); // reserved
    v.extend_from_slice(&3u32.to_be_bytes()); // interface index
    v.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    v.push(4); // outgoing
    v.push(6);
    v.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
    v.extend_from_slice(payload);
    v
}

pub fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(payload);
    h
}

pub fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub fn ipv4_udp(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    ipv4(17, src, dst, 1, 0x4000, &udp(sport, dport, payload))
}

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const PSH: u8 = 0x08;

#[allow(clippy::too_many_arguments)]
pub fn ipv4_tcp(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ipv4(6, src, dst, 1, 0x4000, &t)
}

pub fn ipv6(nh: u8, src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[nh, 64]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(payload);
    p
}

/// Little-endian microsecond pcap.
pub fn pcap_le(link: u32, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&2u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&link.to_le_bytes());
    for (sec, frac, data) in packets {
        for x in [*sec, *frac, data.len() as u32, data.len() as u32] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
    }
    v
}

/// Big-endian nanosecond pcap.
pub fn pcap_be_ns(link: u32, packets: &[(u32, u32, &[u8])]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&0xa1b2_3c4du32.to_be_bytes());
    v.extend_from_slice(&2u16.to_be_bytes());
    v.extend_from_slice(&4u16.to_be_bytes());
    v.extend_from_slice(&[0; 8]);
    v.extend_from_slice(&65535u32.to_be_bytes());
    v.extend_from_slice(&link.to_be_bytes());
    for (sec, frac, data) in packets {
        for x in [*sec, *frac, data.len() as u32, data.len() as u32] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(data);
    }
    v
}

fn block(ty: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    let total = (12 + body.len()) as u32;
    let mut v = ty.to_le_bytes().to_vec();
    v.extend_from_slice(&total.to_le_bytes());
    v.extend_from_slice(&body);
    v.extend_from_slice(&total.to_le_bytes());
    v
}

/// Little-endian section header block.
pub fn shb() -> Vec<u8> {
    let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes());
    block(0x0a0d_0d0a, &body)
}

/// Interface description block with options (code, value).
pub fn idb(link: u16, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = link.to_le_bytes().to_vec();
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&0u32.to_le_bytes());
    for (code, value) in options {
        body.extend_from_slice(&code.to_le_bytes());
        body.extend_from_slice(&(value.len() as u16).to_le_bytes());
        body.extend_from_slice(value);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
    }
    if !options.is_empty() {
        body.extend_from_slice(&[0; 4]);
    }
    block(1, &body)
}

/// Enhanced packet block.
pub fn epb(iface: u32, ticks: u64, data: &[u8]) -> Vec<u8> {
    let mut body = iface.to_le_bytes().to_vec();
    body.extend_from_slice(&((ticks >> 32) as u32).to_le_bytes());
    body.extend_from_slice(&(ticks as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    block(6, &body)
}

pub fn pcapng_two_interfaces() -> Vec<u8> {
    let mut b = shb();
    b.extend(idb(1, &[]));
    b.extend(idb(276, &[(9, vec![9])]));
    let e = |d: &[u8]| {
        eth(
            0x0800,
            &ipv4_udp([10, 0, 0, 1], 1000, [10, 0, 0, 2], 3478, d),
        )
    };
    let s = sll2(
        0x0800,
        &ipv4_udp([10, 0, 0, 3], 1000, [10, 0, 0, 4], 3478, b"sll2-ns"),
    );
    b.extend(epb(0, 1_700_000_000_123_456, &e(b"eth-us")));
    b.extend(epb(1, 1_700_000_000_123_456_789, &s));
    b.extend(epb(0, 1_700_000_001_000_001, &e(b"eth-2")));
    b
}

pub fn udp_capture(n: u32) -> Vec<u8> {
    let pkts: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            eth(
                0x0800,
                &ipv4_udp(
                    [192, 0, 2, 1],
                    40000,
                    [198, 51, 100, 1],
                    3478,
                    &stun(1, 8, i as u8),
                ),
            )
        })
        .collect();
    let recs: Vec<(u32, u32, &[u8])> = pkts
        .iter()
        .enumerate()
        .map(|(i, p)| (i as u32, 0, &p[..]))
        .collect();
    pcap_le(1, &recs)
}

/// A UDP datagram in three IPv4 fragments sent last-first-middle, then a lone fragment.
pub fn ipv4_fragments_capture(msg: &[u8]) -> Vec<u8> {
    let dgram = udp(40000, 3478, msg);
    let (s, d) = ([192, 0, 2, 1], [198, 51, 100, 1]);
    let n = dgram.len();
    let a = 32.min(n);
    let b = 64.min(n);
    let f1 = eth(0x0800, &ipv4(17, s, d, 7, 0x2000, &dgram[..a]));
    let f2 = eth(
        0x0800,
        &ipv4(17, s, d, 7, 0x2000 | (a / 8) as u16, &dgram[a..b]),
    );
    let f3 = eth(0x0800, &ipv4(17, s, d, 7, (b / 8) as u16, &dgram[b..]));
    let lone = eth(0x0800, &ipv4(17, s, d, 99, 0x2000, &dgram[..8]));
    pcap_le(1, &[(1, 0, &f3), (1, 1, &f1), (1, 2, &f2), (1, 3, &lone)])
}

/// A UDP datagram in two IPv6 fragments.
pub fn ipv6_fragments_capture(msg: &[u8]) -> Vec<u8> {
    let dgram = udp(5000, 3478, msg);
    let mut s = [0u8; 16];
    s[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    let mut d = s;
    s[15] = 1;
    d[15] = 2;
    let cut = 40.min(dgram.len());
    let mut fh1 = vec![17, 0, 0, 1, 0, 0, 0x12, 0x34];
    fh1.extend_from_slice(&dgram[..cut]);
    let off = (cut as u16) & 0xfff8;
    let mut fh2 = vec![17, 0];
    fh2.extend_from_slice(&off.to_be_bytes());
    fh2.extend_from_slice(&[0, 0, 0x12, 0x34]);
    fh2.extend_from_slice(&dgram[cut..]);
    let p1 = eth(0x86dd, &ipv6(44, s, d, &fh1));
    let p2 = eth(0x86dd, &ipv6(44, s, d, &fh2));
    pcap_le(1, &[(1, 0, &p1), (1, 1, &p2)])
}

pub const CLI: [u8; 4] = [192, 0, 2, 1];
pub const SRV: [u8; 4] = [198, 51, 100, 1];

/// TURN over TCP: two messages in one segment, one split over three segments sent out of
/// order with a retransmission, a lost segment (a gap), then two more and FIN.
pub fn tcp_capture() -> (Vec<u8>, Vec<Vec<u8>>) {
    let msgs = vec![
        stun(0x0003, 16, 1),
        stun(0x0113, 40, 2),
        channel_data(0x4000, 13, 3),
        stun(0x0008, 0, 4),
        channel_data(0x4000, 100, 5),
        stun(0x0108, 8, 6),
    ];
    let s: Vec<u8> = msgs.concat();
    let isn = 0xffff_ff00u32;
    let at = |o: usize| isn.wrapping_add(1).wrapping_add(o as u32);
    let m01 = msgs[0].len() + msgs[1].len();
    let m2 = m01 + msgs[2].len();
    let m3 = m2 + msgs[3].len();
    let c = |seq, flags, d: &[u8]| eth(0x0800, &ipv4_tcp(CLI, 50000, SRV, 3478, seq, 1, flags, d));
    let pkts = [
        c(isn, SYN, b""),
        eth(
            0x0800,
            &ipv4_tcp(
                SRV,
                3478,
                CLI,
                50000,
                7,
                isn.wrapping_add(1),
                SYN | ACK,
                b"",
            ),
        ),
        c(at(0), ACK | PSH, &s[..m01]),
        c(at(m01 + 10), ACK, &s[m01 + 10..m2]),
        c(at(m01), ACK, &s[m01..m01 + 5]),
        c(at(m01), ACK, &s[m01..m01 + 5]),
        c(at(m01 + 5), ACK, &s[m01 + 5..m01 + 10]),
        c(at(0), ACK, &s[..m01]),
        c(at(m3), ACK | FIN, &s[m3..]),
    ];
    let recs: Vec<(u32, u32, &[u8])> = pkts
        .iter()
        .enumerate()
        .map(|(i, p)| (10, i as u32, &p[..]))
        .collect();
    (pcap_le(1, &recs), msgs)
}

pub fn rfc4571_capture(a: &[u8], b: &[u8]) -> Vec<u8> {
    let framed = |m: &[u8]| {
        let mut v = (m.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(m);
        v
    };
    let (fa, fb) = (framed(a), framed(b));
    let c = |seq, flags, d: &[u8]| eth(0x0800, &ipv4_tcp(CLI, 9, SRV, 443, seq, 1, flags, d));
    let p = [
        c(100, SYN, b""),
        c(101, ACK, &fa),
        c(101 + fa.len() as u32, ACK, &fb),
    ];
    pcap_le(1, &[(1, 0, &p[0]), (1, 1, &p[1]), (1, 2, &p[2])])
}

/// A minimal ClientHello record with an SNI extension.
pub fn client_hello(sni: &str) -> Vec<u8> {
    let mut name = vec![0u8];
    name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    name.extend_from_slice(sni.as_bytes());
    let mut list = (name.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&name);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(list.len() as u16).to_be_bytes());
    ext.extend_from_slice(&list);
    let mut hello = vec![3, 3];
    hello.extend_from_slice(&[7; 32]);
    hello.push(0);
    hello.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    hello.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    hello.extend_from_slice(&ext);
    let mut hs = vec![1, 0];
    hs.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    hs.extend_from_slice(&hello);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

pub fn tls_capture(sni: &str) -> Vec<u8> {
    let hello = client_hello(sni);
    let alert = [0x15, 3, 3, 0, 2, 2, 40];
    let p = [
        eth(0x0800, &ipv4_tcp(CLI, 9, SRV, 443, 100, 0, SYN, b"")),
        eth(0x0800, &ipv4_tcp(CLI, 9, SRV, 443, 101, 1, ACK, &hello)),
        eth(0x0800, &ipv4_tcp(SRV, 443, CLI, 9, 1, 1, ACK, &alert)),
    ];
    pcap_le(1, &[(1, 0, &p[0]), (1, 1, &p[1]), (1, 2, &p[2])])
}

pub fn icmp_capture(msg: &[u8]) -> Vec<u8> {
    let quoted = ipv4_udp(CLI, 40000, SRV, 3478, msg);
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted);
    let p = eth(0x0800, &ipv4(1, SRV, CLI, 5, 0, &icmp));
    pcap_le(1, &[(1, 0, &p)])
}

/// Every capture file (.pcap, .pcapng, .cap) under `dir`, recursively.
pub fn captures_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            captures_under(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
        {
            out.push(p);
        }
    }
}
