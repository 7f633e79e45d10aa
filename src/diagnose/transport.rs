//! transport.*: TURN over TLS: not decodable, handshake outcome reported. Only connections that
//! are TURN count (see `web::classify`): on the TURN port, or on 443 when the traffic says TURN
//! (the TURN server's address, STUN/TURN from the same client, media-like records); the web
//! app's HTTPS on 443 gets the web findings instead.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use super::web::{Facts, TlsUse};
use super::Sink;

/// TLS connections: ClientHello frame, time, SNI, server answer (None: none; Some(alert)), why
/// it is TURN.
type Conns = BTreeMap<
    (SocketAddr, SocketAddr),
    (u32, i64, Option<String>, Option<Option<u8>>, &'static str),
>;

const REMEDY: &str = "TURN over TLS cannot be decoded without the TLS keys. To diagnose TURN, capture UDP 3478 instead (or TCP 3478); on Expressway-E TURN on TCP 443 replaces TCP 3478.";

pub(super) fn rules(sink: &mut Sink<'_>, facts: &Facts) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        let mut conns: Conns = BTreeMap::new();
        for (t, u) in c.tls_conns.conns.iter().zip(&facts.uses[ci]) {
            let (TlsUse::Turn(why), Some(frame)) = (u, t.hello_frame) else {
                continue;
            };
            let outcome = match (t.server_alert, t.server_hello_frame) {
                (Some(a), _) => Some(Some(a.description)),
                (None, Some(_)) => Some(None),
                (None, None) => None,
            };
            conns.entry((t.client, t.server)).or_insert((
                frame,
                t.ts.0,
                t.sni().map(str::to_string),
                outcome,
                why,
            ));
        }
        for ((src, dst), (frame, ts, sni, outcome, why)) in conns {
            // One finding per TURN port and name: the guest's view (the public address) and
            // the Expressway-E's (LAN2 behind static NAT) are the same connections.
            let key = format!("{}|{}", dst.port(), sni.clone().unwrap_or_default());
            let d = sink.entry("transport.turn_tls", key, || {
                let how = match outcome {
                    Some(None) => "the server answered with ServerHello".to_string(),
                    Some(Some(a)) => format!("the server sent TLS alert {a}"),
                    None => "no answer from the server in this capture".to_string(),
                };
                (
                    format!(
                        "TLS to {dst} from {src} (SNI {}): contents not decodable; {how}; TURN because {why}",
                        sni.as_deref().unwrap_or("none")
                    ),
                    REMEDY.to_string(),
                )
            });
            d.count += 1;
            let also = format!("; also seen as {dst} ({})", case.name(ci));
            d.mention_once(&dst.to_string(), &also, 600);
            d.frame(case, ci, frame, ts);
        }
    }
}
