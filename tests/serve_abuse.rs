//! `turnscope serve` (the built binary) under attack on loopback, each attack bounded in count
//! and time: for every attack, the attack fails (memory, descriptors, log and answers stay
//! bounded) while a healthy client keeps working (Allocate, CreatePermission, ChannelBind and
//! ChannelData echoed by a local peer, nothing lost). The peer policy table is in the unit
//! tests of `turn::config`.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use turnscope::wire::{
    attr, encode, ChannelData, Class, Key, Message, MessageBuilder, Method, TransactionId,
};

const USER: &str = "alice";
const PASS: &str = "secret";
const REALM: &str = "test";

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

/// How the server's stdout is taken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stdout {
    /// Read line by line into [`Server::log`].
    Collected,
    /// A pipe nobody reads: once the pipe is full, every write to it blocks.
    NeverRead,
}

struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
    addr: SocketAddr,
    _unread: Option<ChildStdout>,
}

impl Server {
    /// `turnscope serve` on a free loopback port with `extra` arguments (`--relay-count N`:
    /// N relay ports instead of 500), under a descriptor limit if given.
    fn start(extra: &[&str], nofile: Option<u64>, stdout: Stdout) -> Server {
        let port = free_port();
        let relay_base = 20000 + (port % 40) * 1000;
        let relay_ports = extra
            .iter()
            .position(|a| *a == "--relay-count")
            .and_then(|i| extra.get(i + 1))
            .map_or(500, |n| n.parse::<u16>().unwrap());
        let extra: Vec<&str> = match extra.iter().position(|a| *a == "--relay-count") {
            Some(i) => [&extra[..i], &extra[i + 2..]].concat(),
            None => extra.to_vec(),
        };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_turnscope"));
        cmd.arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--credential", &format!("{USER}:{PASS}"), "--realm", REALM])
            .args([
                "--relay-ports",
                &format!("{relay_base}-{}", relay_base + relay_ports - 1),
            ])
            .arg("--allow-loopback-peers")
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(n) = nofile {
            // SAFETY: only setrlimit, which is async-signal-safe, runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().expect("spawn turnscope serve");
        let log = Arc::new(Mutex::new(String::new()));
        let mut streams: Vec<Box<dyn Read + Send>> = vec![Box::new(child.stderr.take().unwrap())];
        let mut unread = None;
        match stdout {
            Stdout::Collected => streams.push(Box::new(child.stdout.take().unwrap())),
            Stdout::NeverRead => unread = child.stdout.take(),
        }
        for s in streams {
            let log = log.clone();
            thread::spawn(move || {
                for l in BufReader::new(s).lines().map_while(Result::ok) {
                    let mut g = log.lock().unwrap();
                    g.push_str(&l);
                    g.push('\n');
                }
            });
        }
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let s = Server {
            child,
            log,
            addr,
            _unread: unread,
        };
        wait_until_answering(addr);
        s
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_log(&self, needle: &str, limit: Duration) {
        let start = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                start.elapsed() < limit,
                "{needle:?} not logged within {limit:?}:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resident memory of the server, from /proc.
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// SIGTERM, then wait for the exit: true if it exited within `limit`.
    fn terminate(&mut self, limit: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// Wait until the server answers a Binding request (whatever becomes of its stdout).
fn wait_until_answering(addr: SocketAddr) {
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    loop {
        let req = MessageBuilder::new(Method::BINDING, Class::Request, txid()).fingerprint();
        probe.send_to(&req, addr).unwrap();
        if probe.recv_from(&mut [0u8; 1500]).is_ok() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "serve did not start"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NEXT_TXID: AtomicUsize = AtomicUsize::new(1);

fn txid() -> TransactionId {
    let n = NEXT_TXID.fetch_add(1, Ordering::Relaxed) as u64;
    let mut id = [7u8; 12];
    id[..8].copy_from_slice(&n.to_be_bytes());
    TransactionId::new(id)
}

/// A UDP client with long-term credentials, answers expected within 2 s.
struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    nonce: Vec<u8>,
}

impl Client {
    fn new(from: &str, server: SocketAddr) -> Client {
        let sock = UdpSocket::bind(format!("{from}:0")).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        Client {
            sock,
            server,
            nonce: Vec::new(),
        }
    }

    fn signed(&self, b: MessageBuilder) -> Vec<u8> {
        b.username(USER)
            .realm(REALM)
            .nonce(&self.nonce)
            .integrity(&Key::long_term(USER, REALM, PASS))
            .fingerprint()
    }

    /// Send `req` and return the answer to it (other datagrams are skipped).
    fn call(&self, req: &[u8]) -> Option<Vec<u8>> {
        let id = Message::parse(req).unwrap().transaction_id();
        self.sock.send_to(req, self.server).unwrap();
        let mut buf = [0u8; 2048];
        loop {
            let (n, _) = self.sock.recv_from(&mut buf).ok()?;
            if let Ok(m) = Message::parse(&buf[..n]) {
                if m.transaction_id() == id {
                    return Some(buf[..n].to_vec());
                }
            }
        }
    }

    /// 401 challenge, then an authenticated Allocate: the relayed address, or the error code.
    fn allocate(&mut self) -> Result<SocketAddr, u16> {
        let req = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
            .requested_transport(17)
            .fingerprint();
        let r = self.call(&req).expect("a challenge within 2 s");
        let m = Message::parse(&r).unwrap();
        assert_eq!(m.error_code().map(|e| e.0), Some(401));
        self.nonce = m.nonce().unwrap().to_vec();
        let req = self.signed(
            MessageBuilder::new(Method::ALLOCATE, Class::Request, txid()).requested_transport(17),
        );
        let r = self.call(&req).expect("an Allocate answer within 2 s");
        let m = Message::parse(&r).unwrap();
        match m.error_code() {
            Some((code, _)) => Err(code),
            None => Ok(m.xor_relayed_address().unwrap()),
        }
    }

    /// A signed request; its error code (`None`: success).
    fn request(&self, b: MessageBuilder) -> Option<u16> {
        let r = self.call(&self.signed(b)).expect("an answer within 2 s");
        Message::parse(&r).unwrap().error_code().map(|e| e.0)
    }

    fn refresh_zero(&self) {
        let code =
            self.request(MessageBuilder::new(Method::REFRESH, Class::Request, txid()).lifetime(0));
        assert_eq!(code, None, "Refresh 0");
    }

    /// Allocate, permit and bind a channel to a local peer, then echo `n` ChannelData
    /// messages through the relay: every one must come back.
    fn healthy_echo(&mut self, n: usize) {
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let peer_addr = peer.local_addr().unwrap();
        let relay = self
            .allocate()
            .expect("the healthy client's Allocate succeeds");
        let bind = MessageBuilder::new(Method::CHANNEL_BIND, Class::Request, txid())
            .channel_number(0x4000)
            .xor_address(attr::XOR_PEER_ADDRESS, peer_addr);
        assert_eq!(self.request(bind), None, "ChannelBind");
        let mut buf = [0u8; 2048];
        for i in 0..n {
            let payload = format!("echo {i}");
            self.sock
                .send_to(
                    &encode::channel_data(0x4000, payload.as_bytes(), false),
                    self.server,
                )
                .unwrap();
            let (len, from) = peer.recv_from(&mut buf).expect("the peer receives");
            assert_eq!((&buf[..len], from), (payload.as_bytes(), relay));
            peer.send_to(&buf[..len], relay).unwrap();
            let (len, _) = self.sock.recv_from(&mut buf).expect("the echo comes back");
            let cd = ChannelData::parse(&buf[..len], false).unwrap();
            assert_eq!(cd.data, payload.as_bytes());
        }
        self.refresh_zero();
    }
}

/// An Allocate without credentials (answered 401 with a fresh NONCE).
fn bare_allocate() -> Vec<u8> {
    MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
        .requested_transport(17)
        .fingerprint()
}

/// What a flooding TCP connection sends.
#[derive(Clone, Copy)]
enum Flood {
    /// Allocate requests without credentials, reading the 401s (so the server keeps reading).
    Allocates,
    /// The same, never reading the answers (the server's output to it backs up).
    AllocatesUnread,
    /// Empty ChannelData frames, 4 bytes each: the most frames per byte, no answers.
    TinyFrames,
}

/// Write frames on a TCP connection until `stop`; the bytes written.
fn tcp_flood(addr: SocketAddr, kind: Flood, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if let Flood::Allocates = kind {
            let mut r = s.try_clone().unwrap();
            let stop = stop.clone();
            thread::spawn(move || {
                let mut buf = vec![0u8; 1 << 16];
                r.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(0) = r.read(&mut buf) {
                        break;
                    }
                }
            });
        }
        let batch: Vec<u8> = match kind {
            Flood::TinyFrames => [0x40, 0, 0, 0].repeat(16_384),
            _ => (0..2000).flat_map(|_| bare_allocate()).collect(),
        };
        let mut sent = 0u64;
        while !stop.load(Ordering::Relaxed) {
            match s.write(&batch) {
                Ok(n) => sent += n as u64,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => break,
            }
        }
        sent
    })
}

#[test]
fn a_tcp_frame_flood_without_credentials_keeps_memory_bounded_and_udp_answered() {
    let server = Server::start(&[], None, Stdout::Collected);
    let stop = Arc::new(AtomicBool::new(false));
    let floods: Vec<_> = [Flood::Allocates, Flood::TinyFrames, Flood::AllocatesUnread]
        .into_iter()
        .map(|kind| tcp_flood(server.addr, kind, stop.clone()))
        .collect();
    let start = Instant::now();
    let mut max_rss = 0;
    let mut rounds = 0;
    while start.elapsed() < Duration::from_secs(5) {
        // Every UDP answer arrives within 2 s while the flood goes on.
        Client::new("127.0.0.2", server.addr).healthy_echo(5);
        max_rss = max_rss.max(server.rss_kb());
        rounds += 1;
        thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    let sent: u64 = floods.into_iter().map(|h| h.join().unwrap()).sum();
    eprintln!("flood: {sent} bytes sent, {rounds} healthy rounds, server RSS at most {max_rss} kB");
    assert!(sent > 1 << 20, "the flood sent {sent} bytes only");
    assert!(rounds >= 3, "{rounds} healthy rounds");
    assert!(
        max_rss < 200 * 1024,
        "server RSS reached {max_rss} kB under the flood"
    );
}

#[test]
fn idle_tcp_connections_are_closed_after_the_timeout() {
    let server = Server::start(&["--tcp-allocate-timeout", "2"], None, Stdout::Collected);
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // A connection that only asks for a challenge holds no allocation either.
    let mut chatty = TcpStream::connect(server.addr).unwrap();
    chatty.write_all(&bare_allocate()).unwrap();
    // One that allocates stays.
    let mut kept = TcpStream::connect(server.addr).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let signed = tcp_allocate(&mut kept);

    for mut c in idle.into_iter().chain([chatty]) {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 4096];
        // Whatever answers come first, the connection ends with EOF (or a reset).
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
                Err(e) => panic!("an idle connection was not closed: {e}"),
            }
        }
    }
    server.wait_log("tcp: closed", Duration::from_secs(2));
    // The connection with an allocation is still served.
    kept.write_all(
        &signed.sign(MessageBuilder::new(Method::REFRESH, Class::Request, txid()).lifetime(600)),
    )
    .unwrap();
    let m = read_frame(&mut kept);
    assert_eq!(Message::parse(&m).unwrap().class(), Class::Success);
}

/// Long-term credentials with the nonce a server issued.
struct Signer {
    nonce: Vec<u8>,
}

impl Signer {
    fn sign(&self, b: MessageBuilder) -> Vec<u8> {
        b.username(USER)
            .realm(REALM)
            .nonce(&self.nonce)
            .integrity(&Key::long_term(USER, REALM, PASS))
            .fingerprint()
    }
}

/// Challenge and Allocate over a TCP connection (the allocation must succeed).
fn tcp_allocate(s: &mut TcpStream) -> Signer {
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(&bare_allocate()).unwrap();
    let m = read_frame(s);
    let signer = Signer {
        nonce: Message::parse(&m).unwrap().nonce().unwrap().to_vec(),
    };
    s.write_all(&signer.sign(
        MessageBuilder::new(Method::ALLOCATE, Class::Request, txid()).requested_transport(17),
    ))
    .unwrap();
    let m = read_frame(s);
    assert_eq!(Message::parse(&m).unwrap().class(), Class::Success);
    signer
}

/// True when the server closes the connection (EOF or reset) within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn one_source_cannot_hold_every_tcp_connection() {
    let server = Server::start(&["--tcp-bare-per-source", "10"], None, Stdout::Collected);
    let mut conns: Vec<TcpStream> = (0..30)
        .map(|_| TcpStream::connect(server.addr).unwrap())
        .collect();
    // The server accepts them all meanwhile: the refused ones are closed at once.
    thread::sleep(Duration::from_secs(1));
    let refused = conns
        .iter_mut()
        .map(|c| closed_within(c, Duration::from_millis(300)))
        .filter(|closed| *closed)
        .count();
    assert_eq!(refused, 20, "10 held, the rest refused at once");
    // Another source connects and allocates.
    let other = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    other
        .bind(&"127.0.0.2:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    other.connect(&server.addr.into()).unwrap();
    tcp_allocate(&mut other.into());
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).expect("a frame");
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let total = if head[0] < 4 {
        16 + len
    } else {
        (len + 3) & !3
    };
    let mut rest = vec![0u8; total];
    s.read_exact(&mut rest).expect("the rest of the frame");
    let mut v = head.to_vec();
    v.extend(rest);
    v
}

/// Allocate from `n` fresh UDP clients: the clients that got a relay, and the error codes.
fn allocate_many(server: SocketAddr, n: usize) -> (Vec<Client>, Vec<u16>) {
    let mut ok = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..n {
        let mut c = Client::new("127.0.0.1", server);
        match c.allocate() {
            Ok(_) => ok.push(c),
            Err(code) => codes.push(code),
        }
    }
    (ok, codes)
}

#[test]
fn descriptor_exhaustion_answers_508_locks_no_port_and_recovers() {
    let nofile = 128;
    let server = Server::start(
        &[
            "--user-quota",
            "0",
            "--unauth-rate",
            "0",
            "--relay-count",
            "130",
        ],
        Some(nofile),
        Stdout::Collected,
    );
    // Many idle TCP connections: the server accepts at most half its descriptors' worth and
    // refuses the rest at once.
    let conns: Vec<TcpStream> = (0..200)
        .filter_map(|_| TcpStream::connect(server.addr).ok())
        .collect();
    thread::sleep(Duration::from_millis(500));
    // The healthy client still gets a relay.
    Client::new("127.0.0.1", server.addr).healthy_echo(3);
    // Relays up to the descriptor limit, then a clear 508 (never a timeout).
    let (held, codes) = allocate_many(server.addr, 120);
    assert!(!held.is_empty() && !codes.is_empty(), "{} held", held.len());
    assert!(codes.iter().all(|c| *c == 508), "{codes:?}");
    server.wait_log("no file descriptor left", Duration::from_secs(2));
    // Once the connections and allocations are gone, the ports are free again: a port whose
    // bind failed for lack of descriptors was not blocked.
    drop(conns);
    for c in &held {
        c.refresh_zero();
    }
    thread::sleep(Duration::from_millis(500));
    let (again, codes) = allocate_many(server.addr, 100);
    assert!(
        codes.is_empty(),
        "{} allocated, then {codes:?}",
        again.len()
    );
    Client::new("127.0.0.1", server.addr).healthy_echo(3);
}

/// Allocate requests signed for a user the server does not know, with a 4 KB USERNAME (each
/// is refused 401 and logged as a refusal), from `sources` loopback addresses.
fn refusal_flood(server: SocketAddr, sources: u8, per_source: usize) {
    let user = format!("evil\n{}", "u".repeat(4000));
    for s in 0..sources {
        let sock = UdpSocket::bind(format!("127.0.1.{}:0", s + 1)).unwrap();
        for _ in 0..per_source {
            let req = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid())
                .requested_transport(17)
                .username(&user)
                .realm(REALM)
                .nonce(b"0123456789abcdef")
                .integrity(&Key::long_term(&user, REALM, "x"))
                .fingerprint();
            sock.send_to(&req, server).unwrap();
        }
    }
}

#[test]
fn a_log_flood_is_bounded_and_aggregated() {
    let mut server = Server::start(&[], None, Stdout::Collected);
    refusal_flood(server.addr, 20, 200);
    Client::new("127.0.0.2", server.addr).healthy_echo(3);
    assert!(server.terminate(Duration::from_secs(5)), "SIGTERM ends it");
    thread::sleep(Duration::from_millis(200));
    let log = server.log();
    assert!(
        log.contains("refusals from 127.0.1.1 in the last 60 s not logged one by one"),
        "{log}"
    );
    let refusals = log.lines().filter(|l| l.contains(" refuse ")).count();
    assert!(refusals <= 20 * 5, "{refusals} refusal lines");
    assert!(log.len() < 256 << 10, "{} bytes of log", log.len());
    assert!(log.lines().all(|l| l.len() <= 1100), "a line is too long");
    assert!(!log.contains("uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu"));
}

#[test]
fn a_log_reader_that_stops_reading_stalls_nothing() {
    let mut server = Server::start(&[], None, Stdout::NeverRead);
    // More log than a pipe holds (64 KiB): 250 sources x 5 refusals in full.
    refusal_flood(server.addr, 250, 6);
    thread::sleep(Duration::from_millis(500));
    for _ in 0..3 {
        Client::new("127.0.0.2", server.addr).healthy_echo(3);
    }
    assert!(
        server.terminate(Duration::from_secs(5)),
        "SIGTERM ends the server although its log is not read"
    );
}

#[test]
fn unauthenticated_answers_are_rate_limited_per_source() {
    let mut server = Server::start(
        &["--unauth-rate", "20", "--unauth-burst", "20"],
        None,
        Stdout::Collected,
    );
    let mut c = Client::new("127.0.0.3", server.addr);
    c.allocate().expect("allocated");
    // 500 Binding requests at once: the burst (less the challenge above) and the rate are
    // answered, no more.
    let started = Instant::now();
    for _ in 0..500 {
        let req = MessageBuilder::new(Method::BINDING, Class::Request, txid()).fingerprint();
        c.sock.send_to(&req, server.addr).unwrap();
    }
    c.sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut answered = 0;
    while c.sock.recv_from(&mut [0u8; 2048]).is_ok() {
        answered += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let bound = 20.0 + 20.0 * secs + 5.0;
    assert!(
        answered >= 15 && f64::from(answered) <= bound,
        "{answered} answers in {secs:.1} s (bound {bound:.0})"
    );
    // Authenticated requests from the same source are answered in full.
    c.sock
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    for _ in 0..50 {
        let permit = MessageBuilder::new(Method::CREATE_PERMISSION, Class::Request, txid())
            .xor_address(attr::XOR_PEER_ADDRESS, "127.0.0.1:9".parse().unwrap());
        assert_eq!(c.request(permit), None);
    }
    // Another source has its own budget.
    Client::new("127.0.0.4", server.addr).healthy_echo(3);
    assert!(server.terminate(Duration::from_secs(5)));
    thread::sleep(Duration::from_millis(200));
    let log = server.log();
    assert!(
        log.contains("unauthenticated answers withheld (rate limit) from 127.0.0.3"),
        "{log}"
    );
}

fn set_reuse(fd: i32, option: libc::c_int) {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads an int from a valid pointer for the given length.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "setsockopt");
}

#[test]
fn the_listeners_cannot_be_shared() {
    use socket2::{Domain, Socket, Type};
    use std::os::fd::AsRawFd;
    let server = Server::start(&[], None, Stdout::Collected);
    for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        let udp = Socket::new(Domain::IPV4, Type::DGRAM, None).unwrap();
        set_reuse(udp.as_raw_fd(), option);
        let err = udp.bind(&server.addr.into()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "UDP, option {option}");
        let tcp = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        set_reuse(tcp.as_raw_fd(), option);
        let err = tcp.bind(&server.addr.into()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "TCP, option {option}");
    }
    Client::new("127.0.0.2", server.addr).healthy_echo(3);
}
