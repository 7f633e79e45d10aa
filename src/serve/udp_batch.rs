//! UDP datagrams read and written in batches: on Linux one `recvmmsg` reads up to [`BATCH`]
//! datagrams and one `sendmmsg` writes up to [`BATCH`], where a `recvfrom`/`sendto` pair per
//! packet was most of what relaying cost (the core takes a few hundred nanoseconds a packet, a
//! system call a microsecond or more). Other targets loop over `recv_from`/`send_to` with the
//! same interface and the same outcomes.
//!
//! Nothing here waits or grows: a read fills at most [`BATCH`] buffers of [`DATAGRAM_MAX`]
//! bytes allocated once, and a send queue is written out when it holds [`BATCH`] datagrams (by
//! the caller, see [`SendQueue::is_full`]). A datagram the kernel does not take at once (the
//! socket's send buffer is full) is dropped and counted, as a single `send_to` that failed
//! with `EAGAIN` dropped it before: relayed media is better lost than late, and UDP senders
//! expect loss.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

/// Datagrams read or written per system call.
pub const BATCH: usize = 32;
/// Bytes of one receive buffer: the largest UDP payload (65,507 over IPv4, 65,527 over IPv6)
/// fits, so no datagram is cut.
pub const DATAGRAM_MAX: usize = 65_536;

/// A datagram read by [`RecvBatch::fill`].
#[derive(Debug, Clone, Copy)]
pub struct Datagram<'a> {
    /// The sender.
    pub from: SocketAddr,
    /// The payload, whole.
    pub bytes: &'a [u8],
}

/// Receive buffers for [`BATCH`] datagrams, reused for every read (one per server: the event
/// loop reads one socket at a time).
#[derive(Debug, Default)]
pub struct RecvBatch {
    /// [`BATCH`] buffers of [`DATAGRAM_MAX`] bytes, end to end.
    buffers: Vec<u8>,
    /// Length and source of each datagram of the last read.
    received: Vec<(usize, SocketAddr)>,
}

impl RecvBatch {
    /// Buffers for [`BATCH`] datagrams (2 MiB of address space, touched only as far as the
    /// datagrams reach).
    pub fn new() -> RecvBatch {
        RecvBatch {
            buffers: vec![0u8; BATCH * DATAGRAM_MAX],
            received: Vec::with_capacity(BATCH),
        }
    }

    /// Datagrams of the last read, in the order they arrived.
    pub fn datagrams(&self) -> impl Iterator<Item = Datagram<'_>> + '_ {
        self.received
            .iter()
            .zip(self.buffers.chunks(DATAGRAM_MAX))
            .map(|(&(len, from), buffer)| Datagram {
                from,
                bytes: buffer.get(..len).unwrap_or(buffer),
            })
    }

    /// Read up to `max` (at most [`BATCH`]) datagrams waiting on `socket`; how many were read.
    /// `Err` with [`io::ErrorKind::WouldBlock`] when none is waiting.
    pub fn fill(&mut self, socket: &UdpSocket, max: usize) -> io::Result<usize> {
        self.received.clear();
        let max = max.min(BATCH).min(self.buffers.len() / DATAGRAM_MAX);
        if max == 0 {
            return Ok(0);
        }
        sys::recv_batch(socket, &mut self.buffers, max, &mut self.received)?;
        Ok(self.received.len())
    }
}

/// A datagram waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The destination.
    pub to: SocketAddr,
    /// The payload.
    pub bytes: Vec<u8>,
}

/// What writing a send queue came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Datagrams the kernel took.
    pub sent: usize,
    /// Datagrams dropped: the socket's send buffer was full, or the kernel refused the one
    /// datagram (an unreachable destination, say).
    pub dropped: usize,
}

/// The datagrams waiting for one socket, in the order they were queued.
#[derive(Debug, Default)]
pub struct SendQueue {
    waiting: Vec<Outgoing>,
}

impl SendQueue {
    /// Queue a datagram; the caller writes the queue out once it [`is_full`](Self::is_full).
    pub fn push(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.waiting.push(Outgoing { to, bytes });
    }

    /// Nothing waits.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Holds [`BATCH`] datagrams: write it out before queueing more.
    pub fn is_full(&self) -> bool {
        self.waiting.len() >= BATCH
    }

    /// Write every waiting datagram on `socket`, in order, and empty the queue: what the
    /// kernel does not take at once is dropped (see the module documentation).
    pub fn flush(&mut self, socket: &UdpSocket) -> Flushed {
        self.flush_with(|chunk| sys::send_batch(socket, chunk))
    }

    /// [`flush`](Self::flush) with the system call given: `send` writes a chunk of at most
    /// [`BATCH`] datagrams and says how many it took, as `sendmmsg` does.
    fn flush_with(&mut self, mut send: impl FnMut(&[Outgoing]) -> io::Result<usize>) -> Flushed {
        let mut flushed = Flushed::default();
        let mut start = 0;
        while let Some(rest) = self.waiting.get(start..).filter(|r| !r.is_empty()) {
            let chunk = rest.get(..BATCH).unwrap_or(rest);
            match send(chunk) {
                Ok(0) => {
                    // Not a documented outcome of sendmmsg; never loop on it.
                    flushed.dropped += 1;
                    start += 1;
                }
                Ok(sent) => {
                    let sent = sent.min(chunk.len());
                    flushed.sent += sent;
                    start += sent;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The send buffer is full: the rest would not go either.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    flushed.dropped += rest.len();
                    break;
                }
                // This one datagram was refused; the next ones may well go.
                Err(_) => {
                    flushed.dropped += 1;
                    start += 1;
                }
            }
        }
        self.waiting.clear();
        flushed
    }
}

#[cfg(target_os = "linux")]
mod sys {
    //! `recvmmsg` and `sendmmsg`.

    use std::io;
    use std::mem::{size_of, zeroed};
    use std::net::SocketAddr;
    use std::os::fd::AsRawFd;

    use mio::net::UdpSocket;
    use socket2::SockAddr;

    use super::{Outgoing, BATCH, DATAGRAM_MAX};

    /// Read up to `max` datagrams into `buffers` (`max` slots of [`DATAGRAM_MAX`] bytes),
    /// appending their length and source to `received`.
    pub fn recv_batch(
        socket: &UdpSocket,
        buffers: &mut [u8],
        max: usize,
        received: &mut Vec<(usize, SocketAddr)>,
    ) -> io::Result<()> {
        let max = max.min(BATCH).min(buffers.len() / DATAGRAM_MAX);
        // SAFETY: all-zero bytes are a valid sockaddr_storage (family AF_UNSPEC).
        let mut sources: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        // SAFETY: all-zero bytes are a valid iovec (a null pointer and length 0).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: all-zero bytes are a valid mmsghdr (null pointers and lengths 0).
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (((buffer, iov), header), source) in buffers
            .chunks_mut(DATAGRAM_MAX)
            .zip(iovecs.iter_mut())
            .zip(headers.iter_mut())
            .zip(sources.iter_mut())
            .take(max)
        {
            iov.iov_base = buffer.as_mut_ptr().cast();
            iov.iov_len = buffer.len();
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_name = (source as *mut libc::sockaddr_storage).cast();
            header.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        }
        // SAFETY: the first `max` headers point at live, writable buffers of the lengths
        // given and at address storage of the size given, all of which outlive the call;
        // `max` is at most BATCH, the length of `headers`. MSG_DONTWAIT: never block, whatever
        // the socket's mode.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                max as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        for (header, source) in headers.iter().zip(sources.iter()).take(n.min(max)) {
            // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes (at most the
            // storage's size, which it was told) into this storage.
            let from = unsafe { SockAddr::new(*source, header.msg_hdr.msg_namelen) };
            let len = (header.msg_len as usize).min(DATAGRAM_MAX);
            // A UDP socket's datagrams always carry an IPv4 or IPv6 source.
            if let Some(from) = from.as_socket() {
                received.push((len, from));
            }
        }
        Ok(())
    }

    /// Write `datagrams` (at most [`BATCH`]) with one call; how many the kernel took (it
    /// stops at the first it does not take).
    pub fn send_batch(socket: &UdpSocket, datagrams: &[Outgoing]) -> io::Result<usize> {
        let count = datagrams.len().min(BATCH);
        let destinations: Vec<SockAddr> = datagrams
            .iter()
            .take(count)
            .map(|d| SockAddr::from(d.to))
            .collect();
        // SAFETY: all-zero bytes are a valid iovec (a null pointer and length 0).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        // SAFETY: all-zero bytes are a valid mmsghdr (null pointers and lengths 0).
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (((datagram, to), iov), header) in datagrams
            .iter()
            .zip(destinations.iter())
            .zip(iovecs.iter_mut())
            .zip(headers.iter_mut())
        {
            // sendmmsg only reads the payload: the pointer is *mut in the C struct only.
            iov.iov_base = datagram.bytes.as_ptr().cast_mut().cast();
            iov.iov_len = datagram.bytes.len();
            header.msg_hdr.msg_iov = iov;
            header.msg_hdr.msg_iovlen = 1;
            header.msg_hdr.msg_name = to.as_ptr().cast_mut().cast();
            header.msg_hdr.msg_namelen = to.len();
        }
        // SAFETY: the first `count` headers point at the payloads and destination addresses
        // of `datagrams`, which outlive the call and which the kernel only reads; `count` is
        // at most BATCH, the length of `headers`.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        usize::try_from(n).map_err(|_| io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    //! One `recv_from` / `send_to` per datagram, with the outcomes of the Linux calls.

    use std::io;
    use std::net::SocketAddr;

    use mio::net::UdpSocket;

    use super::{Outgoing, BATCH, DATAGRAM_MAX};

    pub fn recv_batch(
        socket: &UdpSocket,
        buffers: &mut [u8],
        max: usize,
        received: &mut Vec<(usize, SocketAddr)>,
    ) -> io::Result<()> {
        for buffer in buffers.chunks_mut(DATAGRAM_MAX).take(max.min(BATCH)) {
            match socket.recv_from(buffer) {
                Ok((len, from)) => received.push((len, from)),
                // As recvmmsg: an error after some datagrams waits for the next call.
                Err(_) if !received.is_empty() => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub fn send_batch(socket: &UdpSocket, datagrams: &[Outgoing]) -> io::Result<usize> {
        let mut sent = 0;
        for d in datagrams.iter().take(BATCH) {
            match socket.send_to(&d.bytes, d.to) {
                Ok(_) => sent += 1,
                // As sendmmsg: an error after some datagrams waits for the next call.
                Err(_) if sent > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, UdpSocket) {
        let any = "127.0.0.1:0".parse().unwrap();
        (UdpSocket::bind(any).unwrap(), UdpSocket::bind(any).unwrap())
    }

    /// Read until `want` datagrams came (loopback delivers at once, but give it a moment).
    fn read_all(socket: &UdpSocket, batch: &mut RecvBatch, want: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        for _ in 0..1000 {
            match batch.fill(socket, BATCH) {
                Ok(_) => got.extend(batch.datagrams().map(|d| d.bytes.to_vec())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if got.len() >= want {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(e) => panic!("{e}"),
            }
        }
        got
    }

    #[test]
    fn more_than_a_batch_goes_out_and_comes_in_whole_and_in_order() {
        let (a, b) = pair();
        let to = b.local_addr().unwrap();
        let mut queue = SendQueue::default();
        let count = 3 * BATCH + 5;
        for i in 0..count {
            // Sizes from 1 to 701 bytes (the burst must fit the receiver's default buffer),
            // each datagram numbered.
            let mut bytes = vec![(i % 251) as u8; 1 + i * 7];
            bytes[0] = i as u8;
            queue.push(to, bytes);
        }
        let flushed = queue.flush(&a);
        assert_eq!(
            flushed,
            Flushed {
                sent: count,
                dropped: 0
            }
        );
        assert!(queue.is_empty());
        let mut batch = RecvBatch::new();
        let got = read_all(&b, &mut batch, count);
        assert_eq!(got.len(), count);
        for (i, bytes) in got.iter().enumerate() {
            assert_eq!(bytes.len(), 1 + i * 7, "datagram {i}");
            assert_eq!(bytes[0], i as u8, "datagram {i} out of order");
        }
    }

    #[test]
    fn a_read_takes_at_most_what_it_is_allowed() {
        let (a, b) = pair();
        let to = b.local_addr().unwrap();
        for i in 0..10u8 {
            a.send_to(&[i], to).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let mut batch = RecvBatch::new();
        assert_eq!(batch.fill(&b, 4).unwrap(), 4);
        let firsts: Vec<u8> = batch.datagrams().map(|d| d.bytes[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 3]);
        assert!(batch.datagrams().all(|d| d.from == a.local_addr().unwrap()));
        assert_eq!(batch.fill(&b, BATCH).unwrap(), 6);
        let err = batch.fill(&b, BATCH).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert_eq!(batch.datagrams().count(), 0);
    }

    /// A sender that takes `takes[i]` datagrams at its i-th call (`None`: fails with `error`),
    /// recording the first byte of each datagram it took.
    fn scripted(
        takes: Vec<Option<usize>>,
        error: io::ErrorKind,
        taken: &mut Vec<u8>,
    ) -> impl FnMut(&[Outgoing]) -> io::Result<usize> + '_ {
        let mut calls = takes.into_iter();
        move |chunk: &[Outgoing]| match calls.next().flatten() {
            Some(n) => {
                let n = n.min(chunk.len());
                taken.extend(chunk.iter().take(n).map(|d| d.bytes[0]));
                Ok(n)
            }
            None => Err(io::Error::from(error)),
        }
    }

    fn numbered(count: usize) -> SendQueue {
        let to = "127.0.0.1:9".parse().unwrap();
        let mut queue = SendQueue::default();
        for i in 0..count {
            queue.push(to, vec![i as u8]);
        }
        queue
    }

    #[test]
    fn a_full_send_buffer_drops_and_counts_the_rest() {
        // sendmmsg takes 5 of the first 32, then the send buffer is full (EAGAIN).
        let mut queue = numbered(BATCH + 8);
        let mut taken = Vec::new();
        let f = queue.flush_with(scripted(
            vec![Some(5), None],
            io::ErrorKind::WouldBlock,
            &mut taken,
        ));
        assert_eq!(
            f,
            Flushed {
                sent: 5,
                dropped: BATCH + 3
            }
        );
        assert_eq!(taken, [0, 1, 2, 3, 4]);
        assert!(queue.is_empty(), "nothing stays queued");
    }

    #[test]
    fn a_refused_datagram_is_dropped_and_the_rest_still_go() {
        let mut queue = numbered(10);
        let mut taken = Vec::new();
        let f = queue.flush_with(scripted(
            vec![Some(3), None, Some(10)],
            io::ErrorKind::PermissionDenied,
            &mut taken,
        ));
        assert_eq!(
            f,
            Flushed {
                sent: 9,
                dropped: 1
            }
        );
        assert_eq!(taken, [0, 1, 2, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn the_kernel_stops_a_batch_at_a_datagram_it_refuses() {
        // An IPv6 destination on an IPv4 socket fails (EAFNOSUPPORT) in the middle of a batch:
        // sendmmsg returns the count before it, the next call fails on it alone, and the
        // datagrams after it are still sent, in order.
        let (a, b) = pair();
        let to = b.local_addr().unwrap();
        let mut queue = SendQueue::default();
        for i in 0..20u8 {
            let dest = if i == 7 {
                "[::1]:9".parse().unwrap()
            } else {
                to
            };
            queue.push(dest, vec![i]);
        }
        assert_eq!(
            queue.flush(&a),
            Flushed {
                sent: 19,
                dropped: 1
            }
        );
        let mut batch = RecvBatch::new();
        let got: Vec<u8> = read_all(&b, &mut batch, 19).iter().map(|d| d[0]).collect();
        let want: Vec<u8> = (0..20).filter(|i| *i != 7).collect();
        assert_eq!(got, want);
    }
}
