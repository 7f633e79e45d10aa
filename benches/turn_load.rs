//! A closed-loop TURN load generator over real UDP sockets, used by `benches/serve-vs-coturn.sh`
//! to drive `turnscope serve` and coturn's `turnserver` the same way (turnutils_uclient paces
//! itself, so it cannot saturate a server).
//!
//!   cargo bench --bench turn_load -- alloc --server 127.0.0.1:3478 --clients 64 --seconds 5
//!   cargo bench --bench turn_load -- relay --server 127.0.0.1:3478 --clients 32 --window 8
//!
//! `alloc`: each client loops 401 challenge -> authenticated Allocate -> Refresh 0 on a fresh
//! socket; prints allocations/s. `relay`: each client allocates, binds a channel to a local peer
//! socket that echoes, and keeps `--window` packets in flight; prints relayed packets/s (each
//! round trip crosses the server twice).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token};
use turnscope::wire::{
    attr, encode, ChannelData, Class, Key, Message, MessageBuilder, Method, TransactionId,
};

struct Opts {
    mode: String,
    server: SocketAddr,
    user: String,
    pass: String,
    realm: Option<String>,
    clients: usize,
    seconds: f64,
    window: usize,
    size: usize,
}

fn opts() -> Opts {
    let mut o = Opts {
        mode: String::new(),
        server: "127.0.0.1:3478".parse().unwrap(),
        user: "user".into(),
        pass: "pass".into(),
        realm: None,
        clients: 32,
        seconds: 5.0,
        window: 8,
        size: 160,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        let mut v = || args.next().expect("value");
        match a.as_str() {
            "--server" => o.server = v().parse().expect("--server ADDR:PORT"),
            "--user" => o.user = v(),
            "--pass" => o.pass = v(),
            "--realm" => o.realm = Some(v()),
            "--clients" => o.clients = v().parse().expect("--clients N"),
            "--seconds" => o.seconds = v().parse().expect("--seconds S"),
            "--window" => o.window = v().parse().expect("--window W"),
            "--size" => o.size = v().parse().expect("--size BYTES"),
            m if !m.starts_with('-') && o.mode.is_empty() => o.mode = m.to_string(),
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

static TXID: AtomicU64 = AtomicU64::new(0);

fn txid() -> TransactionId {
    let n = TXID.fetch_add(1, Ordering::Relaxed);
    let mut id = [0u8; 12];
    id[..8].copy_from_slice(&n.to_be_bytes());
    id[8..].copy_from_slice(&std::process::id().to_be_bytes());
    TransactionId::new(id)
}

struct Auth {
    user: String,
    realm: String,
    nonce: Vec<u8>,
    key: Key,
}

fn signed(b: MessageBuilder, a: &Auth) -> Vec<u8> {
    b.username(&a.user)
        .realm(&a.realm)
        .nonce(&a.nonce)
        .integrity(&a.key)
        .fingerprint()
}

static NEXT_IP: AtomicU64 = AtomicU64::new(0);

/// A client address: the loopback IPs 127.0.0.2-127.0.0.251 in turn, so that a new client
/// does not reuse a 5-tuple a server may still remember.
fn client_addr() -> SocketAddr {
    let k = NEXT_IP.fetch_add(1, Ordering::Relaxed);
    SocketAddr::from(([127, 0, 0, 2 + (k % 250) as u8], 0))
}

fn socket(poll: &Poll, token: usize) -> io::Result<UdpSocket> {
    let mut s = UdpSocket::bind(client_addr())?;
    poll.registry()
        .register(&mut s, Token(token), Interest::READABLE)?;
    Ok(s)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Step {
    Challenge,
    Allocate,
    Refresh,
}

struct AllocClient {
    sock: UdpSocket,
    step: Step,
    pending: Vec<u8>,
    sent: Instant,
    auth: Option<Auth>,
}

fn alloc_mode(o: &Opts) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut clients: Vec<AllocClient> = Vec::new();
    for i in 0..o.clients {
        let sock = socket(&poll, i)?;
        let req = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
            .requested_transport(17)
            .fingerprint();
        sock.send_to(&req, o.server)?;
        clients.push(AllocClient {
            sock,
            step: Step::Challenge,
            pending: req,
            sent: Instant::now(),
            auth: None,
        });
    }
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(o.seconds);
    let (mut done, mut retries, mut errors) = (0u64, 0u64, HashMap::<u16, u64>::new());
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 2048];
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(50)))?;
        for ev in events.iter() {
            let i = ev.token().0;
            while let Some(c) = clients.get_mut(i) {
                let n = match c.sock.recv_from(&mut buf) {
                    Ok((n, _)) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                };
                let Ok(m) = Message::parse(&buf[..n]) else {
                    continue;
                };
                let code = m.error_code().map(|e| e.0);
                let next = match (c.step, code) {
                    (Step::Challenge, Some(401)) => {
                        let realm = m.realm().unwrap_or_default().to_string();
                        let realm = o.realm.clone().unwrap_or(realm);
                        c.auth = Some(Auth {
                            key: Key::long_term(&o.user, &realm, &o.pass),
                            user: o.user.clone(),
                            realm,
                            nonce: m.nonce().unwrap_or_default().to_vec(),
                        });
                        let b = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
                            .requested_transport(17);
                        Some((Step::Allocate, b))
                    }
                    (Step::Allocate, None) => {
                        let b = MessageBuilder::new(Method::REFRESH, Class::Request, txid())
                            .lifetime(0);
                        Some((Step::Refresh, b))
                    }
                    (Step::Refresh, None) => {
                        done += 1;
                        None
                    }
                    (_, Some(code)) => {
                        *errors.entry(code).or_default() += 1;
                        None
                    }
                    _ => continue,
                };
                match next {
                    Some((step, b)) => {
                        let Some(a) = &c.auth else { continue };
                        let req = signed(b, a);
                        c.sock.send_to(&req, o.server)?;
                        c.step = step;
                        c.pending = req;
                        c.sent = Instant::now();
                    }
                    None => {
                        // A fresh client (socket) for the next allocation.
                        let _ = poll.registry().deregister(&mut c.sock);
                        let sock = socket(&poll, i)?;
                        let req = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
                            .requested_transport(17)
                            .fingerprint();
                        sock.send_to(&req, o.server)?;
                        *c = AllocClient {
                            sock,
                            step: Step::Challenge,
                            pending: req,
                            sent: Instant::now(),
                            auth: None,
                        };
                        break;
                    }
                }
            }
        }
        let now = Instant::now();
        for c in &mut clients {
            if now.duration_since(c.sent) > Duration::from_millis(500) {
                c.sock.send_to(&c.pending, o.server)?;
                c.sent = now;
                retries += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "alloc clients={} seconds={secs:.2} allocations={done} allocations_per_s={:.0} retransmits={retries} errors={errors:?}",
        o.clients,
        done as f64 / secs
    );
    Ok(())
}

struct RelayClient {
    sock: UdpSocket,
    in_flight: usize,
    last_rx: Instant,
}

fn relay_mode(o: &Opts) -> io::Result<()> {
    let mut poll = Poll::new()?;
    const PEER: usize = usize::MAX - 1;
    let mut peer = UdpSocket::bind("127.0.0.1:0".parse().unwrap())?;
    let peer_addr = peer.local_addr()?;
    poll.registry()
        .register(&mut peer, Token(PEER), Interest::READABLE)?;
    let mut buf = vec![0u8; 65536];
    // Set up each client with blocking-style waits (setup is not measured).
    let mut clients = Vec::new();
    for i in 0..o.clients {
        let sock = std::net::UdpSocket::bind(client_addr())?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        let call = |req: &[u8], buf: &mut [u8]| -> io::Result<Vec<u8>> {
            for _ in 0..5 {
                sock.send_to(req, o.server)?;
                if let Ok((n, _)) = sock.recv_from(buf) {
                    return Ok(buf[..n].to_vec());
                }
            }
            Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"))
        };
        let r = call(
            &MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
                .requested_transport(17)
                .fingerprint(),
            &mut buf,
        )?;
        let m = Message::parse(&r).expect("challenge");
        let realm = o
            .realm
            .clone()
            .unwrap_or_else(|| m.realm().unwrap_or_default().to_string());
        let a = Auth {
            key: Key::long_term(&o.user, &realm, &o.pass),
            user: o.user.clone(),
            realm,
            nonce: m.nonce().unwrap_or_default().to_vec(),
        };
        let r = call(
            &signed(
                MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
                    .requested_transport(17),
                &a,
            ),
            &mut buf,
        )?;
        let m = Message::parse(&r).unwrap();
        assert!(
            m.class() == Class::Success,
            "Allocate failed: {:?}",
            m.error_code()
        );
        let r = call(
            &signed(
                MessageBuilder::new(Method::CHANNEL_BIND, Class::Request, txid())
                    .channel_number(0x4000)
                    .xor_address(attr::XOR_PEER_ADDRESS, peer_addr),
                &a,
            ),
            &mut buf,
        )?;
        let m = Message::parse(&r).unwrap();
        assert!(
            m.class() == Class::Success,
            "ChannelBind failed: {:?}",
            m.error_code()
        );
        sock.set_nonblocking(true)?;
        let mut sock = UdpSocket::from_std(sock);
        poll.registry()
            .register(&mut sock, Token(i), Interest::READABLE)?;
        clients.push(RelayClient {
            sock,
            in_flight: 0,
            last_rx: Instant::now(),
        });
    }
    let payload = vec![0xA5u8; o.size];
    let frame = encode::channel_data(0x4000, &payload, false);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(o.seconds);
    for c in &mut clients {
        for _ in 0..o.window {
            c.sock.send_to(&frame, o.server)?;
        }
        c.in_flight = o.window;
        c.last_rx = start;
    }
    let (mut round_trips, mut refills) = (0u64, 0u64);
    let mut events = Events::with_capacity(1024);
    while Instant::now() < end {
        poll.poll(&mut events, Some(Duration::from_millis(20)))?;
        for ev in events.iter() {
            let t = ev.token().0;
            if t == PEER {
                // Echo every datagram back to the relay it came from.
                loop {
                    match peer.recv_from(&mut buf) {
                        Ok((n, from)) => {
                            let _ = peer.send_to(&buf[..n], from);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let Some(c) = clients.get_mut(t) else {
                continue;
            };
            loop {
                match c.sock.recv_from(&mut buf) {
                    Ok((n, _)) => {
                        if ChannelData::parse(&buf[..n], false).is_ok() {
                            round_trips += 1;
                            c.last_rx = Instant::now();
                            let _ = c.sock.send_to(&frame, o.server);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        let now = Instant::now();
        for c in &mut clients {
            if now.duration_since(c.last_rx) > Duration::from_millis(200) {
                // Packets were lost: put the window back in flight.
                for _ in 0..o.window {
                    let _ = c.sock.send_to(&frame, o.server);
                }
                c.last_rx = now;
                refills += 1;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "relay clients={} window={} size={} seconds={secs:.2} round_trips={round_trips} relayed_packets={} relayed_packets_per_s={:.0} window_refills={refills}",
        o.clients,
        o.window,
        o.size,
        2 * round_trips,
        2.0 * round_trips as f64 / secs
    );
    Ok(())
}

fn main() -> io::Result<()> {
    let o = opts();
    match o.mode.as_str() {
        "alloc" => alloc_mode(&o),
        "relay" => relay_mode(&o),
        // `cargo bench` with no arguments runs every bench: nothing to do without a server.
        _ => {
            eprintln!("turn_load: give a mode (alloc or relay) and --server; see benches/serve-vs-coturn.sh");
            Ok(())
        }
    }
}
