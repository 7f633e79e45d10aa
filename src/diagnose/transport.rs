//! transport.*: TURN over TLS (443 or the TURN port): not decodable, handshake outcome reported.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::capture::Transport;

use super::Sink;

/// TLS connections: ClientHello frame, time, SNI, server answer (None: none; Some(alert)).
type Conns = BTreeMap<(SocketAddr, SocketAddr), (u32, i64, Option<String>, Option<Option<u8>>)>;

/// The IANA-registered port of TURN over TLS ("turns", RFC 8656 §18).
const TURNS_PORT: u16 = 5349;

const REMEDY: &str = "TURN over TLS cannot be decoded without the TLS keys. To diagnose TURN, capture UDP 3478 instead (or TCP 3478); on Expressway-E TURN on TCP 443 replaces TCP 3478.";

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        let mut conns: Conns = BTreeMap::new();
        for t in &c.tls {
            if t.hello {
                if t.dst.port() == 443
                    || t.dst.port() == TURNS_PORT
                    || case.is_turn_endpoint(t.dst, Transport::Tcp)
                    || case.is_turn_endpoint(t.dst, Transport::Tls)
                {
                    conns
                        .entry((t.src, t.dst))
                        .or_insert((t.frame, t.ts.0, t.sni.clone(), None));
                }
            } else if let Some(x) = conns.get_mut(&(t.dst, t.src)) {
                if x.3.is_none() {
                    x.3 = Some(t.alert);
                }
            }
        }
        for ((src, dst), (frame, ts, sni, outcome)) in conns {
            let key = format!("{dst}|{}", sni.clone().unwrap_or_default());
            let d = sink.entry("transport.turn_tls", key, || {
                let how = match outcome {
                    Some(None) => "the server answered with ServerHello".to_string(),
                    Some(Some(a)) => format!("the server sent TLS alert {a}"),
                    None => "no answer from the server in this capture".to_string(),
                };
                (
                    format!(
                        "TLS to {dst} from {src} (SNI {}): contents not decodable; {how}",
                        sni.as_deref().unwrap_or("none")
                    ),
                    REMEDY.to_string(),
                )
            });
            d.count += 1;
            d.frame(case, ci, frame, ts);
        }
    }
}
