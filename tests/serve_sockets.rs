//! `turnscope serve` (the built binary) over real loopback sockets, driven by a scripted client
//! built on `turnscope::wire` (no coturn needed): UDP and TCP allocations, ChannelData and Data
//! indications relayed to and from a peer socket, malformed input, and a stream that is not TURN.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use turnscope::wire::{
    attr, encode, ChannelData, Class, Key, Message, MessageBuilder, Method, TransactionId,
};

struct Serve {
    child: Child,
    log: Arc<Mutex<String>>,
    addr: SocketAddr,
}

impl Serve {
    fn wait_log(&self, needle: &str) {
        let start = Instant::now();
        while !self.log.lock().unwrap().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{needle:?} not logged: {}",
                self.log.lock().unwrap()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    for _ in 0..100 {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port");
}

fn serve() -> Serve {
    let port = free_port();
    let base = 20000 + (port % 40) * 1000 + 500;
    let mut child = Command::new(env!("CARGO_BIN_EXE_turnscope"))
        .arg("serve")
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--credential", "alice:secret", "--realm", "test"])
        .args(["--relay-ports", &format!("{base}-{}", base + 499)])
        .arg("--allow-loopback-peers")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    for s in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let log = log.clone();
        thread::spawn(move || {
            for l in BufReader::new(s).lines().map_while(Result::ok) {
                let mut g = log.lock().unwrap();
                g.push_str(&l);
                g.push('\n');
            }
        });
    }
    let start = Instant::now();
    while !log.lock().unwrap().contains(" listen ") {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "serve did not start"
        );
        thread::sleep(Duration::from_millis(20));
    }
    Serve {
        child,
        log,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
    }
}

/// A transport to the server: one message in, one message out.
trait Link {
    fn send(&mut self, bytes: &[u8]);
    fn recv(&mut self) -> Option<Vec<u8>>;
}

struct Udp(UdpSocket, SocketAddr);

impl Link for Udp {
    fn send(&mut self, bytes: &[u8]) {
        self.0.send_to(bytes, self.1).unwrap();
    }
    fn recv(&mut self) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        self.0
            .recv_from(&mut buf)
            .ok()
            .map(|(n, _)| buf[..n].to_vec())
    }
}

struct Tcp(TcpStream);

impl Link for Tcp {
    fn send(&mut self, bytes: &[u8]) {
        self.0.write_all(bytes).unwrap();
    }
    fn recv(&mut self) -> Option<Vec<u8>> {
        let mut head = [0u8; 4];
        self.0.read_exact(&mut head).ok()?;
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let total = if head[0] < 4 {
            16 + len
        } else {
            (len + 3) & !3
        };
        let mut rest = vec![0u8; total];
        self.0.read_exact(&mut rest).ok()?;
        let mut v = head.to_vec();
        v.extend(rest);
        Some(v)
    }
}

fn txid(n: u8) -> TransactionId {
    TransactionId::new([n; 12])
}

/// Allocate and bind channel 0x4000 to `peer`; returns the relayed address.
fn allocate(link: &mut dyn Link, peer: SocketAddr) -> SocketAddr {
    link.send(
        &MessageBuilder::new(Method::ALLOCATE, Class::Request, txid(1))
            .requested_transport(17)
            .fingerprint(),
    );
    let r = link.recv().expect("challenge");
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.error_code().unwrap().0, 401);
    let nonce = m.nonce().unwrap().to_vec();
    let key = Key::long_term("alice", "test", "secret");
    let sign = |b: MessageBuilder| {
        b.username("alice")
            .realm("test")
            .nonce(&nonce)
            .integrity(&key)
            .fingerprint()
    };
    link.send(&sign(
        MessageBuilder::new(Method::ALLOCATE, Class::Request, txid(2)).requested_transport(17),
    ));
    let r = link.recv().expect("allocate answer");
    let m = Message::parse(&r).unwrap();
    assert_eq!(m.class(), Class::Success, "{:?}", m.error_code());
    let relay = m.xor_relayed_address().unwrap();
    link.send(&sign(
        MessageBuilder::new(Method::CREATE_PERMISSION, Class::Request, txid(3))
            .xor_address(attr::XOR_PEER_ADDRESS, peer),
    ));
    assert_eq!(
        Message::parse(&link.recv().unwrap()).unwrap().class(),
        Class::Success
    );
    link.send(&sign(
        MessageBuilder::new(Method::CHANNEL_BIND, Class::Request, txid(4))
            .channel_number(0x4000)
            .xor_address(attr::XOR_PEER_ADDRESS, peer),
    ));
    assert_eq!(
        Message::parse(&link.recv().unwrap()).unwrap().class(),
        Class::Success
    );
    relay
}

fn relay_both_ways(link: &mut dyn Link, padded: bool) {
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let relay = allocate(link, peer_addr);
    // Client -> peer through the channel.
    link.send(&encode::channel_data(0x4000, b"hello", padded));
    let mut buf = [0u8; 2048];
    let (n, from) = peer.recv_from(&mut buf).expect("peer receives");
    assert_eq!((&buf[..n], from), (&b"hello"[..], relay));
    // Peer -> client as ChannelData.
    peer.send_to(b"world!", relay).unwrap();
    let r = link.recv().expect("client receives");
    let cd = ChannelData::parse(&r, padded).unwrap();
    assert_eq!((cd.channel, cd.data), (0x4000, &b"world!"[..]));
    // A Send indication reaches the peer too.
    link.send(
        &MessageBuilder::new(Method::SEND, Class::Indication, txid(9))
            .xor_address(attr::XOR_PEER_ADDRESS, peer_addr)
            .data(b"via-send")
            .fingerprint(),
    );
    let (n, _) = peer.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"via-send");
}

#[test]
fn udp_allocation_relays_both_ways() {
    let s = serve();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut link = Udp(sock, s.addr);
    relay_both_ways(&mut link, false);
    // Malformed request header: 400. Garbage: nothing.
    let mut bad = MessageBuilder::new(Method::BINDING, Class::Request, txid(7))
        .software("x")
        .build();
    bad[23] = 200;
    link.send(&bad);
    let m_bytes = link.recv().unwrap();
    assert_eq!(
        Message::parse(&m_bytes).unwrap().error_code().unwrap().0,
        400
    );
    link.send(&[0xff; 64]);
    link.send(&MessageBuilder::new(Method::BINDING, Class::Request, txid(8)).fingerprint());
    let m_bytes = link.recv().unwrap();
    let m = Message::parse(&m_bytes).unwrap();
    assert_eq!(m.transaction_id(), txid(8), "the garbage got no answer");
    s.wait_log(" allocate client=udp:127.0.0.1:");
    // SIGTERM: the allocation is ended and logged, then the server exits.
    let _ = Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    s.wait_log("reason=shutdown");
    s.wait_log("shutdown allocations=1");
}

#[test]
fn tcp_allocation_relays_both_ways_and_closes_on_garbage() {
    let s = serve();
    let stream = TcpStream::connect(s.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let mut link = Tcp(stream);
    relay_both_ways(&mut link, true);
    // Bytes that start no STUN or ChannelData frame: the connection closes and the allocation
    // goes with it.
    link.send(&[0x16, 3, 1, 0, 0, 0, 0, 0]);
    let mut b = [0u8; 16];
    assert_eq!(link.0.read(&mut b).unwrap_or(0), 0, "closed");
    s.wait_log("reason=disconnected");
}

/// More datagrams than one system call reads or writes (the serve loop batches 32): a burst of
/// 100 ChannelData from the client all reach the peer, in order, and a burst of 100 datagrams
/// from the peer all reach the client, in order. Sent without waiting, so that they queue up
/// in the server's socket buffers and are read and written in batches.
#[test]
fn bursts_longer_than_a_batch_are_relayed_whole_and_in_order() {
    const BURST: u16 = 100;
    let s = serve();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut link = Udp(sock, s.addr);
    let relay = allocate(&mut link, peer.local_addr().unwrap());
    let numbered = |i: u16| {
        let mut v = i.to_be_bytes().to_vec();
        v.resize(200, 0xA5);
        v
    };
    for i in 0..BURST {
        link.send(&encode::channel_data(0x4000, &numbered(i), false));
    }
    let mut buf = [0u8; 2048];
    for i in 0..BURST {
        let (n, from) = peer
            .recv_from(&mut buf)
            .expect("the peer receives every datagram");
        assert_eq!(from, relay);
        assert_eq!(&buf[..n], &numbered(i)[..], "datagram {i} to the peer");
    }
    for i in 0..BURST {
        peer.send_to(&numbered(i), relay).unwrap();
    }
    for i in 0..BURST {
        let r = link.recv().expect("the client receives every datagram");
        let cd = ChannelData::parse(&r, false).unwrap();
        assert_eq!(cd.channel, 0x4000);
        assert_eq!(cd.data, &numbered(i)[..], "datagram {i} to the client");
    }
}
