//! The flows of a capture are the same whether STUN datagrams are summarised (and checked
//! against the credentials) in the walking threads (`OrderFree { stun: true, .. }`, what
//! `analyze` does) or filed one by one in frame order (`stun: false`), with and without
//! credentials, and whatever the stretch size.

mod common;

use std::path::Path;

use common::captures_under;

use turnscope::capture::{self, CaptureFile, ScanOptions, Scanned};
use turnscope::flow::{CaptureFlows, FlowOptions, Ingest, OrderFree};

fn flows(file: &CaptureFile, opts: &FlowOptions, stun: bool, stretch_bytes: usize) -> CaptureFlows {
    let mut ing = Ingest::new(file.name(), opts);
    let scan = ScanOptions {
        stretch_bytes,
        ..ScanOptions::default()
    };
    let order_free = OrderFree {
        stun,
        options: Some(opts),
    };
    let counts = file.scan_with(&order_free, scan, |s| match s {
        Scanned::Stretch {
            part,
            frame_base,
            events,
        } => ing.stretch(part, frame_base, &events),
        Scanned::Events(batch) => ing.events(&batch),
    });
    ing.set_frames(counts.frames);
    ing.finish()
}

/// Everything the diagnosis reads, with the maps in a fixed order.
fn dump(f: &CaptureFlows) -> String {
    fn sorted<T: std::fmt::Debug>(it: impl Iterator<Item = T>) -> Vec<String> {
        let mut v: Vec<String> = it.map(|x| format!("{x:?}")).collect();
        v.sort();
        v
    }
    format!(
        "frames {} max {} ts {:?}-{:?} stun {}\nmsgs {:?}\ntx {:?}\ntraffic {:?}\nsend {:?}\ndata {:?}\nchannels {:?}\ncarried {:?}\nrelayed {:?}\nallocations {:?}\nmalformed {:?}\nunreachable {:?}\ntcp {:?}\ntls {:?}\nproblems {:?}",
        f.frames,
        f.max_frame,
        f.first_ts,
        f.last_ts,
        f.stun_messages,
        f.msgs,
        f.transactions,
        sorted(f.traffic.iter()),
        sorted(f.send_ind.iter()),
        sorted(f.data_ind.iter()),
        sorted(f.channel_data.iter()),
        sorted(f.carried_stun.iter()),
        sorted(f.relayed_by_tuple.iter()),
        f.allocations,
        f.malformed,
        f.unreachable,
        f.tcp,
        f.tls,
        f.problems,
    )
}

/// No credentials, and the lab's with a wrong password for the same user and another user:
/// every verdict a signed message can get (verified, failed, unknown user, other realm).
fn option_sets() -> [FlowOptions; 2] {
    let credentials = ["turnuser:cisco", "turnuser:wrongpass", "alice:secret"]
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    [
        FlowOptions::default(),
        FlowOptions {
            credentials,
            realm: Some("example.org".into()),
        },
    ]
}

fn check(file: &CaptureFile, what: &str) {
    for opts in &option_sets() {
        let creds = opts.credentials.len();
        let reference = dump(&flows(file, opts, false, usize::MAX));
        for stretch in [512, 8192, 1 << 20] {
            for stun in [false, true] {
                assert_eq!(
                    dump(&flows(file, opts, stun, stretch)),
                    reference,
                    "{what}: stun {stun}, stretch {stretch}, {creds} credentials"
                );
            }
        }
    }
}

#[test]
fn same_flows_on_every_committed_capture() {
    let mut files = Vec::new();
    captures_under(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures"),
        &mut files,
    );
    assert!(files.len() >= 50);
    for p in files {
        let f = capture::open(&p).unwrap();
        check(&f, &p.display().to_string());
    }
}

/// Send and Data indications carrying ICE checks, with ChannelData and a Binding exchange, in
/// many small stretches.
#[test]
fn same_flows_with_relayed_checks() {
    use turnscope::testsupport::{data_indication, ice_check, send_indication, tid, Script};
    use turnscope::wire::encode::channel_data;
    let client = "192.0.2.10:50000";
    let server = "198.51.100.1:3478";
    let peer = "203.0.113.5:60000";
    let mut cap = Script::new();
    for i in 0..200u32 {
        let check = ice_check(tid(10_000 + i));
        cap.after(1.0);
        cap.udp(client, server, send_indication(tid(i), peer, &check));
        cap.udp(
            server,
            client,
            data_indication(tid(20_000 + i), peer, &check),
        );
        cap.udp(client, server, ice_check(tid(30_000 + i)));
        cap.udp(server, client, channel_data(0x4001, &[7u8; 100], false));
    }
    let f = CaptureFile::from_bytes("relayed.pcap".into(), cap.pcap()).unwrap();
    check(&f, "relayed");
    let flows = flows(&f, &FlowOptions::default(), true, 512);
    assert_eq!(flows.send_ind.values().map(|c| c.packets).sum::<u64>(), 200);
    assert_eq!(flows.carried_stun.values().sum::<u64>(), 400);
}
