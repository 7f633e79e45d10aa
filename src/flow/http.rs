//! Plain HTTP answers (port 80 of the Expressway-E): the status line and the Location header of
//! each response, so that a redirect to HTTPS can be told from anything else. Nothing else of
//! the bytes is kept.

use std::net::SocketAddr;

use serde::Serialize;

use crate::capture::{Framing, Payload, Timestamp, Transport};

/// Answers kept per capture.
pub const MAX_ANSWERS: usize = 1000;
/// Bytes of a response looked at for its header.
const HEADER_BYTES: usize = 4096;
/// Longest Location kept.
const MAX_LOCATION: usize = 256;

/// A plain HTTP response seen in a capture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpAnswer {
    /// Frame number of the status line.
    pub frame: u32,
    /// Capture time of that frame.
    #[serde(skip)]
    pub ts: Timestamp,
    /// The server that answered, and the client.
    pub server: SocketAddr,
    /// The client that was answered.
    pub client: SocketAddr,
    /// Status code, 100-599.
    pub status: u16,
    /// The Location header (at most 256 bytes), None when absent.
    pub location: Option<String>,
}

impl HttpAnswer {
    /// A redirect (3xx) to an https: URL.
    pub fn redirects_to_https(&self) -> bool {
        (300..400).contains(&self.status)
            && self.location.as_deref().is_some_and(|l| {
                l.get(..8)
                    .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
            })
    }
}

/// Every plain HTTP answer of one capture.
#[derive(Debug, Clone, Default)]
pub struct HttpLog {
    /// Answers in capture order, the first [`MAX_ANSWERS`].
    pub answers: Vec<HttpAnswer>,
}

/// The status code of an `HTTP/1.x NNN ...` status line.
fn status(head: &str) -> Option<u16> {
    let rest = head.strip_prefix("HTTP/1.")?;
    let code = rest.get(2..5)?;
    code.parse().ok().filter(|c| (100..600).contains(c))
}

fn location(head: &str) -> Option<String> {
    head.lines()
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("location"))
        .map(|(_, v)| v.trim().chars().take(MAX_LOCATION).collect())
}

impl HttpLog {
    /// Add the answers of a later run of the same capture, frames moved past this run's.
    pub fn append(&mut self, later: HttpLog, base: u32) {
        let room = MAX_ANSWERS.saturating_sub(self.answers.len());
        self.answers
            .extend(later.answers.into_iter().take(room).map(|mut a| {
                a.frame = a.frame.saturating_add(base);
                a
            }));
    }

    /// A stream chunk that may start an HTTP response.
    pub fn payload(&mut self, p: &Payload<'_>) {
        if p.transport != Transport::Tcp
            || p.framing != Framing::Unframed
            || !p.data.starts_with(b"HTTP/1.")
            || self.answers.len() >= MAX_ANSWERS
        {
            return;
        }
        let head = p
            .data
            .get(..HEADER_BYTES.min(p.data.len()))
            .unwrap_or_default();
        let head = String::from_utf8_lossy(head);
        let Some(status) = status(&head) else { return };
        self.answers.push(HttpAnswer {
            frame: p.frame,
            ts: p.ts,
            server: p.src,
            client: p.dst,
            status,
            location: location(&head),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn chunk(data: &'static [u8]) -> Payload<'static> {
        Payload {
            frame: 5,
            ts: Timestamp(0),
            transport: Transport::Tcp,
            framing: Framing::Unframed,
            src: "198.51.100.10:80".parse().unwrap(),
            dst: "10.0.0.5:50000".parse().unwrap(),
            data: Cow::Borrowed(data),
        }
    }

    #[test]
    fn redirect_and_others() {
        let mut log = HttpLog::default();
        log.payload(&chunk(
            b"HTTP/1.1 301 Moved Permanently\r\nServer: x\r\nlocation:  https://join.example.com/\r\n\r\n<html>",
        ));
        log.payload(&chunk(
            b"HTTP/1.1 200 OK\r\n\r\nLocation: https://not.a.header/",
        ));
        log.payload(&chunk(b"HTTP/1.1 9"));
        log.payload(&chunk(b"GET / HTTP/1.1\r\n"));
        assert_eq!(log.answers.len(), 2);
        assert!(log.answers[0].redirects_to_https());
        assert_eq!(
            log.answers[0].location.as_deref(),
            Some("https://join.example.com/")
        );
        assert!(!log.answers[1].redirects_to_https());
        assert_eq!(log.answers[1].location, None);
    }
}
