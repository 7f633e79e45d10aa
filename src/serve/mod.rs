//! `turnscope serve`: sockets and timers around the sans-IO core in [`crate::turn`].
//!
//! One thread runs a mio (epoll, edge-triggered) event loop that owns the core, the UDP and TCP
//! listeners, the TCP connections and every relay socket. Each turn of the loop visits the
//! sockets that are readable, each within a budget (datagrams, bytes and frames per visit), so
//! that no socket can starve the others; a socket left with data goes on a ready list and is
//! visited again next turn (the poll does not wait while the list is not empty). Every datagram
//! or framed message goes through the core at once and the core's outputs are carried out
//! (send to client, send to peer, bind or close a relay socket, log a line). UDP sockets are
//! read in batches and the datagrams for each are queued and written together at the end of
//! the visit (`udp_batch.rs`: `recvmmsg`/`sendmmsg` on Linux).
//!
//! What bounds the cost of one client: TCP input is cut into frames as it arrives (at most one
//! incomplete frame is held); a connection whose output backs up is not read until it drains;
//! output to a client that does not read is dropped beyond a bound; a TCP connection that holds
//! no allocation is closed after `tcp_allocate_timeout`; TCP connections may take at most half
//! of the file descriptors, so relays always have some; answers to unauthenticated UDP requests
//! are rate-limited per source; log lines are bounded, aggregated per source and written by
//! their own thread ([`log`]).
//!
//! Timers: the loop sleeps until the core's next deadline (`poll_timeout`) or the next second
//! of housekeeping. A [`Stopper`] (Ctrl-C / SIGTERM in the CLI) wakes the loop, which closes
//! everything and returns.

mod conn;
mod fds;
pub mod framing;
pub mod limits;
pub mod log;
mod udp_batch;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Token, Waker};

use self::conn::{Conn, ReadOutcome};
use self::limits::{Holdings, RateLimit, SourceKey, Tally, Verdict};
use self::log::Log;
use self::udp_batch::{RecvBatch, SendQueue};
use crate::turn::{
    BindFailure, Config, Event, FiveTuple, Output, Server, StatelessNonces, Time, Transport,
};
use crate::wire::{attr, Class, Message};

const WAKER: Token = Token(0);
/// Listener tokens are 1..FIRST_SLOT; relays and connections from FIRST_SLOT on.
const FIRST_SLOT: usize = 1024;
/// Datagrams read from a UDP listener per visit. It carries every UDP client (requests and
/// relayed data), so it gets more than a relay socket, which carries one allocation's peers.
const LISTENER_BUDGET: usize = 1024;
const RELAY_BUDGET: usize = 64;
const ACCEPT_BUDGET: usize = 64;
/// Output waiting for all TCP connections together beyond which more is dropped.
const TOTAL_WRITE_MAX: usize = 64 << 20;
/// How often idle connections are looked for.
const HOUSEKEEPING: Duration = Duration::from_secs(1);
/// How often per-source summaries ("N refusals from X") are logged.
const SUMMARY_WINDOW: Duration = Duration::from_secs(60);
/// Refusals logged in full per source and window; the rest are counted in the summary.
const REFUSALS_IN_FULL: u64 = 5;
/// Sources tracked by name in the summaries (the rest are counted together).
const TALLY_SOURCES: usize = 4096;
/// Sources with their own token bucket for unauthenticated answers.
const RATE_SOURCES: usize = 65_536;

// Defaults of ServeOptions (the CLI's too).

/// Default of [`ServeOptions::max_tcp_connections`]: concurrent TCP client connections (fewer
/// when the descriptor limit leaves less than twice as many).
pub const DEFAULT_MAX_TCP_CONNECTIONS: usize = 10_000;
/// Default of [`ServeOptions::tcp_allocate_timeout`]: 60 s, coturn's `max-allocate-timeout`.
pub const DEFAULT_TCP_ALLOCATE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`ServeOptions::tcp_bare_per_source`]: TCP connections without an allocation
/// one source may hold. A client needs one for a few milliseconds (challenge, then
/// Allocate), so even a large NAT stays far below it.
pub const DEFAULT_TCP_BARE_PER_SOURCE: u32 = 64;
/// Default of [`ServeOptions::unauth_rate`]: answers a second to unauthenticated UDP requests
/// per source. One client needs a few (a Binding, a challenge); the room is for the many
/// clients one NAT address may stand for.
pub const DEFAULT_UNAUTH_RATE: u32 = 200;
/// Default of [`ServeOptions::unauth_burst`]: one second's worth of [`DEFAULT_UNAUTH_RATE`].
pub const DEFAULT_UNAUTH_BURST: u32 = 200;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// UDP and TCP listen addresses (each address gets both).
    pub listen: Vec<SocketAddr>,
    /// The TURN core's configuration: realm, credentials, relay addresses and ports,
    /// lifetimes, quotas, peer policy.
    pub config: Config,
    /// Concurrent TCP client connections (also at most half the descriptors left after the
    /// fixed ones).
    pub max_tcp_connections: usize,
    /// Kernel socket buffer size for listeners and relays (0: the system default).
    pub socket_buffer: usize,
    /// A TCP connection that holds no allocation is closed this long after it opened or after
    /// its allocation ended.
    pub tcp_allocate_timeout: Duration,
    /// TCP connections without an allocation one source (IPv4 address or IPv6 /64) may hold;
    /// more are refused. 0: no limit.
    pub tcp_bare_per_source: u32,
    /// Answers to unauthenticated UDP requests per second per source (IPv4 address or IPv6
    /// /64); 0 turns the limit off.
    pub unauth_rate: u32,
    /// Answers a source may get at once before the rate applies.
    pub unauth_burst: u32,
}

impl ServeOptions {
    /// Options with the `DEFAULT_*` constants of this module and 4 MiB socket buffers.
    pub fn new(listen: Vec<SocketAddr>, config: Config) -> ServeOptions {
        ServeOptions {
            listen,
            config,
            max_tcp_connections: DEFAULT_MAX_TCP_CONNECTIONS,
            socket_buffer: 4 << 20,
            tcp_allocate_timeout: DEFAULT_TCP_ALLOCATE_TIMEOUT,
            tcp_bare_per_source: DEFAULT_TCP_BARE_PER_SOURCE,
            unauth_rate: DEFAULT_UNAUTH_RATE,
            unauth_burst: DEFAULT_UNAUTH_BURST,
        }
    }
}

/// Stops a running server from another thread (or a signal handler).
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Stopper {
    /// Ask the server to stop and wake its loop: [`Serve::run`] returns after the current
    /// turn of the loop. Calling it again does nothing more.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

/// A UDP socket of the server (a listener or a relay) and the datagrams waiting to go out on
/// it, written together once the visit that queued them ends (or the queue is full).
struct UdpEnd {
    socket: UdpSocket,
    addr: SocketAddr,
    out: SendQueue,
}

impl UdpEnd {
    fn new(socket: UdpSocket, addr: SocketAddr) -> UdpEnd {
        UdpEnd {
            socket,
            addr,
            out: SendQueue::default(),
        }
    }
}

enum Slot {
    Relay(UdpEnd),
    Conn(Conn),
}

/// Did a visit leave the socket with data (visit it again next turn)?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    Drained,
    More,
}

/// Where framing a connection's input stopped.
enum Framed {
    /// Every complete frame was handled: read more.
    NeedMore,
    /// The frame budget of this visit is spent.
    Budget,
    /// The connection's output is backed up: stop reading it.
    Paused,
    /// Not TURN, or a frame too large: close the connection.
    Bad,
    /// The connection was closed meanwhile.
    Gone,
}

/// Things counted between summaries, each logged as one line when not zero.
#[derive(Debug, Default)]
struct Counters {
    tcp_refused_at_cap: u64,
    tcp_refused_per_source: u64,
    tcp_refused_no_descriptors: u64,
    tcp_output_dropped: u64,
    /// Datagrams (to clients or peers) a UDP socket's full send buffer did not take.
    udp_output_dropped: u64,
}

/// A bound server, ready to [`Serve::run`].
pub struct Serve {
    poll: Poll,
    server: Server,
    udp: Vec<UdpEnd>,
    tcp: Vec<(TcpListener, SocketAddr)>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    relays: HashMap<SocketAddr, usize>,
    conns: HashMap<(SocketAddr, SocketAddr), usize>,
    /// Tokens left with data after their visit's budget.
    ready: Vec<usize>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    start: Instant,
    options: ServeOptions,
    /// Buffers for one batch of datagrams read from a UDP socket.
    rx: RecvBatch,
    /// Tokens of UDP sockets with datagrams queued: written out at the end of each visit.
    queued: Vec<usize>,
    log: Log,
    /// TCP connections allowed at once (the option, bounded by the descriptor limit).
    tcp_cap: usize,
    descriptor_limit: Option<u64>,
    spare: fds::Spare,
    /// Bytes waiting in every connection's output buffer.
    write_total: usize,
    /// TCP connections without an allocation, per source.
    bare: Holdings,
    unauth: RateLimit,
    refusals: Tally,
    withheld: Tally,
    counters: Counters,
    next_housekeeping: Instant,
    next_summary: Instant,
}

/// 32 bytes from the OS random source (nonce secret, relay port seed).
fn os_random() -> io::Result<[u8; 32]> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// A non-blocking UDP socket on `addr`. No SO_REUSEADDR (nor SO_REUSEPORT): no other socket,
/// of this user or another, can bind the same address and take clients' datagrams.
fn udp_socket(addr: SocketAddr, buffer: usize) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if buffer > 0 {
        let _ = s.set_recv_buffer_size(buffer);
        let _ = s.set_send_buffer_size(buffer);
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(UdpSocket::from_std(s.into()))
}

/// A TCP listener. SO_REUSEADDR on TCP only lets the server restart while old connections
/// are in TIME_WAIT; it does not let another socket listen on the address (SO_REUSEPORT,
/// which would, is not set).
fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(TcpListener::from_std(s.into()))
}

/// True for a STUN response that carries no MESSAGE-INTEGRITY: the answer to a request that
/// did not authenticate (challenges, Binding, errors before authentication).
fn unsigned_response(bytes: &[u8]) -> bool {
    // Responses have the class bit C1 set: the lowest bit of the first byte. ChannelData
    // (0x40-0x7F) and indications are not responses.
    if !matches!(bytes.first(), Some(b) if *b <= 3 && b & 1 == 1) {
        return false;
    }
    match Message::parse(bytes) {
        Ok(m) => {
            matches!(m.class(), Class::Success | Class::Error)
                && !m.has(attr::MESSAGE_INTEGRITY)
                && !m.has(attr::MESSAGE_INTEGRITY_SHA256)
        }
        Err(_) => false,
    }
}

/// The UDP socket of a token: a listener (odd tokens below [`FIRST_SLOT`]) or a relay.
fn udp_end_at<'a>(
    udp: &'a mut [UdpEnd],
    slots: &'a mut [Option<Slot>],
    token: usize,
) -> Option<&'a mut UdpEnd> {
    match token.checked_sub(FIRST_SLOT) {
        Some(slot) => match slots.get_mut(slot) {
            Some(Some(Slot::Relay(end))) => Some(end),
            _ => None,
        },
        None if token % 2 == 1 => udp.get_mut(token / 2),
        None => None,
    }
}

fn bind_failure(e: &io::Error) -> BindFailure {
    if fds::exhausted(e) {
        BindFailure::NoDescriptors
    } else if e.kind() == io::ErrorKind::AddrInUse {
        BindFailure::PortInUse
    } else {
        BindFailure::Other
    }
}

/// `2024-05-01T12:00:00.123Z` for a log line.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

impl Serve {
    /// Bind the listeners. Event lines go to `log`, written by a thread of their own.
    pub fn bind(mut options: ServeOptions, log: Box<dyn Write + Send>) -> io::Result<Serve> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let random = os_random()?;
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&random[..8]);
        options.config.port_seed = u64::from_le_bytes(seed);
        let nonces = StatelessNonces::new(random, options.config.nonce_lifetime);
        let server = Server::new(options.config.clone(), Box::new(nonces));
        if 2 * options.listen.len() + 1 >= FIRST_SLOT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many listen addresses",
            ));
        }
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for (i, addr) in options.listen.iter().enumerate() {
            let mut u = udp_socket(*addr, options.socket_buffer)
                .map_err(|e| io::Error::new(e.kind(), format!("UDP {addr}: {e}")))?;
            let local = u.local_addr()?;
            poll.registry()
                .register(&mut u, Token(1 + 2 * i), Interest::READABLE)?;
            udp.push(UdpEnd::new(u, local));
            let mut t = tcp_listener(local)
                .map_err(|e| io::Error::new(e.kind(), format!("TCP {local}: {e}")))?;
            let local = t.local_addr()?;
            poll.registry()
                .register(&mut t, Token(2 + 2 * i), Interest::READABLE)?;
            tcp.push((t, local));
        }
        let descriptor_limit = fds::raise_limit();
        let fixed = fds::RESERVED + 2 * options.listen.len() as u64;
        // TCP connections may hold at most half of the descriptors: the rest stay for relays.
        let tcp_cap = match descriptor_limit {
            Some(limit) => {
                let half = usize::try_from(limit.saturating_sub(fixed) / 2).unwrap_or(usize::MAX);
                options.max_tcp_connections.min(half)
            }
            None => options.max_tcp_connections,
        };
        let now = Instant::now();
        Ok(Serve {
            poll,
            server,
            udp,
            tcp,
            slots: Vec::new(),
            free: Vec::new(),
            relays: HashMap::new(),
            conns: HashMap::new(),
            ready: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            start: now,
            unauth: RateLimit::new(options.unauth_rate, options.unauth_burst, RATE_SOURCES, now),
            options,
            rx: RecvBatch::new(),
            queued: Vec::new(),
            log: Log::start(log),
            tcp_cap,
            descriptor_limit,
            spare: fds::Spare::new(),
            write_total: 0,
            bare: Holdings::default(),
            refusals: Tally::new(TALLY_SOURCES),
            withheld: Tally::new(TALLY_SOURCES),
            counters: Counters::default(),
            next_housekeeping: now + HOUSEKEEPING,
            next_summary: now + SUMMARY_WINDOW,
        })
    }

    /// The bound UDP (and, at the same addresses, TCP) listen addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().map(|u| u.addr).collect()
    }

    /// TCP connections accepted at once, and the descriptor limit that bounds them.
    pub fn limits_line(&self) -> String {
        let limit = self
            .descriptor_limit
            .map_or_else(|| "unknown".to_string(), |l| l.to_string());
        format!(
            "limits descriptors={limit} tcp-connections={} tcp-allocate-timeout={}s \
             tcp-bare-per-source={} unauthenticated-answers={}/s burst {} per source",
            self.tcp_cap,
            self.options.tcp_allocate_timeout.as_secs(),
            self.options.tcp_bare_per_source,
            self.options.unauth_rate,
            self.options.unauth_burst
        )
    }

    /// A handle that stops [`Serve::run`] from another thread; take it before calling `run`,
    /// which consumes the server.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            flag: self.stop.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Queue a line for the log (timestamped; never blocks).
    pub fn log_line(&self, line: &str) {
        self.log.line(line);
    }

    fn now(&self) -> Time {
        Time::from_nanos(i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX))
    }

    /// Run until stopped. Returns after closing every socket.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while !self.stop.load(Ordering::SeqCst) {
            match self.poll.poll(&mut events, Some(self.poll_timeout())) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = self.now();
            self.server.handle_timeout(now);
            self.outputs(now);
            self.housekeeping();
            let mut work = std::mem::take(&mut self.ready);
            for ev in events.iter() {
                let token = ev.token().0;
                if token == WAKER.0 {
                    continue;
                }
                if ev.is_writable() {
                    self.conn_writable(token);
                }
                if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                    work.push(token);
                }
            }
            // Each socket once per turn, however it became due.
            work.sort_unstable();
            work.dedup();
            // Datagrams queued by timers, housekeeping and closed connections.
            self.flush_queued();
            for token in work {
                if self.visit(token) == Progress::More {
                    self.ready.push(token);
                }
                self.flush_queued();
            }
        }
        let n = self.server.allocation_count();
        let now = self.now();
        self.server.shutdown(now);
        self.outputs(now);
        self.flush_queued();
        self.log_summaries();
        self.log.line(&format!("shutdown allocations={n}"));
        self.log.finish(Duration::from_secs(2));
        Ok(())
    }

    /// No wait while sockets are left with data; else until the core's next deadline or the
    /// next housekeeping.
    fn poll_timeout(&self) -> Duration {
        if !self.ready.is_empty() {
            return Duration::ZERO;
        }
        let now = self.now();
        let core = self
            .server
            .poll_timeout()
            .map(|t| t.saturating_duration_since(now) + Duration::from_millis(1))
            .unwrap_or(SUMMARY_WINDOW);
        core.min(
            self.next_housekeeping
                .saturating_duration_since(Instant::now()),
        )
    }

    /// Read from one socket within its budget.
    fn visit(&mut self, token: usize) -> Progress {
        if token < FIRST_SLOT {
            let i = token.saturating_sub(1) / 2;
            return if token % 2 == 1 {
                self.udp_readable(token, LISTENER_BUDGET)
            } else {
                self.accept(i)
            };
        }
        let slot = token - FIRST_SLOT;
        match self.slots.get(slot) {
            Some(Some(Slot::Relay(_))) => self.udp_readable(token, RELAY_BUDGET),
            Some(Some(Slot::Conn(_))) => self.conn_readable(slot),
            _ => Progress::Drained,
        }
    }

    /// Read a UDP socket (a listener: client datagrams; a relay: peer datagrams) in batches,
    /// up to `budget` datagrams, handing each to the core as it is read.
    fn udp_readable(&mut self, token: usize, budget: usize) -> Progress {
        let mut left = budget;
        // Taken out for the visit: the core and the outputs need `self` meanwhile.
        let mut rx = std::mem::take(&mut self.rx);
        let progress = loop {
            if left == 0 {
                break Progress::More;
            }
            let Some(end) = udp_end_at(&mut self.udp, &mut self.slots, token) else {
                break Progress::Drained;
            };
            let local = end.addr;
            match rx.fill(&end.socket, left) {
                Ok(n) => {
                    left = left.saturating_sub(n.max(1));
                    // One read: the datagrams were all waiting at this time.
                    let now = self.now();
                    for d in rx.datagrams() {
                        let _ = if token < FIRST_SLOT {
                            self.server
                                .handle_client(now, Transport::Udp, d.from, local, d.bytes)
                        } else {
                            self.server.handle_peer(now, local, d.from, d.bytes)
                        };
                        self.outputs(now);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Progress::Drained,
                // ICMP errors surface here on Linux: ignore.
                Err(_) => left -= 1,
            }
        };
        self.rx = rx;
        progress
    }

    /// Queue a datagram on the UDP socket of `token`; written out at the end of the visit, or
    /// now if the queue is full.
    fn queue_datagram(&mut self, token: usize, to: SocketAddr, bytes: Vec<u8>) {
        let Some(end) = udp_end_at(&mut self.udp, &mut self.slots, token) else {
            return;
        };
        if end.out.is_empty() {
            self.queued.push(token);
        }
        end.out.push(to, bytes);
        if end.out.is_full() {
            let flushed = end.out.flush(&end.socket);
            self.counters.udp_output_dropped += flushed.dropped as u64;
        }
    }

    /// Write out every queued datagram.
    fn flush_queued(&mut self) {
        let mut tokens = std::mem::take(&mut self.queued);
        for token in tokens.drain(..) {
            if let Some(end) = udp_end_at(&mut self.udp, &mut self.slots, token) {
                let flushed = end.out.flush(&end.socket);
                self.counters.udp_output_dropped += flushed.dropped as u64;
            }
        }
        // Keep the list's allocation for the next visit.
        self.queued = tokens;
    }

    fn accept(&mut self, i: usize) -> Progress {
        for _ in 0..ACCEPT_BUDGET {
            let Some((listener, local)) = self.tcp.get(i) else {
                return Progress::Drained;
            };
            let local = *local;
            match listener.accept() {
                Ok((stream, client)) => {
                    // Dropping the stream closes the connection.
                    if self.conns.len() >= self.tcp_cap {
                        self.counters.tcp_refused_at_cap += 1;
                        continue;
                    }
                    let source = SourceKey::of(client.ip());
                    let per_source = self.options.tcp_bare_per_source;
                    if per_source > 0 && self.bare.of(source) >= per_source {
                        self.counters.tcp_refused_per_source += 1;
                        continue;
                    }
                    self.add_conn(stream, client, local);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Progress::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if fds::exhausted(&e) => {
                    // Refuse the waiting connection with the spare descriptor, so that it
                    // does not sit in the backlog; without a spare, wait for the next event.
                    let refused = self.spare.while_released(|| drop(listener.accept()));
                    if !refused {
                        return Progress::Drained;
                    }
                    self.counters.tcp_refused_no_descriptors += 1;
                }
                Err(_) => return Progress::Drained,
            }
        }
        Progress::More
    }

    fn add_conn(&mut self, mut stream: mio::net::TcpStream, client: SocketAddr, local: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let slot = self.take_slot();
        let token = Token(FIRST_SLOT + slot);
        if self
            .poll
            .registry()
            .register(&mut stream, token, Interest::READABLE)
            .is_err()
        {
            self.free.push(slot);
            return;
        }
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Slot::Conn(Conn::new(stream, client, local, Instant::now())));
        }
        self.conns.insert((client, local), slot);
        self.bare.add(SourceKey::of(client.ip()));
        // Bytes may have arrived with the connection: edge-triggered, so look now.
        self.ready.push(token.0);
    }

    fn take_slot(&mut self) -> usize {
        match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        }
    }

    /// Read and handle a connection's frames within the visit's budgets.
    fn conn_readable(&mut self, slot: usize) -> Progress {
        let mut read_left = conn::READ_BUDGET;
        let mut frames_left = conn::FRAME_BUDGET;
        loop {
            match self.conn_frames(slot, &mut frames_left) {
                Framed::NeedMore => {}
                Framed::Budget => return Progress::More,
                Framed::Paused | Framed::Gone => return Progress::Drained,
                Framed::Bad => {
                    self.close_conn(slot);
                    return Progress::Drained;
                }
            }
            if read_left == 0 {
                return Progress::More;
            }
            let Some(Some(Slot::Conn(c))) = self.slots.get_mut(slot) else {
                return Progress::Drained;
            };
            match c.read_some(read_left) {
                ReadOutcome::Data(n) => read_left = read_left.saturating_sub(n.max(1)),
                ReadOutcome::WouldBlock => return Progress::Drained,
                ReadOutcome::Closed => {
                    self.close_conn(slot);
                    return Progress::Drained;
                }
            }
        }
    }

    /// Hand every complete frame of a connection's input to the core, one at a time (each
    /// answer is queued before the next frame is looked at).
    fn conn_frames(&mut self, slot: usize, frames_left: &mut usize) -> Framed {
        let (client, local, max_frame, rbuf) = match self.slots.get_mut(slot) {
            Some(Some(Slot::Conn(c))) if c.paused => return Framed::Paused,
            Some(Some(Slot::Conn(c))) => (
                c.client,
                c.local,
                c.max_frame(),
                std::mem::take(&mut c.rbuf),
            ),
            _ => return Framed::Gone,
        };
        let mut start = 0;
        let verdict = loop {
            if *frames_left == 0 {
                break Framed::Budget;
            }
            let rest = rbuf.get(start..).unwrap_or(&[]);
            let size = match framing::frame_size(rest) {
                Err(_) => break Framed::Bad,
                Ok(None) => break Framed::NeedMore,
                Ok(Some(size)) if size > max_frame => break Framed::Bad,
                Ok(Some(size)) if rest.len() < size => break Framed::NeedMore,
                Ok(Some(size)) => size,
            };
            let now = self.now();
            let frame = rest.get(..size).unwrap_or(&[]);
            let _ = self
                .server
                .handle_client(now, Transport::Tcp, client, local, frame);
            start += size;
            *frames_left -= 1;
            self.outputs(now);
            match self.conn_at(slot, client, local) {
                None => break Framed::Gone,
                Some(c) if c.paused => break Framed::Paused,
                Some(_) => {}
            }
        };
        if let Some(c) = self.conn_at(slot, client, local) {
            c.restore_input(rbuf, start);
        }
        verdict
    }

    /// The connection in `slot` if it is still the one from `client` to `local` (outputs may
    /// close a connection and hand its slot to a relay).
    fn conn_at(&mut self, slot: usize, client: SocketAddr, local: SocketAddr) -> Option<&mut Conn> {
        match self.slots.get_mut(slot) {
            Some(Some(Slot::Conn(c))) if c.client == client && c.local == local => Some(c),
            _ => None,
        }
    }

    fn close_conn(&mut self, slot: usize) {
        let Some(Some(Slot::Conn(mut c))) = self.slots.get_mut(slot).map(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.free.push(slot);
        self.write_total = self.write_total.saturating_sub(c.wbuf.len());
        self.conns.remove(&(c.client, c.local));
        if c.bare_since.is_some() {
            self.bare.remove(SourceKey::of(c.client.ip()));
        }
        let now = self.now();
        self.server.handle_disconnect(
            now,
            FiveTuple {
                transport: Transport::Tcp,
                client: c.client,
                server: c.local,
            },
        );
        self.outputs(now);
    }

    /// Write what a connection has pending; read it again once its output has drained.
    fn conn_writable(&mut self, token: usize) {
        let Some(slot) = token.checked_sub(FIRST_SLOT) else {
            return;
        };
        let registry = self.poll.registry();
        let Some(Some(Slot::Conn(c))) = self.slots.get_mut(slot) else {
            return;
        };
        match c.flush(registry, Token(token)) {
            Ok(written) => {
                self.write_total = self.write_total.saturating_sub(written);
                if c.paused && c.wbuf.len() <= conn::RESUME_AT {
                    c.paused = false;
                    self.ready.push(token);
                }
            }
            Err(_) => self.close_conn(slot),
        }
    }

    /// Carry out everything the core asked for.
    fn outputs(&mut self, now: Time) {
        while let Some(out) = self.server.poll_output() {
            match out {
                Output::ToClient { to, bytes } => self.send_to_client(to, bytes),
                Output::ToPeer { relay, peer, bytes } => {
                    if let Some(&slot) = self.relays.get(&relay) {
                        self.queue_datagram(FIRST_SLOT + slot, peer, bytes);
                    }
                }
                Output::BindRelay { relay } => match self.bind_relay(relay) {
                    Ok(()) => {
                        let _ = self.server.relay_bound(now, relay, true);
                    }
                    Err(e) => {
                        let _ = self.server.relay_bind_failed(now, relay, bind_failure(&e));
                    }
                },
                Output::ReleaseRelay { relay } => self.release_relay(relay),
                Output::Event(e) => self.event(&e),
            }
        }
    }

    /// Log an allocation event; track which TCP connections hold an allocation.
    fn event(&mut self, e: &Event) {
        match e {
            Event::Allocated { client, .. } if client.transport == Transport::Tcp => {
                if let Some(c) = self.conn_of(client) {
                    c.bare_since = None;
                    self.bare.remove(SourceKey::of(client.client.ip()));
                }
            }
            Event::Deleted { client, .. } if client.transport == Transport::Tcp => {
                if let Some(c) = self.conn_of(client) {
                    c.bare_since = Some(Instant::now());
                    self.bare.add(SourceKey::of(client.client.ip()));
                }
            }
            Event::Refused { client, .. } => {
                let source = SourceKey::of(client.client.ip());
                if self.refusals.count(source, REFUSALS_IN_FULL) == Verdict::Suppress {
                    return;
                }
            }
            _ => {}
        }
        self.log.line(&e.to_string());
    }

    fn conn_of(&mut self, client: &FiveTuple) -> Option<&mut Conn> {
        let slot = *self.conns.get(&(client.client, client.server))?;
        match self.slots.get_mut(slot) {
            Some(Some(Slot::Conn(c))) => Some(c),
            _ => None,
        }
    }

    fn bind_relay(&mut self, relay: SocketAddr) -> io::Result<()> {
        let mut socket = udp_socket(relay, self.options.socket_buffer)?;
        let slot = self.take_slot();
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut socket, Token(FIRST_SLOT + slot), Interest::READABLE)
        {
            self.free.push(slot);
            return Err(e);
        }
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Slot::Relay(UdpEnd::new(socket, relay)));
        }
        self.relays.insert(relay, slot);
        Ok(())
    }

    fn release_relay(&mut self, relay: SocketAddr) {
        if let Some(slot) = self.relays.remove(&relay) {
            if let Some(Some(Slot::Relay(mut end))) = self.slots.get_mut(slot).map(Option::take) {
                // What the allocation relayed before it ended still goes.
                let flushed = end.out.flush(&end.socket);
                self.counters.udp_output_dropped += flushed.dropped as u64;
                let _ = self.poll.registry().deregister(&mut end.socket);
            }
            self.free.push(slot);
        }
    }

    fn send_to_client(&mut self, to: FiveTuple, bytes: Vec<u8>) {
        match to.transport {
            Transport::Udp => {
                if self.withhold_unauthenticated(to.client, &bytes) {
                    return;
                }
                if let Some(i) = self.udp.iter().position(|u| u.addr == to.server) {
                    self.queue_datagram(1 + 2 * i, to.client, bytes);
                }
            }
            Transport::Tcp => self.send_on_conn(to, &bytes),
        }
    }

    /// The rate limit on answers to unauthenticated UDP requests (UDP sources can be spoofed:
    /// without it the server would send a victim several times what an attacker sends). TCP
    /// sources cannot be spoofed, and backpressure bounds what a TCP client costs.
    fn withhold_unauthenticated(&mut self, client: SocketAddr, bytes: &[u8]) -> bool {
        if !unsigned_response(bytes) {
            return false;
        }
        let source = SourceKey::of(client.ip());
        if self.unauth.allow(source, Instant::now()) {
            return false;
        }
        self.withheld.count(source, 0);
        true
    }

    fn send_on_conn(&mut self, to: FiveTuple, bytes: &[u8]) {
        let Some(&slot) = self.conns.get(&(to.client, to.server)) else {
            return;
        };
        let registry = self.poll.registry();
        let Some(Some(Slot::Conn(c))) = self.slots.get_mut(slot) else {
            return;
        };
        if c.wbuf.len() + bytes.len() > conn::WRITE_MAX
            || self.write_total + bytes.len() > TOTAL_WRITE_MAX
        {
            // The client does not read: drop, never buffer without bound.
            self.counters.tcp_output_dropped += 1;
            return;
        }
        c.wbuf.extend_from_slice(bytes);
        self.write_total += bytes.len();
        match c.flush(registry, Token(FIRST_SLOT + slot)) {
            Ok(written) => {
                self.write_total = self.write_total.saturating_sub(written);
                if c.wbuf.len() > conn::PAUSE_AT {
                    c.paused = true;
                }
            }
            Err(_) => self.close_conn(slot),
        }
    }

    /// Once a second: close connections that held no allocation for too long; once a window,
    /// log the summaries.
    fn housekeeping(&mut self) {
        let now = Instant::now();
        if now < self.next_housekeeping {
            return;
        }
        self.next_housekeeping = now + HOUSEKEEPING;
        let limit = self.options.tcp_allocate_timeout;
        let stale: Vec<usize> = self
            .conns
            .values()
            .copied()
            .filter(|s| matches!(self.slots.get(*s), Some(Some(Slot::Conn(c))) if c.bare_for(now) >= limit))
            .collect();
        if !stale.is_empty() {
            self.log.line(&format!(
                "tcp: closed {} connection(s) that held no allocation for {} s",
                stale.len(),
                limit.as_secs()
            ));
        }
        for slot in stale {
            self.close_conn(slot);
        }
        if now >= self.next_summary {
            self.next_summary = now + SUMMARY_WINDOW;
            self.log_summaries();
        }
    }

    /// The per-source summaries and counters of the window that ends.
    fn log_summaries(&mut self) {
        let mut lines = self.refusals.roll("refusals", SUMMARY_WINDOW);
        lines.extend(self.withheld.roll(
            "unauthenticated answers withheld (rate limit)",
            SUMMARY_WINDOW,
        ));
        let c = std::mem::take(&mut self.counters);
        let secs = SUMMARY_WINDOW.as_secs();
        if c.tcp_refused_at_cap > 0 {
            lines.push(format!(
                "tcp: {} connection(s) refused at the limit of {} in the last {secs} s",
                c.tcp_refused_at_cap, self.tcp_cap
            ));
        }
        if c.tcp_refused_per_source > 0 {
            lines.push(format!(
                "tcp: {} connection(s) refused: their source already held {} without an \
                 allocation, in the last {secs} s",
                c.tcp_refused_per_source, self.options.tcp_bare_per_source
            ));
        }
        if c.tcp_refused_no_descriptors > 0 {
            lines.push(format!(
                "tcp: {} connection(s) refused for lack of file descriptors in the last {secs} s",
                c.tcp_refused_no_descriptors
            ));
        }
        if c.udp_output_dropped > 0 {
            lines.push(format!(
                "udp: {} datagram(s) dropped: a socket's send buffer was full, in the last {secs} s",
                c.udp_output_dropped
            ));
        }
        if c.tcp_output_dropped > 0 {
            lines.push(format!(
                "tcp: {} message(s) dropped for clients that do not read in the last {secs} s",
                c.tcp_output_dropped
            ));
        }
        for l in lines {
            self.log.line(&l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_200_123); // 2024-03-01
        assert_eq!(rfc3339(t), "2024-03-01T00:00:00.123Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400 + 86_399); // 2000-02-29 23:59:59
        assert_eq!(rfc3339(t), "2000-02-29T23:59:59.000Z");
    }
}
