//! Small captures written byte by byte in the test, read back through the public API.

mod common;

use common::*;
use turnscope::capture::{
    CaptureError, CaptureFile, CaptureFormat, Event, Framing, ProblemKind, TcpControl, Transport,
    UnreachableKind,
};

fn all(f: &CaptureFile) -> Vec<Event<'_>> {
    f.events().flatten().collect()
}

fn payloads<'e>(ev: &'e [Event<'_>]) -> Vec<(u32, Framing, &'e [u8])> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Payload(p) => Some((p.frame, p.framing, &p.data[..])),
            _ => None,
        })
        .collect()
}

fn problems(ev: &[Event<'_>]) -> Vec<ProblemKind> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Problem(p) => Some(p.kind.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn pcapng_two_interfaces_resolutions() {
    let bytes = pcapng_two_interfaces();
    let f = CaptureFile::from_bytes("two.pcapng".into(), bytes).unwrap();
    assert_eq!(f.format(), CaptureFormat::PcapNg);
    assert_eq!(f.link_types(), &[1, 276]);
    assert_eq!(f.frame_count(), 3);
    let ev = all(&f);
    let got: Vec<(u32, i64, &[u8])> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Payload(p) => Some((p.frame, p.ts.0, &p.data[..])),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        vec![
            // interface 0: default microseconds
            (1, 1_700_000_000_123_456_000, &b"eth-us"[..]),
            // interface 1: if_tsresol = 9, nanoseconds, SLL2
            (2, 1_700_000_000_123_456_789, &b"sll2-ns"[..]),
            // interface 0 again
            (3, 1_700_000_001_000_001_000, &b"eth-2"[..]),
        ]
    );
    let stats = f.stats();
    assert_eq!(stats.frames, 3);
    assert_eq!(stats.link_types.get(&1), Some(&2));
    assert_eq!(stats.link_types.get(&276), Some(&1));
}

#[test]
fn pcapng_power_of_two_resolution_and_offset() {
    let udp = ipv4_udp([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, b"x");
    let mut b = shb();
    // if_tsresol = 2^-10 s, if_tsoffset = 100 s
    b.extend(idb(
        101,
        &[(9, vec![0x8a]), (14, 100u64.to_le_bytes().to_vec())],
    ));
    b.extend(epb(0, 3 * 1024 + 512, &udp)); // 3.5 s
    let f = CaptureFile::from_bytes("p2.pcapng".into(), b).unwrap();
    let ev = all(&f);
    let Event::Payload(p) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(p.ts.0, 103_500_000_000);
}

#[test]
fn sll2_linux_any() {
    let pkt = sll2(
        0x0800,
        &ipv4_udp([192, 0, 2, 1], 3478, [192, 0, 2, 9], 50000, b"hi"),
    );
    let f = CaptureFile::from_bytes("any.pcap".into(), pcap_le(276, &[(5, 6, &pkt)])).unwrap();
    let ev = all(&f);
    assert_eq!(payloads(&ev), vec![(1, Framing::Datagram, &b"hi"[..])]);
}

#[test]
fn big_endian_nanosecond_pcap() {
    let pkt = eth(0x0800, &ipv4_udp([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, b"be"));
    let f = CaptureFile::from_bytes("be.pcap".into(), pcap_be_ns(1, &[(7, 999_999_999, &pkt)]))
        .unwrap();
    assert_eq!(
        f.format(),
        CaptureFormat::Pcap {
            nanosecond: true,
            big_endian: true,
            modified: false
        }
    );
    let ev = all(&f);
    let Event::Payload(p) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(p.ts.0, 7_999_999_999);
    assert_eq!(&p.data[..], b"be");
}

#[test]
fn ipv4_fragments_out_of_order() {
    let msg = stun(0x0001, 64, 0x5a);
    let f = CaptureFile::from_bytes("frag4.pcap".into(), ipv4_fragments_capture(&msg)).unwrap();
    let ev = all(&f);
    let p = payloads(&ev);
    assert_eq!(p.len(), 1, "{ev:?}");
    // Completed by the third frame; the fourth (unrelated, never completed) is reported.
    assert_eq!(p[0].0, 3);
    assert_eq!(p[0].2, &msg[..]);
    let pr = problems(&ev);
    assert!(
        matches!(pr[..], [ProblemKind::IncompleteFragments { id: 99, .. }]),
        "{pr:?}"
    );
}

#[test]
fn ipv6_fragment() {
    let msg = stun(0x0101, 40, 0x11);
    let f = CaptureFile::from_bytes("frag6.pcap".into(), ipv6_fragments_capture(&msg)).unwrap();
    let ev = all(&f);
    let p = payloads(&ev);
    assert_eq!(p.len(), 1, "{ev:?}");
    assert_eq!(p[0].0, 2);
    assert_eq!(p[0].2, &msg[..]);
    let Event::Payload(pl) = &ev[0] else { panic!() };
    assert_eq!(pl.src.to_string(), "[2001:db8::1]:5000");
    assert!(problems(&ev).is_empty());
}

#[test]
fn tcp_reassembly_end_to_end() {
    let (bytes, msgs) = tcp_capture();
    let f = CaptureFile::from_bytes("tcp.pcap".into(), bytes).unwrap();
    let ev = all(&f);
    let framed: Vec<&[u8]> = payloads(&ev)
        .into_iter()
        .filter(|(_, fr, _)| *fr == Framing::Stream)
        .map(|(_, _, d)| d)
        .collect();
    // msgs[3] is lost: a gap, then resync on msgs[4].
    let want: Vec<&[u8]> = vec![&msgs[0], &msgs[1], &msgs[2], &msgs[4], &msgs[5]];
    assert_eq!(framed, want);
    assert_eq!(msgs[2].len() % 4, 0, "ChannelData padded");
    let pr = problems(&ev);
    assert!(
        matches!(&pr[..], [ProblemKind::TcpGap { missing, .. }] if *missing == msgs[3].len() as u64),
        "{pr:?}"
    );
    let controls: Vec<TcpControl> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Tcp { control, .. } => Some(*control),
            _ => None,
        })
        .collect();
    assert_eq!(
        controls,
        vec![TcpControl::Syn, TcpControl::SynAck, TcpControl::Fin]
    );
    for e in &ev {
        if let Event::Payload(p) = e {
            assert_eq!(p.transport, Transport::Tcp);
        }
    }
}

#[test]
fn rfc4571_ice_tcp() {
    let a = stun(0x0001, 8, 1);
    let b = stun(0x0101, 12, 2);
    let f = CaptureFile::from_bytes("ice.pcap".into(), rfc4571_capture(&a, &b)).unwrap();
    let ev = all(&f);
    assert_eq!(
        payloads(&ev),
        vec![(2, Framing::Rfc4571, &a[..]), (3, Framing::Rfc4571, &b[..])]
    );
}

#[test]
fn tls_client_hello_and_server_alert() {
    let f = CaptureFile::from_bytes("tls.pcap".into(), tls_capture("turn.example.org")).unwrap();
    let ev = all(&f);
    assert!(payloads(&ev).is_empty(), "{ev:?}");
    let tls: Vec<String> = ev
        .iter()
        .filter_map(|e| match e {
            Event::TlsClientHello { frame, sni, .. } => Some(format!("{frame} hello {sni:?}")),
            Event::TlsServer { frame, alert, .. } => Some(format!("{frame} server {alert:?}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        tls,
        vec!["2 hello Some(\"turn.example.org\")", "3 server Some(40)"]
    );
}

#[test]
fn icmp_port_unreachable() {
    let msg = stun(0x0001, 0, 3);
    let f = CaptureFile::from_bytes("icmp.pcap".into(), icmp_capture(&msg)).unwrap();
    let ev = all(&f);
    assert!(payloads(&ev).is_empty(), "{ev:?}");
    let [Event::Unreachable {
        frame,
        reporter,
        kind,
        quoted_transport,
        quoted_src,
        quoted_dst,
        quoted_payload,
        ..
    }] = &ev[..]
    else {
        panic!("{ev:?}")
    };
    assert_eq!(*frame, 1);
    assert_eq!(reporter.to_string(), "198.51.100.1");
    assert_eq!(*kind, UnreachableKind::Port);
    assert_eq!(*quoted_transport, Transport::Udp);
    assert_eq!(quoted_src.to_string(), "192.0.2.1:40000");
    assert_eq!(quoted_dst.to_string(), "198.51.100.1:3478");
    assert_eq!(*quoted_payload, &msg[..]);
}

#[test]
fn truncated_file_keeps_what_is_there() {
    let mut b = udp_capture(5);
    b.truncate(b.len() - 7);
    let f = CaptureFile::from_bytes("cut.pcap".into(), b).unwrap();
    assert_eq!(f.frame_count(), 4);
    let ev = all(&f);
    assert_eq!(payloads(&ev).len(), 4);
    let pr = problems(&ev);
    assert!(matches!(&pr[..], [ProblemKind::TruncatedFile(_)]), "{pr:?}");
    // Every prefix of the file reads without panicking.
    let full = udp_capture(5);
    for n in 0..full.len() {
        if let Ok(f) = CaptureFile::from_bytes("p".into(), full[..n].to_vec()) {
            let _ = f.events().count();
        }
    }
}

#[test]
fn unknown_link_type_reported_once_and_frames_counted() {
    let pkt = ipv4_udp([10, 0, 0, 1], 1, [10, 0, 0, 2], 2, b"x");
    let mut b = shb();
    b.extend(idb(147, &[]));
    b.extend(idb(101, &[]));
    b.extend(epb(0, 1, b"opaque"));
    b.extend(epb(0, 2, b"opaque"));
    b.extend(epb(1, 3, &pkt));
    b.extend(epb(7, 4, &pkt)); // undeclared interface: still frame 4
    b.extend(epb(1, 5, &pkt));
    let f = CaptureFile::from_bytes("u.pcapng".into(), b).unwrap();
    assert_eq!(f.frame_count(), 5);
    let ev = all(&f);
    let frames: Vec<u32> = payloads(&ev).iter().map(|p| p.0).collect();
    assert_eq!(frames, vec![3, 5]);
    let pr = problems(&ev);
    assert_eq!(pr.len(), 2, "{pr:?}");
    assert_eq!(pr[0], ProblemKind::UnknownLinkType(147));
}

#[test]
fn batch_size_does_not_change_events() {
    let (tcp, _) = tcp_capture();
    for bytes in [
        tcp,
        udp_capture(50),
        ipv4_fragments_capture(&stun(1, 200, 1)),
    ] {
        let f = CaptureFile::from_bytes("b".into(), bytes).unwrap();
        let one: Vec<String> = f
            .events_batched(1)
            .flatten()
            .map(|e| format!("{e:?}"))
            .collect();
        let big: Vec<String> = f.events().flatten().map(|e| format!("{e:?}")).collect();
        assert_eq!(one, big);
    }
}

#[test]
fn udp_payloads_borrow_from_the_capture() {
    let f = CaptureFile::from_bytes("b".into(), udp_capture(3)).unwrap();
    for ev in f.events().flatten() {
        if let Event::Payload(p) = ev {
            assert!(matches!(p.data, std::borrow::Cow::Borrowed(_)));
        }
    }
}

#[test]
fn errors_name_the_file() {
    let e = CaptureFile::from_bytes("notes.txt".into(), b"hello world".to_vec()).unwrap_err();
    assert!(matches!(e, CaptureError::NotACapture { .. }));
    assert!(e.to_string().starts_with("notes.txt:"), "{e}");
    let e = turnscope::capture::open(std::path::Path::new("/nonexistent/x.pcap")).unwrap_err();
    assert!(matches!(e, CaptureError::Io { .. }), "{e}");
}

#[test]
fn open_maps_a_file() {
    let dir = std::env::temp_dir().join(format!("turnscope-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.cap");
    std::fs::write(&path, udp_capture(2)).unwrap();
    let f = turnscope::capture::open(&path).unwrap();
    assert_eq!(f.frame_count(), 2);
    assert_eq!(f.name(), path.display().to_string());
    std::fs::remove_dir_all(&dir).ok();
}

/// Writes the synthetic captures as the fuzz seed corpus when asked:
/// `TURNSCOPE_WRITE_CORPUS=1 cargo test --test capture_synthetic write_seed_corpus`.
#[test]
fn write_seed_corpus() {
    if std::env::var_os("TURNSCOPE_WRITE_CORPUS").is_none() {
        return;
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/capture_file");
    std::fs::create_dir_all(&dir).unwrap();
    let a = stun(0x0001, 8, 1);
    let b = stun(0x0101, 12, 2);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("pcapng_two_interfaces", pcapng_two_interfaces()),
        ("udp", udp_capture(3)),
        ("tcp", tcp_capture().0),
        ("rfc4571", rfc4571_capture(&a, &b)),
        ("tls", tls_capture("a.example")),
        ("icmp", icmp_capture(&a)),
        ("frag4", ipv4_fragments_capture(&stun(1, 64, 1))),
        ("frag6", ipv6_fragments_capture(&stun(1, 40, 1))),
        (
            "be_ns",
            pcap_be_ns(
                1,
                &[(1, 2, &eth(0x0800, &ipv4_udp([1; 4], 1, [2; 4], 2, &a)))],
            ),
        ),
    ];
    for (name, bytes) in seeds {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

#[test]
fn types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<CaptureFile>();
    send::<turnscope::capture::Events<'static>>();
    send::<Event<'static>>();
}
