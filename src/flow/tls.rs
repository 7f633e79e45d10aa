//! TLS connections of one capture, from the capture's TLS events: who said hello to whom (SNI,
//! ALPN, versions), the version chosen, the certificates either side sent in clear, the
//! plaintext alerts of each side, and the application data each way. The diagnosis decides
//! from these whether a connection is TURN over TLS or the web app's (`diagnose/tls.rs`).

use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::{AppData, CertInfo, ClientHello, Timestamp, TlsDetail, TlsEvent};

use super::HashMap;

/// Connections kept per capture; events of later ones are counted in [`TlsLog::dropped`].
pub const MAX_CONNS: usize = 20_000;

/// TLS 1.2 version number (RFC 5246).
pub const TLS12: u16 = 0x0303;
/// TLS 1.3 version number (RFC 8446).
pub const TLS13: u16 = 0x0304;

/// A plaintext alert and where it was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AlertSeen {
    /// Alert level: 1 warning, 2 fatal.
    pub level: u8,
    /// Alert description (RFC 8446 section 6, e.g. 42 bad_certificate, 48 unknown_ca).
    pub description: u8,
    /// Frame number.
    pub frame: u32,
    /// Capture time.
    #[serde(skip)]
    pub ts: Timestamp,
}

/// Certificates one side sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainSeen {
    /// The certificates summarised, leaf first.
    pub chain: Vec<CertInfo>,
    /// How many the message held (more than `chain` when some were not summarised).
    pub count: usize,
    /// Frame of the Certificate message.
    pub frame: u32,
    /// Capture time of that frame.
    #[serde(skip)]
    pub ts: Timestamp,
}

/// One TLS connection, client to server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsConn {
    /// The client's address.
    pub client: SocketAddr,
    /// The server's address.
    pub server: SocketAddr,
    /// The ClientHello, None when the capture started after it.
    pub hello: Option<ClientHello>,
    /// Frame of the ClientHello.
    pub hello_frame: Option<u32>,
    /// The version the server chose, with the frame of its ServerHello.
    pub version: Option<u16>,
    /// Frame of the ServerHello, None when not captured.
    pub server_hello_frame: Option<u32>,
    /// Certificates the server sent, None when not seen (TLS 1.3 encrypts them).
    pub server_certs: Option<ChainSeen>,
    /// Certificates the client sent, None when not seen.
    pub client_certs: Option<ChainSeen>,
    /// The server asked for a client certificate.
    pub cert_requested: bool,
    /// The first fatal (else first) plaintext alert of each side.
    pub client_alert: Option<AlertSeen>,
    /// The server's first fatal (else first) plaintext alert.
    pub server_alert: Option<AlertSeen>,
    /// Application data client to server (records and bytes).
    #[serde(skip)]
    pub to_server: AppData,
    /// Application data server to client (records and bytes).
    #[serde(skip)]
    pub to_client: AppData,
    /// When the connection was first seen.
    #[serde(skip)]
    pub ts: Timestamp,
    /// Frame where the connection was first seen.
    #[serde(skip)]
    pub frame: u32,
}

impl TlsConn {
    /// The SNI the client asked for, if it said.
    pub fn sni(&self) -> Option<&str> {
        self.hello.as_ref().and_then(|h| h.sni.as_deref())
    }

    /// The client offered an HTTP protocol in ALPN: a browser (or any HTTPS client) fetching
    /// pages, never a TURN client.
    pub fn offers_http(&self) -> bool {
        self.hello.as_ref().is_some_and(|h| {
            h.alpn
                .iter()
                .any(|p| p == "http/1.1" || p == "h2" || p == "http/1.0" || p == "h3")
        })
    }

    /// TLS 1.3 was chosen, or offered and the server's choice was not captured.
    pub fn is_tls13(&self) -> bool {
        self.version == Some(TLS13)
    }
}

/// Every TLS connection of one capture, in the order they were first seen.
#[derive(Debug, Clone, Default)]
pub struct TlsLog {
    /// Connections in the order first seen, the first [`MAX_CONNS`].
    pub conns: Vec<TlsConn>,
    /// (client, server) -> the connection on those addresses now.
    open: HashMap<(SocketAddr, SocketAddr), usize>,
    /// Events of connections beyond [`MAX_CONNS`], not kept.
    pub dropped: u64,
}

fn alert(level: u8, description: u8, ev: &TlsEvent) -> AlertSeen {
    AlertSeen {
        level,
        description,
        frame: ev.frame,
        ts: ev.ts,
    }
}

/// Keep the first fatal alert (a warning before it, such as close_notify, is replaced).
fn keep_alert(slot: &mut Option<AlertSeen>, a: AlertSeen) {
    if slot.is_none_or(|old| old.level != 2 && a.level == 2) {
        *slot = Some(a);
    }
}

impl TlsLog {
    /// Add the connections of a later run of the same capture (rotated pieces read out of
    /// order), frames moved past this run's by `base`.
    pub fn append(&mut self, later: TlsLog, base: u32) {
        let room = MAX_CONNS.saturating_sub(self.conns.len());
        let kept = later.conns.len().min(room);
        self.dropped += later.dropped + (later.conns.len() - kept) as u64;
        let shift = |f: &mut u32| *f = f.saturating_add(base);
        self.conns
            .extend(later.conns.into_iter().take(kept).map(|mut c| {
                shift(&mut c.frame);
                for f in [&mut c.hello_frame, &mut c.server_hello_frame]
                    .into_iter()
                    .flatten()
                {
                    shift(f);
                }
                for chain in [&mut c.server_certs, &mut c.client_certs]
                    .into_iter()
                    .flatten()
                {
                    shift(&mut chain.frame);
                }
                for alert in [&mut c.client_alert, &mut c.server_alert]
                    .into_iter()
                    .flatten()
                {
                    shift(&mut alert.frame);
                }
                c
            }));
    }

    /// Which connection an event belongs to, and whether its sender is the client.
    fn conn_of(&mut self, ev: &TlsEvent) -> Option<(usize, bool)> {
        let (s, d) = (ev.src, ev.dst);
        let new_hello = matches!(ev.detail, TlsDetail::ClientHello(_));
        if let Some(&i) = self.open.get(&(s, d)) {
            // A second ClientHello on the same addresses is a new connection (port reuse).
            let again = new_hello && self.conns.get(i).is_some_and(|c| c.hello.is_some());
            if !again {
                return Some((i, true));
            }
        } else if let Some(&i) = self.open.get(&(d, s)) {
            return Some((i, false));
        }
        // First sight: the hello's sender is the client; otherwise the server is the side of
        // the ServerHello, or (certificates, alerts midstream) the lower port.
        let from_client = match ev.detail {
            TlsDetail::ClientHello(_) => true,
            TlsDetail::ServerHello { .. } => false,
            _ => s.port() > d.port(),
        };
        if self.conns.len() >= MAX_CONNS {
            self.dropped += 1;
            return None;
        }
        let (client, server) = if from_client { (s, d) } else { (d, s) };
        self.open.insert((client, server), self.conns.len());
        self.conns.push(TlsConn {
            client,
            server,
            hello: None,
            hello_frame: None,
            version: None,
            server_hello_frame: None,
            server_certs: None,
            client_certs: None,
            cert_requested: false,
            client_alert: None,
            server_alert: None,
            to_server: AppData::default(),
            to_client: AppData::default(),
            ts: ev.ts,
            frame: ev.frame,
        });
        Some((self.conns.len() - 1, from_client))
    }

    /// One TLS event of the capture.
    pub fn event(&mut self, ev: &TlsEvent) {
        let Some((i, from_client)) = self.conn_of(ev) else {
            return;
        };
        let Some(c) = self.conns.get_mut(i) else {
            return;
        };
        match &ev.detail {
            TlsDetail::ClientHello(h) => {
                c.hello = Some(h.clone());
                c.hello_frame = Some(ev.frame);
            }
            TlsDetail::ServerHello { version } => {
                c.version = Some(*version);
                c.server_hello_frame = Some(ev.frame);
            }
            TlsDetail::Certificates { chain, count } => {
                let seen = ChainSeen {
                    chain: chain.clone(),
                    count: *count,
                    frame: ev.frame,
                    ts: ev.ts,
                };
                let slot = if from_client {
                    &mut c.client_certs
                } else {
                    &mut c.server_certs
                };
                slot.get_or_insert(seen);
            }
            TlsDetail::CertificateRequest => c.cert_requested = true,
            TlsDetail::Alert { level, description } => {
                let a = alert(*level, *description, ev);
                keep_alert(
                    if from_client {
                        &mut c.client_alert
                    } else {
                        &mut c.server_alert
                    },
                    a,
                );
            }
            TlsDetail::Closed(app) => {
                if from_client {
                    c.to_server = *app;
                } else {
                    c.to_client = *app;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(src: &str, dst: &str, frame: u32, detail: TlsDetail) -> TlsEvent {
        TlsEvent {
            frame,
            ts: Timestamp(i64::from(frame)),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            detail,
        }
    }

    #[test]
    fn one_connection_both_sides_and_port_reuse() {
        let (c, s) = ("10.0.0.5:50000", "198.51.100.10:443");
        let hello = ClientHello {
            sni: Some("join.example.com".into()),
            alpn: vec!["h2".into()],
            versions: vec![TLS13, TLS12],
        };
        let mut log = TlsLog::default();
        log.event(&ev(c, s, 4, TlsDetail::ClientHello(hello.clone())));
        log.event(&ev(s, c, 6, TlsDetail::ServerHello { version: TLS12 }));
        log.event(&ev(
            s,
            c,
            6,
            TlsDetail::Certificates {
                chain: vec![],
                count: 2,
            },
        ));
        let warn = TlsDetail::Alert {
            level: 1,
            description: 0,
        };
        log.event(&ev(c, s, 8, warn));
        log.event(&ev(
            c,
            s,
            8,
            TlsDetail::Alert {
                level: 2,
                description: 48,
            },
        ));
        log.event(&ev(
            c,
            s,
            9,
            TlsDetail::Alert {
                level: 2,
                description: 46,
            },
        ));
        assert_eq!(log.conns.len(), 1);
        let k = &log.conns[0];
        assert!(k.offers_http() && !k.is_tls13());
        assert_eq!(k.sni(), Some("join.example.com"));
        assert_eq!(
            k.server_certs.as_ref().map(|x| (x.count, x.frame)),
            Some((2, 6))
        );
        assert_eq!(
            k.client_alert.map(|a| (a.description, a.frame)),
            Some((48, 8))
        );
        log.event(&ev(c, s, 20, TlsDetail::ClientHello(hello)));
        assert_eq!(log.conns.len(), 2);
        // Midstream: certificates from the lower port are the server's.
        log.event(&ev(
            s,
            "10.0.0.6:50001",
            30,
            TlsDetail::Certificates {
                chain: vec![],
                count: 1,
            },
        ));
        assert!(log.conns[2].server_certs.is_some());
        assert_eq!(log.conns[2].server, s.parse().unwrap());
    }
}
