//! Test support: script STUN/TURN exchanges with the encoder and write them as a pcap
//! (Ethernet, IPv4/IPv6, UDP, TCP segments, ICMP unreachable, TLS hellos), so each finding has a
//! test built from packets. Not part of the stable API.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::capture::{Event, Framing, Payload, TcpControl, Timestamp, Transport, UnreachableKind};
use crate::wire::{attr, Class, Key, MessageBuilder, Method, TransactionId};

/// Start of every script: 2023-11-14T22:13:20Z.
pub const T0_NS: i64 = 1_700_000_000_000_000_000;

#[derive(Debug, Clone)]
enum Kind {
    Udp {
        payload: Vec<u8>,
    },
    Tcp {
        flags: u8,
        seq: u32,
        ack: u32,
        payload: Vec<u8>,
    },
    /// ICMP(v6) destination unreachable from `reporter` about a UDP datagram src -> dst.
    Unreachable {
        reporter: IpAddr,
        code: u8,
        quoted: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
struct Pkt {
    ts: i64,
    src: SocketAddr,
    dst: SocketAddr,
    kind: Kind,
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// A scripted capture: packets in time order, numbered from 1 like Wireshark frames.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pkts: Vec<Pkt>,
    now: i64,
    seq: HashMap<(SocketAddr, SocketAddr), u32>,
}

/// Parse "IP:PORT" (IPv6 in brackets); panics on bad test input.
pub fn sa(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| panic!("bad socket address {s}"))
}

/// A transaction id from a small number (distinct per test exchange).
pub fn tid(n: u32) -> TransactionId {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&0x7e57_0000u32.to_be_bytes());
    b[8..].copy_from_slice(&n.to_be_bytes());
    TransactionId::new(b)
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }

    /// Set the clock to `ms` milliseconds after the script start.
    pub fn at(&mut self, ms: f64) -> &mut Self {
        self.now = (ms * 1e6) as i64;
        self
    }

    /// The clock, in milliseconds after the script start.
    pub fn now_ms(&self) -> f64 {
        self.now as f64 / 1e6
    }

    /// Advance the clock by `ms` milliseconds.
    pub fn after(&mut self, ms: f64) -> &mut Self {
        self.now += (ms * 1e6) as i64;
        self
    }

    fn push(&mut self, src: SocketAddr, dst: SocketAddr, kind: Kind) -> u32 {
        self.pkts.push(Pkt {
            ts: T0_NS + self.now,
            src,
            dst,
            kind,
        });
        self.pkts.len() as u32
    }

    /// A UDP datagram; returns its frame number.
    pub fn udp(&mut self, src: &str, dst: &str, payload: Vec<u8>) -> u32 {
        self.push(sa(src), sa(dst), Kind::Udp { payload })
    }

    fn tcp(&mut self, src: SocketAddr, dst: SocketAddr, flags: u8, payload: Vec<u8>) -> u32 {
        let seq = *self.seq.entry((src, dst)).or_insert(1000);
        let ack = self.seq.get(&(dst, src)).copied().unwrap_or(0);
        let adv = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        self.seq.insert((src, dst), seq.wrapping_add(adv));
        let ack_flag = if flags & SYN != 0 && flags & ACK == 0 {
            0
        } else {
            ACK
        };
        self.push(
            src,
            dst,
            Kind::Tcp {
                flags: flags | ack_flag,
                seq,
                ack,
                payload,
            },
        )
    }

    pub fn tcp_syn(&mut self, src: &str, dst: &str) -> u32 {
        self.tcp(sa(src), sa(dst), SYN, Vec::new())
    }

    pub fn tcp_synack(&mut self, src: &str, dst: &str) -> u32 {
        self.tcp(sa(src), sa(dst), SYN | ACK, Vec::new())
    }

    pub fn tcp_rst(&mut self, src: &str, dst: &str) -> u32 {
        self.tcp(sa(src), sa(dst), RST, Vec::new())
    }

    pub fn tcp_fin(&mut self, src: &str, dst: &str) -> u32 {
        self.tcp(sa(src), sa(dst), FIN, Vec::new())
    }

    /// A TCP segment carrying `payload` (after a handshake made with the calls above).
    pub fn tcp_data(&mut self, src: &str, dst: &str, payload: Vec<u8>) -> u32 {
        self.tcp(sa(src), sa(dst), PSH, payload)
    }

    /// SYN, SYN-ACK, ACK between client and server.
    pub fn tcp_handshake(&mut self, client: &str, server: &str) {
        self.tcp_syn(client, server);
        self.after(0.2);
        self.tcp_synack(server, client);
        self.after(0.2);
        let (c, s) = (sa(client), sa(server));
        self.tcp(c, s, ACK, Vec::new());
    }

    /// ICMP port unreachable from `reporter` quoting a UDP datagram `src` -> `dst`.
    pub fn icmp_port_unreachable(
        &mut self,
        reporter: &str,
        src: &str,
        dst: &str,
        payload: &[u8],
    ) -> u32 {
        let (s, d) = (sa(src), sa(dst));
        let rep: IpAddr = reporter.parse().expect("reporter IP"); // ok: scripted test input, never capture bytes
        let quoted = ip_packet(s, d, 17, &udp_header(s, d, payload));
        // The ICMP message goes from the reporter back to the datagram's source.
        self.push(
            SocketAddr::new(rep, 0),
            SocketAddr::new(s.ip(), 0),
            Kind::Unreachable {
                reporter: rep,
                code: 3,
                quoted,
            },
        )
    }

    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// The capture as a classic pcap (Ethernet, nanosecond timestamps).
    pub fn pcap(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.pkts.len() * 160);
        out.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
        for p in &self.pkts {
            let frame = ethernet(p);
            let sec = (p.ts / 1_000_000_000) as u32;
            let nsec = (p.ts % 1_000_000_000) as u32;
            out.extend_from_slice(&sec.to_le_bytes());
            out.extend_from_slice(&nsec.to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            out.extend_from_slice(&frame);
        }
        out
    }

    /// The events a capture reader gives for this script (one message per TCP segment).
    pub fn events(&self) -> Vec<Event<'_>> {
        let mut out = Vec::new();
        for (i, p) in self.pkts.iter().enumerate() {
            let frame = i as u32 + 1;
            let ts = Timestamp(p.ts);
            match &p.kind {
                Kind::Udp { payload } => out.push(Event::Payload(Payload {
                    frame,
                    ts,
                    transport: Transport::Udp,
                    framing: Framing::Datagram,
                    src: p.src,
                    dst: p.dst,
                    data: Cow::Borrowed(payload),
                })),
                Kind::Tcp { flags, payload, .. } => {
                    let control = if flags & SYN != 0 && flags & ACK != 0 {
                        Some(TcpControl::SynAck)
                    } else if flags & SYN != 0 {
                        Some(TcpControl::Syn)
                    } else if flags & RST != 0 {
                        Some(TcpControl::Rst)
                    } else if flags & FIN != 0 {
                        Some(TcpControl::Fin)
                    } else {
                        None
                    };
                    if let Some(control) = control {
                        out.push(Event::Tcp {
                            frame,
                            ts,
                            src: p.src,
                            dst: p.dst,
                            control,
                        });
                    }
                    if !payload.is_empty() {
                        if payload.first() == Some(&0x16) {
                            if payload.get(5) == Some(&1) {
                                out.push(Event::TlsClientHello {
                                    frame,
                                    ts,
                                    src: p.src,
                                    dst: p.dst,
                                    sni: sni_of(payload),
                                });
                            } else {
                                out.push(Event::TlsServer {
                                    frame,
                                    ts,
                                    src: p.src,
                                    dst: p.dst,
                                    alert: None,
                                });
                            }
                            continue;
                        }
                        out.push(Event::Payload(Payload {
                            frame,
                            ts,
                            transport: Transport::Tcp,
                            framing: Framing::Stream,
                            src: p.src,
                            dst: p.dst,
                            data: Cow::Borrowed(payload),
                        }));
                    }
                }
                Kind::Unreachable {
                    reporter, quoted, ..
                } => {
                    let hl = usize::from(quoted[0] & 0x0f) * 4;
                    let (qs, qd) = quoted_addrs(quoted);
                    out.push(Event::Unreachable {
                        frame,
                        ts,
                        reporter: *reporter,
                        kind: UnreachableKind::Port,
                        quoted_transport: Transport::Udp,
                        quoted_src: qs,
                        quoted_dst: qd,
                        quoted_payload: &quoted[hl + 8..],
                    });
                }
            }
        }
        out
    }
}

fn quoted_addrs(q: &[u8]) -> (SocketAddr, SocketAddr) {
    let hl = usize::from(q[0] & 0x0f) * 4;
    let s = std::net::Ipv4Addr::new(q[12], q[13], q[14], q[15]);
    let d = std::net::Ipv4Addr::new(q[16], q[17], q[18], q[19]);
    let sp = u16::from_be_bytes([q[hl], q[hl + 1]]);
    let dp = u16::from_be_bytes([q[hl + 2], q[hl + 3]]);
    (SocketAddr::new(s.into(), sp), SocketAddr::new(d.into(), dp))
}

fn sni_of(rec: &[u8]) -> Option<String> {
    // record(5) type(1) len(3) version(2) random(32) sid
    let mut i = 5 + 4 + 2 + 32;
    let sid = usize::from(*rec.get(i)?);
    i += 1 + sid;
    let cs = usize::from(u16::from_be_bytes([*rec.get(i)?, *rec.get(i + 1)?]));
    i += 2 + cs;
    let cm = usize::from(*rec.get(i)?);
    i += 1 + cm + 2;
    while i + 4 <= rec.len() {
        let typ = u16::from_be_bytes([rec[i], rec[i + 1]]);
        let len = usize::from(u16::from_be_bytes([rec[i + 2], rec[i + 3]]));
        if typ == 0 {
            let name_len = usize::from(u16::from_be_bytes([*rec.get(i + 7)?, *rec.get(i + 8)?]));
            return rec
                .get(i + 9..i + 9 + name_len)
                .map(|n| String::from_utf8_lossy(n).into_owned());
        }
        i += 4 + len;
    }
    None
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn udp_header(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + payload.len());
    v.extend_from_slice(&src.port().to_be_bytes());
    v.extend_from_slice(&dst.port().to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

fn tcp_segment(
    src: SocketAddr,
    dst: SocketAddr,
    flags: u8,
    seq: u32,
    ack: u32,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(20 + payload.len());
    v.extend_from_slice(&src.port().to_be_bytes());
    v.extend_from_slice(&dst.port().to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.push(5 << 4);
    v.push(flags);
    v.extend_from_slice(&65535u16.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// An IPv4 or IPv6 packet around a transport payload.
fn ip_packet(src: SocketAddr, dst: SocketAddr, proto: u8, l4: &[u8]) -> Vec<u8> {
    match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
            h.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
            h.extend_from_slice(&s.octets());
            h.extend_from_slice(&d.octets());
            let c = checksum(&h);
            h[10..12].copy_from_slice(&c.to_be_bytes());
            h.extend_from_slice(l4);
            h
        }
        (s, d) => {
            let to6 = |ip: IpAddr| match ip {
                IpAddr::V6(v) => v,
                IpAddr::V4(v) => v.to_ipv6_mapped(),
            };
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            h.push(if proto == 1 { 58 } else { proto });
            h.push(64);
            h.extend_from_slice(&to6(s).octets());
            h.extend_from_slice(&to6(d).octets());
            h.extend_from_slice(l4);
            h
        }
    }
}

fn ethernet(p: &Pkt) -> Vec<u8> {
    let ip = match &p.kind {
        Kind::Udp { payload } => ip_packet(p.src, p.dst, 17, &udp_header(p.src, p.dst, payload)),
        Kind::Tcp {
            flags,
            seq,
            ack,
            payload,
        } => ip_packet(
            p.src,
            p.dst,
            6,
            &tcp_segment(p.src, p.dst, *flags, *seq, *ack, payload),
        ),
        Kind::Unreachable { code, quoted, .. } => {
            let v6 = p.src.is_ipv6();
            let mut icmp = if v6 {
                vec![1, 4, 0, 0]
            } else {
                vec![3, *code, 0, 0]
            };
            icmp.extend_from_slice(&[0, 0, 0, 0]);
            icmp.extend_from_slice(quoted);
            if !v6 {
                let c = checksum(&icmp);
                icmp[2..4].copy_from_slice(&c.to_be_bytes());
            }
            ip_packet(p.src, p.dst, if v6 { 58 } else { 1 }, &icmp)
        }
    };
    let mut f = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
    f.extend_from_slice(if p.src.is_ipv6() {
        &[0x86, 0xdd]
    } else {
        &[0x08, 0x00]
    });
    f.extend_from_slice(&ip);
    f
}

/// A TLS ClientHello record with an SNI extension.
pub fn tls_client_hello(sni: &str) -> Vec<u8> {
    let name = sni.as_bytes();
    let mut ext = Vec::new();
    ext.extend_from_slice(&0u16.to_be_bytes());
    ext.extend_from_slice(&((name.len() + 5) as u16).to_be_bytes());
    ext.extend_from_slice(&((name.len() + 3) as u16).to_be_bytes());
    ext.push(0);
    ext.extend_from_slice(&(name.len() as u16).to_be_bytes());
    ext.extend_from_slice(name);
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01]);
    body.extend_from_slice(&[1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    handshake(1, &body)
}

/// A minimal TLS ServerHello record.
pub fn tls_server_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[9u8; 32]);
    body.push(0);
    body.extend_from_slice(&[0x13, 0x01, 0]);
    body.extend_from_slice(&[0, 0]);
    handshake(2, &body)
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut hs = vec![typ];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Message makers for scripted TURN exchanges (long-term credentials).
#[derive(Debug, Clone)]
pub struct Turn {
    pub user: String,
    pub password: String,
    pub realm: String,
    pub nonce: String,
    /// The password the server checks with (differs from `password` to script a mismatch).
    pub server_password: String,
}

impl Turn {
    pub fn new(user: &str, password: &str, realm: &str) -> Self {
        Turn {
            user: user.into(),
            password: password.into(),
            realm: realm.into(),
            nonce: "a1b2c3d4e5f60718".into(),
            server_password: password.into(),
        }
    }

    pub fn client_key(&self) -> Key {
        Key::long_term(&self.user, &self.realm, &self.password)
    }

    pub fn server_key(&self) -> Key {
        Key::long_term(&self.user, &self.realm, &self.server_password)
    }

    /// An Allocate request without credentials.
    pub fn allocate(&self, id: TransactionId) -> Vec<u8> {
        MessageBuilder::new(Method::ALLOCATE, Class::Request, id)
            .requested_transport(17)
            .fingerprint()
    }

    /// A request with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY (client's key).
    pub fn authed(
        &self,
        method: Method,
        id: TransactionId,
        extra: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) -> Vec<u8> {
        let b = extra(MessageBuilder::new(method, Class::Request, id));
        b.username(&self.user)
            .realm(&self.realm)
            .nonce(self.nonce.as_bytes())
            .integrity(&self.client_key())
            .fingerprint()
    }

    /// A signed request with `appended` attributes after its MESSAGE-INTEGRITY (and a
    /// FINGERPRINT over everything), as a middlebox or someone replaying it would append them.
    pub fn authed_then_appended(
        &self,
        method: Method,
        id: TransactionId,
        extra: impl FnOnce(MessageBuilder) -> MessageBuilder,
        appended: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) -> Vec<u8> {
        let b = extra(MessageBuilder::new(method, Class::Request, id))
            .username(&self.user)
            .realm(&self.realm)
            .nonce(self.nonce.as_bytes())
            .integrity(&self.client_key());
        appended(b).fingerprint()
    }

    /// An authenticated Allocate.
    pub fn allocate_auth(&self, id: TransactionId) -> Vec<u8> {
        self.authed(Method::ALLOCATE, id, |b| b.requested_transport(17))
    }

    /// 401 with REALM and NONCE.
    pub fn challenge(&self, method: Method, id: TransactionId) -> Vec<u8> {
        MessageBuilder::new(method, Class::Error, id)
            .error_code(401, "Unauthorized")
            .nonce(self.nonce.as_bytes())
            .realm(&self.realm)
            .fingerprint()
    }

    /// An error answer with `code`.
    pub fn error(&self, method: Method, id: TransactionId, code: u16, reason: &str) -> Vec<u8> {
        MessageBuilder::new(method, Class::Error, id)
            .error_code(code, reason)
            .nonce(self.nonce.as_bytes())
            .realm(&self.realm)
            .fingerprint()
    }

    /// Allocate success: relayed and mapped addresses, lifetime, integrity with the server key.
    pub fn allocate_ok(
        &self,
        id: TransactionId,
        relayed: &str,
        mapped: &str,
        lifetime: u32,
    ) -> Vec<u8> {
        MessageBuilder::new(Method::ALLOCATE, Class::Success, id)
            .xor_address(attr::XOR_RELAYED_ADDRESS, sa(relayed))
            .xor_address(attr::XOR_MAPPED_ADDRESS, sa(mapped))
            .lifetime(lifetime)
            .integrity(&self.server_key())
            .fingerprint()
    }

    /// A success answer with nothing but integrity (CreatePermission, ChannelBind, Refresh).
    pub fn ok(&self, method: Method, id: TransactionId, lifetime: Option<u32>) -> Vec<u8> {
        let mut b = MessageBuilder::new(method, Class::Success, id);
        if let Some(l) = lifetime {
            b = b.lifetime(l);
        }
        b.integrity(&self.server_key()).fingerprint()
    }

    pub fn create_permission(&self, id: TransactionId, peer: &str) -> Vec<u8> {
        let p = sa(peer);
        self.authed(Method::CREATE_PERMISSION, id, |b| {
            b.xor_address(attr::XOR_PEER_ADDRESS, p)
        })
    }

    pub fn channel_bind(&self, id: TransactionId, channel: u16, peer: &str) -> Vec<u8> {
        let p = sa(peer);
        self.authed(Method::CHANNEL_BIND, id, |b| {
            b.channel_number(channel)
                .xor_address(attr::XOR_PEER_ADDRESS, p)
        })
    }

    pub fn refresh(&self, id: TransactionId, lifetime: u32) -> Vec<u8> {
        self.authed(Method::REFRESH, id, |b| b.lifetime(lifetime))
    }
}

/// A Send indication to `peer` carrying `data`.
pub fn send_indication(id: TransactionId, peer: &str, data: &[u8]) -> Vec<u8> {
    MessageBuilder::new(Method::SEND, Class::Indication, id)
        .xor_address(attr::XOR_PEER_ADDRESS, sa(peer))
        .data(data)
        .fingerprint()
}

/// A Data indication from `peer` carrying `data`.
pub fn data_indication(id: TransactionId, peer: &str, data: &[u8]) -> Vec<u8> {
    MessageBuilder::new(Method::DATA, Class::Indication, id)
        .xor_address(attr::XOR_PEER_ADDRESS, sa(peer))
        .data(data)
        .fingerprint()
}

/// An ICE connectivity check (Binding request with PRIORITY and ICE-CONTROLLING).
pub fn ice_check(id: TransactionId) -> Vec<u8> {
    MessageBuilder::new(Method::BINDING, Class::Request, id)
        .username("remote:local")
        .u32_attr(attr::PRIORITY, 0x6e00_1eff)
        .attr(attr::ICE_CONTROLLING, &[1, 2, 3, 4, 5, 6, 7, 8])
        .integrity(&Key::short_term("icepassword"))
        .fingerprint()
}

/// The answer to an ICE check.
pub fn ice_ok(id: TransactionId, mapped: &str) -> Vec<u8> {
    MessageBuilder::new(Method::BINDING, Class::Success, id)
        .xor_address(attr::XOR_MAPPED_ADDRESS, sa(mapped))
        .integrity(&Key::short_term("icepassword"))
        .fingerprint()
}

/// RTP-looking media of `n` bytes.
pub fn media(n: usize) -> Vec<u8> {
    let mut v = vec![0x80, 0x6f];
    v.resize(n.max(12), 0x55);
    v
}

/// The usual healthy exchange on one 5-tuple, as the given side sees it: challenge, Allocate,
/// CreatePermission, ChannelBind, media both ways through the channel. `client` is the client
/// address in this capture; `mapped` what the server sees. Returns the last txid number used.
#[allow(clippy::too_many_arguments)]
pub fn healthy_exchange(
    s: &mut Script,
    t: &Turn,
    client: &str,
    server: &str,
    mapped: &str,
    relayed: &str,
    peer: &str,
    first_id: u32,
) -> u32 {
    let mut n = first_id;
    s.udp(client, server, t.allocate(tid(n)));
    s.after(20.0);
    s.udp(server, client, t.challenge(Method::ALLOCATE, tid(n)));
    s.after(5.0);
    n += 1;
    s.udp(client, server, t.allocate_auth(tid(n)));
    s.after(20.0);
    s.udp(server, client, t.allocate_ok(tid(n), relayed, mapped, 600));
    s.after(5.0);
    n += 1;
    s.udp(client, server, t.create_permission(tid(n), peer));
    s.after(20.0);
    s.udp(
        server,
        client,
        t.ok(Method::CREATE_PERMISSION, tid(n), None),
    );
    s.after(5.0);
    n += 1;
    s.udp(client, server, t.channel_bind(tid(n), 0x4000, peer));
    s.after(20.0);
    s.udp(server, client, t.ok(Method::CHANNEL_BIND, tid(n), None));
    for _ in 0..10 {
        s.after(20.0);
        s.udp(
            client,
            server,
            crate::wire::encode::channel_data(0x4000, &media(160), false),
        );
        s.after(20.0);
        s.udp(
            server,
            client,
            crate::wire::encode::channel_data(0x4000, &media(160), false),
        );
    }
    n
}

/// What a scripted DNS answer holds.
#[derive(Debug, Clone, Copy)]
pub enum DnsRr<'a> {
    A(&'a str),
    Srv { port: u16, target: &'a str },
}

fn dns_name(out: &mut Vec<u8>, name: &str) {
    for label in name.trim_end_matches('.').split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

/// A DNS query (recursion desired) for `name` of type `qtype` (1 A, 28 AAAA, 33 SRV).
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    dns_name(&mut m, name);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

/// The answer to [`dns_query`] with `rcode` (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN) and records.
pub fn dns_answer(id: u16, name: &str, qtype: u16, rcode: u8, rrs: &[DnsRr<'_>]) -> Vec<u8> {
    let mut m = dns_query(id, name, qtype);
    m[2] = 0x81;
    m[3] = 0x80 | (rcode & 0x0f);
    m[6..8].copy_from_slice(&(rrs.len() as u16).to_be_bytes());
    for rr in rrs {
        m.extend_from_slice(&[0xc0, 12]); // the question's name
        let rdata = match rr {
            DnsRr::A(ip) => {
                m.extend_from_slice(&[0, 1, 0, 1]);
                let ip: std::net::Ipv4Addr = ip.parse().expect("IPv4 literal"); // ok: scripted test input
                ip.octets().to_vec()
            }
            DnsRr::Srv { port, target } => {
                m.extend_from_slice(&[0, 33, 0, 1]);
                let mut d = vec![0, 10, 0, 10];
                d.extend_from_slice(&port.to_be_bytes());
                dns_name(&mut d, target);
                d
            }
        };
        m.extend_from_slice(&300u32.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rdata);
    }
    m
}

/// A DNS message framed for TCP (2-byte length first).
pub fn dns_tcp(msg: &[u8]) -> Vec<u8> {
    let mut v = (msg.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(msg);
    v
}

fn tls_record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut rec = vec![ty, 0x03, 0x03];
    rec.extend_from_slice(&(body.len() as u16).to_be_bytes());
    rec.extend_from_slice(body);
    rec
}

fn tls_ext(ty: u16, data: &[u8]) -> Vec<u8> {
    let mut e = ty.to_be_bytes().to_vec();
    e.extend_from_slice(&(data.len() as u16).to_be_bytes());
    e.extend_from_slice(data);
    e
}

/// A ClientHello record with SNI, ALPN (e.g. `["h2", "http/1.1"]` as a browser offers) and
/// supported_versions (e.g. `[0x0304, 0x0303]`).
pub fn tls_client_hello_with(sni: &str, alpn: &[&str], versions: &[u16]) -> Vec<u8> {
    let mut name = vec![0u8];
    name.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    name.extend_from_slice(sni.as_bytes());
    let mut list = (name.len() as u16).to_be_bytes().to_vec();
    list.extend_from_slice(&name);
    let mut exts = tls_ext(0, &list);
    if !alpn.is_empty() {
        let mut protos = Vec::new();
        for p in alpn {
            protos.push(p.len() as u8);
            protos.extend_from_slice(p.as_bytes());
        }
        let mut data = (protos.len() as u16).to_be_bytes().to_vec();
        data.extend_from_slice(&protos);
        exts.extend(tls_ext(16, &data));
    }
    let mut vs = vec![(versions.len() * 2) as u8];
    for v in versions {
        vs.extend_from_slice(&v.to_be_bytes());
    }
    exts.extend(tls_ext(43, &vs));
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[7u8; 32]);
    body.push(0);
    body.extend_from_slice(&[0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    handshake(1, &body)
}

/// A ServerHello record choosing `version` (TLS 1.3 through supported_versions).
pub fn tls_server_hello_version(version: u16) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend_from_slice(&[9u8; 32]);
    body.push(0);
    body.extend_from_slice(&[0xc0, 0x2f, 0]);
    let exts = if version == 0x0304 {
        tls_ext(43, &version.to_be_bytes())
    } else {
        Vec::new()
    };
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    handshake(2, &body)
}

/// A Certificate message (TLS 1.2) with the DER certificates given, cut into records of at
/// most `record_max` bytes of handshake data (a chain often spans records).
pub fn tls_certificate(ders: &[&[u8]], record_max: usize) -> Vec<u8> {
    let mut list = Vec::new();
    for d in ders {
        list.extend_from_slice(&(d.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(d);
    }
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend_from_slice(&list);
    let mut msg = vec![11u8];
    msg.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    msg.extend_from_slice(&body);
    msg.chunks(record_max.max(1))
        .flat_map(|c| tls_record(0x16, c))
        .collect()
}

/// A CertificateRequest record (the server asks for the client's certificate).
pub fn tls_certificate_request() -> Vec<u8> {
    tls_record(0x16, &[13, 0, 0, 4, 1, 1, 0, 0])
}

/// A plaintext alert (level 2 fatal; 48 unknown_ca, 42 bad_certificate, 46 certificate_unknown).
pub fn tls_alert(level: u8, description: u8) -> Vec<u8> {
    tls_record(0x15, &[level, description])
}

/// ChangeCipherSpec: what this side sends after it is encrypted.
pub fn tls_change_cipher_spec() -> Vec<u8> {
    tls_record(0x14, &[1])
}

/// An application data record of `n` bytes.
pub fn tls_app_data(n: usize) -> Vec<u8> {
    tls_record(0x17, &vec![0x5a; n])
}

/// An HTTP/1.1 response head (a redirect when `location` is given).
pub fn http_response(status: u16, location: Option<&str>) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} Status\r\nServer: lab\r\nContent-Length: 0\r\n");
    if let Some(l) = location {
        s.push_str(&format!("Location: {l}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Case names whose batch analysis panics on purpose ([`panic_in_batch_case`]).
static PANICKING_BATCH_CASES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Make the batch analysis of the case named `case` panic as it starts: how tests show that a
/// failing case never stops the others (no input makes the analysis panic on purpose).
pub fn panic_in_batch_case(case: &str) {
    if let Ok(mut cases) = PANICKING_BATCH_CASES.lock() {
        cases.push(case.to_string());
    }
}

/// Called by `batch` as each case starts.
pub fn batch_case_starts(case: &str) {
    let chosen = PANICKING_BATCH_CASES
        .lock()
        .map(|cases| cases.iter().any(|c| c == case))
        .unwrap_or(false);
    if chosen {
        panic!("testsupport: panic_in_batch_case({case})");
    }
}
