//! Write a synthetic Expressway-E diagnostic bundle for the streaming benchmark (README,
//! Performance): a `.tar.gz` laid out as the admin guide documents it, with two interfaces'
//! tcpdumps (eth0 = LAN1, eth1 = LAN2) rotated into pieces, a loggingsnapshot, an xconf and an
//! xstat dump. The traffic is WebRTC over TURN as in `shared/lab/synth-pcap.py`: per call an
//! Allocate challenge and success, then 1000-3000 ChannelData carrying random
//! (incompressible, like SRTP) payloads of 100-1200 bytes, with an ICE check and its answer
//! every MEDIA_PER_CHECK media packets. Nothing here is committed data; the bundle is written
//! where asked.
//!
//!     cargo run --release --example make_bundle -- OUT.tar.gz SIZE_MB [PIECE_MB [MEDIA_PER_CHECK]]
//!
//! SIZE_MB is the size of all captures together (the bundle is about as large: the payloads
//! do not compress); PIECE_MB (default 20) the rotation size; MEDIA_PER_CHECK (default 1000:
//! RFC 7675 consent checks every 5 s of a 200 packets/s call; `synth-pcap.py` uses 50, which
//! makes twenty times the STUN messages per gigabyte).

use std::fs::File;
use std::io::{self, BufWriter, Write};

/// xorshift64*: fast, reproducible bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, b: &mut [u8]) {
        for chunk in b.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn attr(out: &mut Vec<u8>, t: u16, v: &[u8]) {
    out.extend_from_slice(&t.to_be_bytes());
    out.extend_from_slice(&(v.len() as u16).to_be_bytes());
    out.extend_from_slice(v);
    out.extend(std::iter::repeat_n(0, (4 - v.len() % 4) % 4));
}

fn stun(ty: u16, txid: &[u8; 12], attrs: &[u8]) -> Vec<u8> {
    let mut m = ty.to_be_bytes().to_vec();
    m.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    m.extend_from_slice(&0x2112_a442u32.to_be_bytes());
    m.extend_from_slice(txid);
    m.extend_from_slice(attrs);
    m
}

fn xor_addr(ip: [u8; 4], port: u16) -> Vec<u8> {
    let mut v = vec![0, 1];
    v.extend_from_slice(&(port ^ 0x2112).to_be_bytes());
    for (b, m) in ip.iter().zip([0x21, 0x12, 0xa4, 0x42]) {
        v.push(b ^ m);
    }
    v
}

/// One Ethernet/IPv4/UDP frame.
fn frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0];
    let total = (28 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Pieces of one interface's tcpdump, written as they fill.
struct Pieces {
    interface: u32,
    piece_bytes: usize,
    current: Vec<u8>,
    done: Vec<Vec<u8>>,
    ts_us: u64,
}

impl Pieces {
    fn header() -> Vec<u8> {
        let mut h = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&262_144u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        h
    }

    fn put(&mut self, rng: &mut Rng, f: &[u8]) {
        if self.current.len() + f.len() + 16 > self.piece_bytes {
            let full = std::mem::replace(&mut self.current, Pieces::header());
            self.done.push(full);
        }
        self.ts_us += rng.range(100, 2000);
        let (sec, usec) = (
            (self.ts_us / 1_000_000) as u32,
            (self.ts_us % 1_000_000) as u32,
        );
        for v in [sec, usec, f.len() as u32, f.len() as u32] {
            self.current.extend_from_slice(&v.to_le_bytes());
        }
        self.current.extend_from_slice(f);
    }
}

const HOST: &str = "expe1";
const STAMP: &str = "2026-11-29_10-00-00";

/// One call on one interface: allocation, permission, channel, media with ICE checks.
fn call(rng: &mut Rng, p: &mut Pieces, n: u64, per_check: u64, log: &mut String) {
    let server = if p.interface == 0 {
        [172, 16, 85, 168]
    } else {
        [172, 16, 245, 61]
    };
    let client = [192, 0, 2, (1 + n % 250) as u8];
    let cport = 40000 + (n % 20000) as u16;
    let relay_port = 24000 + (n % 6000) as u16;
    let peer = [203, 0, 113, (1 + n % 250) as u8];
    let pport = 50000 + (n % 10000) as u16;
    let mut txid = [0u8; 12];
    let to_server = |rng: &mut Rng, p: &mut Pieces, m: &[u8]| {
        p.put(rng, &frame(client, cport, server, 3478, m))
    };
    rng.fill(&mut txid);
    let mut a = Vec::new();
    attr(&mut a, 0x0019, &[17, 0, 0, 0]);
    to_server(rng, p, &stun(0x0003, &txid, &a));
    let mut e = Vec::new();
    attr(&mut e, 0x0009, b"\0\0\x04\x01Unauthorized");
    attr(&mut e, 0x0014, b"TANDBERG");
    attr(&mut e, 0x0015, b"0123456789abcdef");
    p.put(
        rng,
        &frame(server, 3478, client, cport, &stun(0x0113, &txid, &e)),
    );
    rng.fill(&mut txid);
    attr(&mut a, 0x0006, b"turnuser");
    attr(&mut a, 0x0014, b"TANDBERG");
    attr(&mut a, 0x0015, b"0123456789abcdef");
    let mut mac = [0u8; 20];
    rng.fill(&mut mac);
    attr(&mut a, 0x0008, &mac);
    to_server(rng, p, &stun(0x0003, &txid, &a));
    let mut ok = Vec::new();
    attr(&mut ok, 0x0016, &xor_addr(server, relay_port));
    attr(&mut ok, 0x0020, &xor_addr(client, cport));
    attr(&mut ok, 0x000d, &600u32.to_be_bytes());
    p.put(
        rng,
        &frame(server, 3478, client, cport, &stun(0x0103, &txid, &ok)),
    );
    log.push_str(&format!(
        "2026-11-29T11:00:00.000+01:00 {HOST} tvcs: UTCTime=\"2026-11-29 10:00:00,000\" \
         Module=\"network.mediarouting\" Level=\"DEBUG\": Detail=\"Route: Creating: Packets Rxd on \
         {}.{}.{}.{}:3478 Txd on {}.{}.{}.{}:{relay_port}\"\n",
        server[0], server[1], server[2], server[3], server[0], server[1], server[2], server[3]
    ));
    let chan = 0x4000 + (n % 0x0fff) as u16;
    let mut payload = vec![0u8; 1300];
    let media = rng.range(1000, 3000);
    for _ in 0..media.div_ceil(per_check) {
        rng.fill(&mut txid);
        let mut ice = Vec::new();
        attr(&mut ice, 0x0006, b"abcd:efgh");
        attr(&mut ice, 0x0024, &(rng.next() as u32 >> 1).to_be_bytes());
        p.put(
            rng,
            &frame(peer, pport, server, relay_port, &stun(0x0001, &txid, &ice)),
        );
        let mut r = Vec::new();
        attr(&mut r, 0x0020, &xor_addr(peer, pport));
        p.put(
            rng,
            &frame(server, relay_port, peer, pport, &stun(0x0101, &txid, &r)),
        );
        for _ in 0..per_check.min(media) {
            let len = rng.range(100, 1200) as usize;
            let mut d = chan.to_be_bytes().to_vec();
            d.extend_from_slice(&(len as u16).to_be_bytes());
            rng.fill(&mut payload[..len]);
            payload[0] = 0x80;
            d.extend_from_slice(&payload[..len]);
            if rng.next().is_multiple_of(2) {
                to_server(rng, p, &d);
            } else {
                p.put(rng, &frame(server, 3478, client, cport, &d));
            }
        }
    }
}

fn documents(log: String) -> Vec<(String, Vec<u8>)> {
    let xconf = "*c xConfiguration Traversal Server TURN Mode: On\n\
        *c xConfiguration Traversal Server TURN Port: 3478\n\
        *c xConfiguration Traversal Server TURN Realm: \"TANDBERG\"\n\
        *c xConfiguration Traversal Server TURN Media Port Start: 24000\n\
        *c xConfiguration Traversal Server TURN Media Port End: 29999\n\
        *c xConfiguration Ethernet 1 IP V4 Address: \"172.16.85.168\"\n\
        *c xConfiguration Ethernet 2 IP V4 Address: \"172.16.245.61\"\n\
        *c xConfiguration Ethernet 2 IP V4 StaticNAT Mode: On\n\
        *c xConfiguration Ethernet 2 IP V4 StaticNAT Address: \"198.51.100.10\"\n";
    let xstat = "*s SystemUnit Software Version: \"X14.3.1\"\n\
        *s Options Option 1 Description: \"1800 TURN Relays\"\n";
    vec![
        (
            format!("loggingsnapshot_{HOST}_{STAMP}.txt"),
            log.into_bytes(),
        ),
        (
            format!("xconf_dump_{HOST}_{STAMP}.txt"),
            xconf.as_bytes().to_vec(),
        ),
        (
            format!("xstat_dump_{HOST}_{STAMP}.txt"),
            xstat.as_bytes().to_vec(),
        ),
    ]
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(out), Some(size)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: make_bundle OUT.tar.gz SIZE_MB [PIECE_MB [MEDIA_PER_CHECK]]");
        std::process::exit(2);
    };
    let piece_mb: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let per_check: u64 = args
        .get(4)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000)
        .max(1);
    let gz = flate2::write::GzEncoder::new(
        BufWriter::with_capacity(1 << 20, File::create(out)?),
        flate2::Compression::default(),
    );
    let mut tar = tar::Builder::new(gz);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut log = String::new();
    let per_interface = (size << 20) / 2;
    for interface in 0..2u32 {
        let mut p = Pieces {
            interface,
            piece_bytes: piece_mb << 20,
            current: Pieces::header(),
            done: Vec::new(),
            ts_us: 1_795_000_000_000_000,
        };
        let (mut n, mut index, mut written) = (0, 0, 0u64);
        while written < per_interface {
            call(&mut rng, &mut p, n, per_check, &mut log);
            n += 1;
            // Write pieces as they fill, to keep memory at one piece.
            for piece in p.done.drain(..) {
                written += piece.len() as u64;
                append(&mut tar, &piece_name(interface, index), &piece)?;
                index += 1;
            }
        }
        let last = std::mem::take(&mut p.current);
        append(&mut tar, &piece_name(interface, index), &last)?;
    }
    for (name, bytes) in documents(log) {
        append(&mut tar, &name, &bytes)?;
    }
    tar.into_inner()?.finish()?.flush()?;
    Ok(())
}

fn piece_name(interface: u32, index: u32) -> String {
    format!("eth{interface}_diagnostic_logging_tcpdump{index:02}_{HOST}_{STAMP}.pcap")
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_795_000_000);
    h.set_cksum();
    tar.append_data(&mut h, name, bytes)
}
