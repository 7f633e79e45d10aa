//! Generators of hostile-size inputs for `analyze` (shared by `examples/gen_case.rs` and the
//! `analyze_scale` bench; not part of the library):
//!
//! - [`bundle`]: a diagnostic bundle (tar.gz) of many small captures, in client/server pairs:
//!   the client side behind a NAT, the server side seeing the NAT's address, every exchange with
//!   its own transaction ids, addresses and time. Every tenth pair's client uses a wrong
//!   password (a rejected Allocate), every seventh pair's server capture misses the client's
//!   last request (an unanswered one), so roles, correlation and findings all have work to do.
//! - [`stun_dense`]: one capture dense with STUN: Allocate challenges, authenticated Allocates,
//!   Refreshes and Binding keep-alives from many client 5-tuples, a few retransmitted and
//!   unanswered, plus one 5-tuple flooding Binding requests. Written as it is made (streamed).

#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use turnscope::testsupport::{healthy_exchange, tid, Script, Turn};
use turnscope::wire::{attr, Class, MessageBuilder, Method, TransactionId};

const SERVER: &str = "198.51.100.10:3478";

/// One client/server pair of captures (`k`: the pair's number, distinct ids and addresses).
fn pair(k: u32) -> (Script, Script) {
    let password = if k % 10 == 9 { "wrong" } else { "cisco" };
    let mut t = Turn::new(&format!("user{}", k % 97), password, "TANDBERG");
    t.server_password = "cisco".into();
    let client = format!(
        "10.{}.{}.{}:{}",
        1 + k / 62500 % 200,
        k / 250 % 250,
        1 + k % 250,
        40000 + k % 20000
    );
    let mapped = format!("203.0.113.{}:{}", 1 + k % 250, 20000 + k % 40000);
    let relayed = format!("198.51.100.10:{}", 24000 + k % 6000);
    let peer = format!("192.0.2.{}:{}", 1 + k % 250, 30000 + k % 30000);
    let first = k * 16 + 1;
    let (mut c, mut s) = (Script::new(), Script::new());
    // The server capture's clock runs a little ahead, as two machines' clocks do.
    c.at(f64::from(k % 1000) * 10.0);
    s.at(f64::from(k % 1000) * 10.0 + 0.4);
    if password == "wrong" {
        for (script, from) in [(&mut c, &client), (&mut s, &mapped)] {
            script.udp(from, SERVER, t.allocate(tid(first)));
            script.after(20.0);
            script.udp(SERVER, from, t.challenge(Method::ALLOCATE, tid(first)));
            script.after(5.0);
            script.udp(from, SERVER, t.allocate_auth(tid(first + 1)));
            script.after(20.0);
            script.udp(
                SERVER,
                from,
                t.error(Method::ALLOCATE, tid(first + 1), 401, "Unauthorized"),
            );
        }
    } else {
        healthy_exchange(&mut c, &t, &client, SERVER, &mapped, &relayed, &peer, first);
        healthy_exchange(&mut s, &t, &mapped, SERVER, &mapped, &relayed, &peer, first);
    }
    // A Refresh the server capture never sees (blocked on the way in).
    if k % 7 == 3 {
        c.after(50.0);
        c.udp(&client, SERVER, t.refresh(tid(first + 9), 600));
        c.after(3000.0);
        c.udp(&client, SERVER, t.refresh(tid(first + 9), 600));
    }
    (c, s)
}

/// A tar.gz bundle of `n` small captures (`n / 2` client/server pairs, one more client
/// capture when `n` is odd).
pub fn bundle(n: usize) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |name: String, bytes: Vec<u8>| {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes.as_slice())
            .expect("append to an in-memory tar");
    };
    for k in 0..n.div_ceil(2) {
        let (c, s) = pair(k as u32);
        add(format!("case/client-{k:05}.pcap"), c.pcap());
        if 2 * k + 1 < n {
            add(format!("expe/tcpdump-{k:05}.pcap"), s.pcap());
        }
    }
    let tar = tar.into_inner().expect("finish an in-memory tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("gzip in memory");
    gz.finish().expect("gzip in memory")
}

/// A classic pcap (microseconds, Ethernet) written record by record.
struct PcapWriter<W: Write> {
    out: W,
    frames: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    fn new(mut out: W) -> std::io::Result<Self> {
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&[0; 8])?;
        out.write_all(&65535u32.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
        Ok(PcapWriter {
            out,
            frames: 0,
            bytes: 24,
        })
    }

    fn udp(
        &mut self,
        us: u64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let mut f = Vec::with_capacity(14 + ip_len);
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&(ip_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        f.extend_from_slice(&src.ip().octets());
        f.extend_from_slice(&dst.ip().octets());
        f.extend_from_slice(&src.port().to_be_bytes());
        f.extend_from_slice(&dst.port().to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        for x in [
            (us / 1_000_000) as u32,
            (us % 1_000_000) as u32,
            f.len() as u32,
            f.len() as u32,
        ] {
            self.out.write_all(&x.to_le_bytes())?;
        }
        self.out.write_all(&f)?;
        self.frames += 1;
        self.bytes += 16 + f.len() as u64;
        Ok(())
    }
}

fn dense_tid(n: u64) -> TransactionId {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&0xde75_e000u32.to_be_bytes());
    b[4..].copy_from_slice(&n.to_be_bytes());
    TransactionId::new(b)
}

/// The client 5-tuple number `i` (distinct addresses and ports).
fn dense_client(i: u32) -> SocketAddrV4 {
    let ip = Ipv4Addr::new(10, (i >> 16) as u8, (i >> 8) as u8, 1 + (i & 0x7f) as u8);
    SocketAddrV4::new(ip, 40000 + (i % 20000) as u16)
}

/// What [`stun_dense`] wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct DenseStats {
    pub frames: u64,
    pub bytes: u64,
    pub transactions: u64,
    pub tuples: u32,
}

/// Write a STUN-dense capture of about `target_mb` megabytes to `out`.
pub fn stun_dense(out: impl Write, target_mb: u64) -> std::io::Result<DenseStats> {
    let server = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 10), 3478);
    let mut w = PcapWriter::new(std::io::BufWriter::with_capacity(1 << 20, out))?;
    let target = target_mb * 1_000_000;
    let mut next_tx = 0u64;
    let mut us: u64 = 1_700_000_000_000_000;
    let mut stats = DenseStats::default();
    let software = "turnscope-gen 1.0";
    let mut i = 0u32;
    while w.bytes < target {
        // Every 64th round, the flooding 5-tuple sends a burst of Binding requests.
        if i % 64 == 63 {
            let flood = SocketAddrV4::new(Ipv4Addr::new(172, 16, 0, 9), 5000);
            for _ in 0..2000 {
                let id = dense_tid(next_tx);
                next_tx += 1;
                let rq = MessageBuilder::new(Method::BINDING, Class::Request, id).fingerprint();
                w.udp(us, flood, server, &rq)?;
                us += 50;
                let ok = MessageBuilder::new(Method::BINDING, Class::Success, id)
                    .xor_address(attr::XOR_MAPPED_ADDRESS, SocketAddr::V4(flood))
                    .software(software)
                    .fingerprint();
                w.udp(us, server, flood, &ok)?;
                us += 50;
                stats.transactions += 1;
            }
        }
        let client = dense_client(i);
        let t = Turn::new(&format!("user{}", i % 5000), "cisco", "TANDBERG");
        let id = dense_tid(next_tx);
        w.udp(us, client, server, &t.allocate(id))?;
        us += 100;
        w.udp(us, server, client, &t.challenge(Method::ALLOCATE, id))?;
        us += 100;
        let id = dense_tid(next_tx + 1);
        w.udp(us, client, server, &t.allocate_auth(id))?;
        us += 100;
        let relayed = SocketAddr::V4(SocketAddrV4::new(*server.ip(), 24000 + (i % 6000) as u16));
        w.udp(
            us,
            server,
            client,
            &t.allocate_ok(id, &relayed.to_string(), &client.to_string(), 600),
        )?;
        us += 100;
        next_tx += 2;
        stats.transactions += 2;
        // Keep-alives and refreshes on this 5-tuple; one in 16 clients loses its last answers.
        let lossy = i % 16 == 5;
        for j in 0..12u32 {
            let id = dense_tid(next_tx);
            next_tx += 1;
            stats.transactions += 1;
            let (rq, ok) = if j % 4 == 3 {
                (t.refresh(id, 600), t.ok(Method::REFRESH, id, Some(600)))
            } else {
                let rq = MessageBuilder::new(Method::BINDING, Class::Request, id).fingerprint();
                let ok = MessageBuilder::new(Method::BINDING, Class::Success, id)
                    .xor_address(attr::XOR_MAPPED_ADDRESS, SocketAddr::V4(client))
                    .software(software)
                    .fingerprint();
                (rq, ok)
            };
            w.udp(us, client, server, &rq)?;
            us += 100;
            if lossy && j >= 10 {
                us += 500_000;
                w.udp(us, client, server, &rq)?;
                us += 100;
                continue;
            }
            w.udp(us, server, client, &ok)?;
            us += 100;
        }
        i += 1;
    }
    w.out.flush()?;
    stats.frames = w.frames;
    stats.bytes = w.bytes;
    stats.tuples = i + 1;
    Ok(stats)
}

/// Write a capture of `n` client 5-tuples that differ only in the client's address (all from
/// source port 50000, as behind some NATs), each with one answered Binding request.
pub fn many_tuples(out: impl Write, n: u32) -> std::io::Result<DenseStats> {
    let server = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 10), 3478);
    let mut w = PcapWriter::new(std::io::BufWriter::with_capacity(1 << 20, out))?;
    let mut us: u64 = 1_700_000_000_000_000;
    for i in 0..n {
        let client = SocketAddrV4::new(Ipv4Addr::from(0x0a00_0000 | i), 50000);
        let id = dense_tid(u64::from(i));
        let rq = MessageBuilder::new(Method::BINDING, Class::Request, id).fingerprint();
        w.udp(us, client, server, &rq)?;
        us += 100;
        let ok = MessageBuilder::new(Method::BINDING, Class::Success, id)
            .xor_address(attr::XOR_MAPPED_ADDRESS, SocketAddr::V4(client))
            .fingerprint();
        w.udp(us, server, client, &ok)?;
        us += 100;
    }
    w.out.flush()?;
    Ok(DenseStats {
        frames: w.frames,
        bytes: w.bytes,
        transactions: u64::from(n),
        tuples: n,
    })
}
