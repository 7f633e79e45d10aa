//! `turnscope serve`: sockets and timers around the sans-IO core in [`crate::turn`].
//!
//! One thread runs a mio (epoll) event loop that owns the core, the UDP and TCP listeners, the
//! TCP connections and every relay socket. Each readable socket is drained, each datagram or
//! framed message goes through the core, and the core's outputs are carried out at once
//! (send to client, send to peer, bind or close a relay socket, log a line). Timers: the loop
//! sleeps until the core's next deadline (`poll_timeout`) and then calls `handle_timeout`.
//! A [`Stopper`] (Ctrl-C / SIGTERM in the CLI) wakes the loop, which closes everything and
//! returns.

pub mod framing;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::turn::{
    Config, Event, FiveTuple, Handled, Output, Server, StatelessNonces, Time, Transport,
};

const WAKER: Token = Token(0);
/// Listener tokens are 1..FIRST_SLOT; relays and connections from FIRST_SLOT on.
const FIRST_SLOT: usize = 1024;
/// Bytes a TCP connection may have waiting to be written before more output to it is dropped.
const MAX_PENDING_WRITE: usize = 4 << 20;
/// Bytes a TCP connection may buffer without completing a frame (a frame is at most 65555).
const MAX_PENDING_READ: usize = 1 << 17;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// UDP and TCP listen addresses (each address gets both).
    pub listen: Vec<SocketAddr>,
    pub config: Config,
    pub max_tcp_connections: usize,
    /// Kernel socket buffer size for listeners and relays (0: the system default).
    pub socket_buffer: usize,
    /// Give each UDP client that relays data its own connected socket (as coturn does).
    pub connected_udp: bool,
}

/// Stops a running server from another thread (or a signal handler).
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl Stopper {
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
    }
}

enum Slot {
    Relay {
        socket: UdpSocket,
        addr: SocketAddr,
    },
    /// A UDP socket on a listen address connected to one client with an allocation: the
    /// kernel delivers that client's datagrams to it and sends on it skip the route lookup.
    Client {
        socket: UdpSocket,
        client: SocketAddr,
        local: SocketAddr,
    },
    Conn(Conn),
}

struct Conn {
    stream: TcpStream,
    client: SocketAddr,
    local: SocketAddr,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// Registered for WRITABLE as well.
    want_write: bool,
}

/// A bound server, ready to [`Serve::run`].
pub struct Serve {
    poll: Poll,
    server: Server,
    udp: Vec<(UdpSocket, SocketAddr)>,
    tcp: Vec<(TcpListener, SocketAddr)>,
    slots: Vec<Option<Slot>>,
    free: Vec<usize>,
    relays: HashMap<SocketAddr, usize>,
    conns: HashMap<(SocketAddr, SocketAddr), usize>,
    udp_clients: HashMap<(SocketAddr, SocketAddr), usize>,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    start: Instant,
    options: ServeOptions,
    buf: Vec<u8>,
    log: Box<dyn Write + Send>,
}

/// 32 bytes from the OS random source (nonce secret, relay port seed).
fn os_random() -> io::Result<[u8; 32]> {
    let mut b = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// A non-blocking UDP socket on `addr`; `reuse` lets connected per-client sockets share a
/// listen address; `connect` connects it.
fn udp_socket(
    addr: SocketAddr,
    buffer: usize,
    reuse: bool,
    connect: Option<SocketAddr>,
) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    if reuse {
        s.set_reuse_address(true)?;
    }
    if buffer > 0 {
        let _ = s.set_recv_buffer_size(buffer);
        let _ = s.set_send_buffer_size(buffer);
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    if let Some(peer) = connect {
        s.connect(&peer.into())?;
    }
    Ok(UdpSocket::from_std(s.into()))
}

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
    /// Bind the listeners. Event lines go to `log`.
    pub fn bind(mut options: ServeOptions, log: Box<dyn Write + Send>) -> io::Result<Serve> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let random = os_random()?;
        let mut seed = [0u8; 8];
        seed.copy_from_slice(&random[..8]);
        options.config.port_seed = u64::from_le_bytes(seed);
        let nonces = StatelessNonces::new(random, options.config.nonce_lifetime);
        let server = Server::new(options.config.clone(), Box::new(nonces));
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for (i, addr) in options.listen.iter().enumerate() {
            let mut u = udp_socket(*addr, options.socket_buffer, true, None)
                .map_err(|e| io::Error::new(e.kind(), format!("UDP {addr}: {e}")))?;
            let local = u.local_addr()?;
            poll.registry()
                .register(&mut u, Token(1 + 2 * i), Interest::READABLE)?;
            udp.push((u, local));
            let mut t = tcp_listener(local)
                .map_err(|e| io::Error::new(e.kind(), format!("TCP {local}: {e}")))?;
            let local = t.local_addr()?;
            poll.registry()
                .register(&mut t, Token(2 + 2 * i), Interest::READABLE)?;
            tcp.push((t, local));
        }
        if 2 * options.listen.len() + 1 >= FIRST_SLOT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many listen addresses",
            ));
        }
        Ok(Serve {
            poll,
            server,
            udp,
            tcp,
            slots: Vec::new(),
            free: Vec::new(),
            relays: HashMap::new(),
            conns: HashMap::new(),
            udp_clients: HashMap::new(),
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            start: Instant::now(),
            options,
            buf: vec![0u8; 65_536],
            log,
        })
    }

    /// The bound UDP (and, at the same addresses, TCP) listen addresses.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp.iter().map(|(_, a)| *a).collect()
    }

    pub fn stopper(&self) -> Stopper {
        Stopper {
            flag: self.stop.clone(),
            waker: self.waker.clone(),
        }
    }

    fn now(&self) -> Time {
        Time::from_nanos(i64::try_from(self.start.elapsed().as_nanos()).unwrap_or(i64::MAX))
    }

    fn log_line(&mut self, line: &str) {
        let _ = writeln!(self.log, "{} {line}", rfc3339(SystemTime::now()));
        let _ = self.log.flush();
    }

    /// Run until stopped. Returns after closing every socket.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        while !self.stop.load(Ordering::SeqCst) {
            let now = self.now();
            let timeout = self
                .server
                .poll_timeout()
                .map(|t| t.saturating_duration_since(now) + Duration::from_millis(1))
                .unwrap_or(Duration::from_secs(3600));
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = self.now();
            self.server.handle_timeout(now);
            self.outputs(now);
            for ev in events.iter() {
                let token = ev.token().0;
                if token == WAKER.0 {
                    continue;
                }
                if token < FIRST_SLOT {
                    let i = (token - 1) / 2;
                    if token % 2 == 1 {
                        self.udp_readable(i);
                    } else {
                        self.accept(i);
                    }
                    continue;
                }
                let slot = token - FIRST_SLOT;
                match self.slots.get(slot) {
                    Some(Some(Slot::Relay { .. })) => self.relay_readable(slot),
                    Some(Some(Slot::Client { .. })) => self.client_readable(slot),
                    Some(Some(Slot::Conn(_))) => {
                        if ev.is_writable() {
                            self.conn_flush(slot);
                        }
                        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                            self.conn_readable(slot);
                        }
                    }
                    _ => {}
                }
            }
        }
        let n = self.server.allocation_count();
        let now = self.now();
        self.server.shutdown(now);
        self.outputs(now);
        self.log_line(&format!("shutdown allocations={n}"));
        Ok(())
    }

    fn udp_readable(&mut self, i: usize) {
        loop {
            let Some((sock, local)) = self.udp.get(i) else {
                return;
            };
            let local = *local;
            match sock.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let now = self.now();
                    let data = self.buf.get(..n).unwrap_or(&[]);
                    let h = self
                        .server
                        .handle_client(now, Transport::Udp, from, local, data);
                    self.outputs(now);
                    if h == Handled::Relayed && self.options.connected_udp {
                        // A client that relays data gets its own connected socket.
                        self.open_udp_client(from, local);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue, // ICMP errors surface here on Linux: ignore
            }
        }
    }

    fn relay_readable(&mut self, slot: usize) {
        loop {
            let Some(Some(Slot::Relay { socket, addr })) = self.slots.get(slot) else {
                return;
            };
            let relay = *addr;
            match socket.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let now = self.now();
                    let data = self.buf.get(..n).unwrap_or(&[]);
                    let _ = self.server.handle_peer(now, relay, from, data);
                    self.outputs(now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => continue,
            }
        }
    }

    fn client_readable(&mut self, slot: usize) {
        loop {
            let Some(Some(Slot::Client {
                socket,
                client,
                local,
            })) = self.slots.get(slot)
            else {
                return;
            };
            let local = *local;
            let _ = client;
            // recv_from, not recv: between bind and connect the socket may have queued another
            // client's datagram.
            match socket.recv_from(&mut self.buf) {
                Ok((n, client)) => {
                    let now = self.now();
                    let data = self.buf.get(..n).unwrap_or(&[]);
                    let _ = self
                        .server
                        .handle_client(now, Transport::Udp, client, local, data);
                    self.outputs(now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(_) => return,
            }
        }
    }

    /// A connected socket for a UDP client that got an allocation (best effort: without it the
    /// listener serves the client).
    fn open_udp_client(&mut self, client: SocketAddr, local: SocketAddr) {
        if self.udp_clients.contains_key(&(client, local)) {
            return;
        }
        let Ok(mut socket) = udp_socket(local, 0, true, Some(client)) else {
            return;
        };
        let slot = self.insert_conn_placeholder();
        if self
            .poll
            .registry()
            .register(&mut socket, Token(FIRST_SLOT + slot), Interest::READABLE)
            .is_err()
        {
            self.free.push(slot);
            return;
        }
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Slot::Client {
                socket,
                client,
                local,
            });
        }
        self.udp_clients.insert((client, local), slot);
    }

    fn close_udp_client(&mut self, client: SocketAddr, local: SocketAddr) {
        if let Some(slot) = self.udp_clients.remove(&(client, local)) {
            if let Some(Some(Slot::Client { mut socket, .. })) =
                self.slots.get_mut(slot).map(Option::take)
            {
                let _ = self.poll.registry().deregister(&mut socket);
            }
            self.free.push(slot);
        }
    }

    fn accept(&mut self, i: usize) {
        loop {
            let Some((listener, local)) = self.tcp.get(i) else {
                return;
            };
            let local = *local;
            match listener.accept() {
                Ok((mut stream, client)) => {
                    if self.conns.len() >= self.options.max_tcp_connections {
                        continue; // dropped: closes the connection
                    }
                    let _ = stream.set_nodelay(true);
                    let slot = self.insert_conn_placeholder();
                    let token = Token(FIRST_SLOT + slot);
                    if self
                        .poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE)
                        .is_err()
                    {
                        self.release_slot(slot);
                        continue;
                    }
                    if let Some(s) = self.slots.get_mut(slot) {
                        *s = Some(Slot::Conn(Conn {
                            stream,
                            client,
                            local,
                            rbuf: Vec::new(),
                            wbuf: Vec::new(),
                            want_write: false,
                        }));
                    }
                    self.conns.insert((client, local), slot);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    fn insert_conn_placeholder(&mut self) -> usize {
        match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        }
    }

    fn release_slot(&mut self, slot: usize) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = None;
            self.free.push(slot);
        }
    }

    fn conn_readable(&mut self, slot: usize) {
        let mut closed = false;
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let (client, local) = {
            let Some(Some(Slot::Conn(c))) = self.slots.get_mut(slot) else {
                return;
            };
            loop {
                match c.stream.read(&mut self.buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        c.rbuf.extend_from_slice(self.buf.get(..n).unwrap_or(&[]));
                        // Cut complete frames as they arrive to keep the buffer small.
                        let mut start = 0;
                        loop {
                            match framing::frame_len(c.rbuf.get(start..).unwrap_or(&[])) {
                                Ok(Some(len)) => {
                                    frames.push(
                                        c.rbuf.get(start..start + len).unwrap_or(&[]).to_vec(),
                                    );
                                    start += len;
                                }
                                Ok(None) => break,
                                Err(_) => {
                                    closed = true;
                                    break;
                                }
                            }
                        }
                        c.rbuf.drain(..start.min(c.rbuf.len()));
                        if closed || c.rbuf.len() > MAX_PENDING_READ {
                            closed = true;
                            break;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            (c.client, c.local)
        };
        for f in frames {
            let now = self.now();
            let _ = self
                .server
                .handle_client(now, Transport::Tcp, client, local, &f);
            self.outputs(now);
        }
        if closed {
            self.close_conn(slot);
        }
    }

    fn close_conn(&mut self, slot: usize) {
        let Some(Some(Slot::Conn(mut c))) = self.slots.get_mut(slot).map(Option::take) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut c.stream);
        self.free.push(slot);
        self.conns.remove(&(c.client, c.local));
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

    fn conn_flush(&mut self, slot: usize) {
        let registry = self.poll.registry();
        let Some(Some(Slot::Conn(c))) = self.slots.get_mut(slot) else {
            return;
        };
        if flush(c, registry, Token(FIRST_SLOT + slot)).is_err() {
            self.close_conn(slot);
        }
    }

    /// Carry out everything the core asked for.
    fn outputs(&mut self, now: Time) {
        while let Some(out) = self.server.poll_output() {
            match out {
                Output::ToClient { to, bytes } => self.send_to_client(to, &bytes),
                Output::ToPeer { relay, peer, bytes } => {
                    if let Some(Some(Slot::Relay { socket, .. })) =
                        self.relays.get(&relay).and_then(|s| self.slots.get(*s))
                    {
                        let _ = socket.send_to(&bytes, peer);
                    }
                }
                Output::BindRelay { relay } => {
                    let ok = self.bind_relay(relay).is_ok();
                    let _ = self.server.relay_bound(now, relay, ok);
                }
                Output::ReleaseRelay { relay } => {
                    if let Some(slot) = self.relays.remove(&relay) {
                        if let Some(Some(Slot::Relay { mut socket, .. })) =
                            self.slots.get_mut(slot).map(Option::take)
                        {
                            let _ = self.poll.registry().deregister(&mut socket);
                        }
                        self.free.push(slot);
                    }
                }
                Output::Event(e) => {
                    match &e {
                        Event::Deleted { client, .. } if client.transport == Transport::Udp => {
                            self.close_udp_client(client.client, client.server)
                        }
                        _ => {}
                    }
                    self.log_line(&e.to_string());
                }
            }
        }
    }

    fn bind_relay(&mut self, relay: SocketAddr) -> io::Result<()> {
        let mut socket = udp_socket(relay, self.options.socket_buffer, false, None)?;
        let slot = self.insert_conn_placeholder();
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut socket, Token(FIRST_SLOT + slot), Interest::READABLE)
        {
            self.free.push(slot);
            return Err(e);
        }
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Slot::Relay {
                socket,
                addr: relay,
            });
        }
        self.relays.insert(relay, slot);
        Ok(())
    }

    fn send_to_client(&mut self, to: FiveTuple, bytes: &[u8]) {
        match to.transport {
            Transport::Udp => {
                if let Some(Some(Slot::Client { socket, .. })) = self
                    .udp_clients
                    .get(&(to.client, to.server))
                    .and_then(|s| self.slots.get(*s))
                {
                    let _ = socket.send(bytes);
                } else if let Some((sock, _)) = self.udp.iter().find(|(_, a)| *a == to.server) {
                    let _ = sock.send_to(bytes, to.client);
                }
            }
            Transport::Tcp => {
                let Some(&slot) = self.conns.get(&(to.client, to.server)) else {
                    return;
                };
                let registry = self.poll.registry();
                let Some(Some(Slot::Conn(c))) = self.slots.get_mut(slot) else {
                    return;
                };
                if c.wbuf.len() + bytes.len() > MAX_PENDING_WRITE {
                    return; // the client does not read: drop, never buffer without bound
                }
                c.wbuf.extend_from_slice(bytes);
                if flush(c, registry, Token(FIRST_SLOT + slot)).is_err() {
                    self.close_conn(slot);
                }
            }
        }
    }
}

/// Write what is pending; ask for WRITABLE while something remains.
fn flush(c: &mut Conn, registry: &Registry, token: Token) -> io::Result<()> {
    while !c.wbuf.is_empty() {
        match c.stream.write(&c.wbuf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                c.wbuf.drain(..n.min(c.wbuf.len()));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    let want = !c.wbuf.is_empty();
    if want != c.want_write {
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        registry.reregister(&mut c.stream, token, interest)?;
        c.want_write = want;
    }
    Ok(())
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
