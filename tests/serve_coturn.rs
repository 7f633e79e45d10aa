//! `turnscope serve` (the built binary) against coturn's real clients on loopback:
//! `turnutils_uclient` over UDP and TCP, channels and Send indications, data echoed back by
//! `turnutils_peer`, and a wrong password refused.
//!
//! These need the Debian package `coturn` (installed by `scripts/test.sh` / `.ci/run`). Without
//! it they fail with a clear message, unless `TURNSCOPE_SKIP_COTURN=1`.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const USER: &str = "user";
const PASS: &str = "pass";

fn coturn() -> bool {
    let found = Command::new("turnutils_uclient")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        return true;
    }
    if std::env::var("TURNSCOPE_SKIP_COTURN").as_deref() == Ok("1") {
        eprintln!("turnutils_uclient not found: skipped (TURNSCOPE_SKIP_COTURN=1)");
        return false;
    }
    panic!(
        "turnutils_uclient not found: install coturn (apt-get install coturn; scripts/test.sh \
         does it) or set TURNSCOPE_SKIP_COTURN=1 to skip the interoperability tests"
    );
}

/// A child process killed when dropped, with its output collected.
struct Proc {
    child: Child,
    out: Arc<Mutex<String>>,
}

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut o = out.lock().unwrap();
                    o.push_str(&line);
                    o.push('\n');
                }
            });
        }
        Proc { child, out }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// Wait for exit, killing the process after `limit`.
    fn wait(&mut self, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            if start.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        thread::sleep(Duration::from_millis(100)); // let the reader threads finish
        self.output()
    }

    fn wait_for(&self, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.output().contains(needle) {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free for both UDP and TCP.
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

struct Lab {
    serve: Proc,
    _peer: Proc,
    port: u16,
    peer_port: u16,
}

fn lab(extra: &[&str]) -> Lab {
    let port = free_port();
    let peer_port = free_port();
    let relay_base = 20000 + (port % 40) * 1000;
    let serve = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_turnscope"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--credential", &format!("{USER}:{PASS}")])
            .args([
                "--relay-ports",
                &format!("{relay_base}-{}", relay_base + 999),
            ])
            .arg("--allow-loopback-peers")
            .args(extra),
    );
    assert!(
        serve.wait_for(" listen udp+tcp ", Duration::from_secs(10)),
        "serve did not start: {}",
        serve.output()
    );
    let peer = Proc::spawn(Command::new("turnutils_peer").args([
        "-L",
        "127.0.0.1",
        "-p",
        &peer_port.to_string(),
    ]));
    thread::sleep(Duration::from_millis(200));
    Lab {
        serve,
        _peer: peer,
        port,
        peer_port,
    }
}

impl Lab {
    fn uclient(&self, flags: &[&str], password: &str) -> String {
        let mut p = Proc::spawn(
            Command::new("turnutils_uclient")
                .args(flags)
                .args(["-e", "127.0.0.1", "-r", &self.peer_port.to_string()])
                .args(["-p", &self.port.to_string()])
                .args(["-u", USER, "-w", password])
                .arg("127.0.0.1"),
        );
        p.wait(Duration::from_secs(60))
    }
}

/// `tot_send_msgs=N, tot_recv_msgs=M` and the lost-packet count from uclient's summary.
fn summary(out: &str) -> (u64, u64, Option<u64>) {
    let num = |key: &str| -> Option<u64> {
        out.lines()
            .rev()
            .find_map(|l| l.split(key).nth(1))
            .and_then(|rest| {
                rest.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            })
    };
    (
        num("tot_send_msgs=").unwrap_or(0),
        num("tot_recv_msgs=").unwrap_or(0),
        num("Total lost packets"),
    )
}

fn assert_relayed(out: &str, expect: u64) {
    let (sent, recv, lost) = summary(out);
    assert!(sent >= expect, "sent {sent} < {expect}:\n{out}");
    assert_eq!(recv, sent, "every message echoed back:\n{out}");
    assert_eq!(lost, Some(0), "no loss:\n{out}");
}

#[test]
fn udp_channels_echo_through_the_relay() {
    if !coturn() {
        return;
    }
    let lab = lab(&[]);
    let out = lab.uclient(&["-n", "10"], PASS);
    assert_relayed(&out, 10);
    let log = lab.serve.output();
    assert!(log.contains(" allocate client=udp:127.0.0.1:"), "{log}");
    assert!(
        log.contains(&format!("peer=127.0.0.1:{}", lab.peer_port)),
        "{log}"
    );
    assert!(log.contains(" channel "), "{log}");
}

#[test]
fn tcp_channels_echo_through_the_relay() {
    if !coturn() {
        return;
    }
    let lab = lab(&[]);
    let out = lab.uclient(&["-t", "-n", "10"], PASS);
    assert_relayed(&out, 10);
    assert!(lab
        .serve
        .output()
        .contains(" allocate client=tcp:127.0.0.1:"));
}

#[test]
fn send_indications_echo_through_the_relay() {
    if !coturn() {
        return;
    }
    let lab = lab(&[]);
    let out = lab.uclient(&["-s", "-n", "10"], PASS);
    assert_relayed(&out, 10);
    let out = lab.uclient(&["-s", "-t", "-n", "10"], PASS);
    assert_relayed(&out, 10);
}

#[test]
fn several_clients_at_once() {
    if !coturn() {
        return;
    }
    let lab = lab(&[]);
    let out = lab.uclient(&["-m", "8", "-n", "20"], PASS);
    assert_relayed(&out, 8 * 20);
}

#[test]
fn wrong_password_is_refused() {
    if !coturn() {
        return;
    }
    let lab = lab(&[]);
    let out = lab.uclient(&["-n", "5"], "wrong");
    let (_, recv, _) = summary(&out);
    assert_eq!(recv, 0, "{out}");
    assert!(
        out.contains("Cannot complete Allocation") || out.contains("error 401"),
        "{out}"
    );
    let log = lab.serve.output();
    assert!(log.contains("code=401"), "{log}");
    assert!(!log.contains(" allocate client="), "no allocation: {log}");
}

#[test]
fn loopback_peers_are_refused_without_the_opt_in() {
    if !coturn() {
        return;
    }
    let port = free_port();
    let serve = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_turnscope"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--credential", &format!("{USER}:{PASS}")]),
    );
    assert!(serve.wait_for(" listen udp+tcp ", Duration::from_secs(10)));
    let mut p = Proc::spawn(
        Command::new("turnutils_uclient")
            .args([
                "-n",
                "3",
                "-e",
                "127.0.0.1",
                "-r",
                "9",
                "-p",
                &port.to_string(),
            ])
            .args(["-u", USER, "-w", PASS, "127.0.0.1"]),
    );
    let out = p.wait(Duration::from_secs(30));
    assert_eq!(summary(&out).1, 0, "{out}");
    let log = serve.output();
    assert!(log.contains("code=403"), "{log}");
    assert!(log.contains("loopback peers are denied"), "{log}");
}

#[test]
fn ctrl_c_shuts_down_cleanly() {
    let port = free_port();
    let mut serve = Proc::spawn(
        Command::new(env!("CARGO_BIN_EXE_turnscope"))
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--credential", &format!("{USER}:{PASS}")]),
    );
    assert!(serve.wait_for(" listen udp+tcp ", Duration::from_secs(10)));
    let pid = serve.child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let out = serve.wait(Duration::from_secs(10));
    assert!(out.contains("shutdown allocations=0"), "{out}");
    let status = serve.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}
