//! CMS event logs -> typed events. Four shapes, as support gets them:
//!
//! - the web admin's log export, tab separated: `2017-05-20<TAB>19:43:21.805<TAB>Warning<TAB>call
//!   6: ICE failure; relay candidate creation timeout`;
//! - the same copied with spaces (`2017-04-15 10:34:56.536 Warning call 7: ...`), level
//!   sometimes missing;
//! - the "Fault conditions" table of the Status page (`Date Time Fault condition`, no level);
//! - syslog lines (`<PRI>`, an ISO or classic syslog time, host, tag, a level such as
//!   `WARNING :`, then the message).
//!
//! The times carry no zone (the CMS's local time): [`LogTime::offset_secs`] is `None`, and
//! the offset to the captures is estimated from the packets a line is linked to
//! ([`crate::diagnose::logs`]). Only the lines that matter to a WebRTC TURN case become
//! typed events (ICE failures and their cause, web bridge connection and name resolution
//! failures, calls set up); other warnings and errors are kept as [`CmsWhat::Other`], the
//! rest counted.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::clock::{parse_date_time, parse_syslog_time, LogTime};
use super::lines::Lines;

/// Most events kept from one log (the rest are counted in [`CmsLog::dropped`]).
pub const MAX_EVENTS: usize = 10_000;
/// Most characters of a message kept in [`CmsEvent::text`].
const MAX_TEXT: usize = 400;

/// Severity of a CMS log line (syslog levels folded: critical/alert/emerg count as Error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// `error`, `critical`, `alert`, `emerg` or `fault`.
    Error,
    /// `warning`.
    Warning,
    /// `notice`.
    Notice,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
}

impl Level {
    fn from_word(w: &str) -> Option<Level> {
        let w = w.trim_end_matches(':');
        let w = w.rsplit('.').next().unwrap_or(w);
        Some(match w.to_ascii_lowercase().as_str() {
            "error" | "err" | "critical" | "crit" | "alert" | "emerg" | "fault" => Level::Error,
            "warning" | "warn" => Level::Warning,
            "notice" => Level::Notice,
            "info" | "information" => Level::Info,
            "debug" => Level::Debug,
            _ => return None,
        })
    }
}

/// Why the CMS says ICE failed for a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum IceCause {
    /// `ICE failure 4 (unauthorized - check credentials)`: the TURN server rejected the
    /// CMS's credentials (401, or 431 on Expressway).
    Unauthorized {
        /// The failure number the line gives (4 in `ICE failure 4`), None when it gives none.
        code: Option<u32>,
    },
    /// `ICE failure; relay candidate creation timeout`: no answer to the CMS's Allocate.
    RelayCandidateTimeout,
    /// Another ICE failure text.
    Other {
        /// The failure number the line gives, None when it gives none.
        code: Option<u32>,
        /// The rest of the message.
        detail: String,
    },
}

/// What a CMS log line says, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CmsWhat {
    /// `call N: ICE failure ...`: ICE failed for a call.
    IceFailure {
        /// The call number N, None when the line names no call.
        call: Option<u32>,
        /// What the CMS says went wrong.
        #[serde(flatten)]
        cause: IceCause,
    },
    /// `Web bridge connection to "NAME" failed (REASON)`; `dns` when the reason is a DNS
    /// failure (for the DNS work to join on `host`).
    WebBridgeConnectionFailed {
        /// The web bridge name as written.
        host: String,
        /// The reason in parentheses.
        reason: String,
        /// True when the reason is a DNS failure.
        dns: bool,
    },
    /// `web bridge link N: name resolution for "NAME" failed`.
    NameResolutionFailed {
        /// The link number N, None when the line names none.
        link: Option<u32>,
        /// The name that did not resolve.
        name: String,
    },
    /// `failed to establish connection to web bridge link N (REASON)`.
    WebBridgeLinkFailed {
        /// The link number N.
        link: u32,
        /// The reason in parentheses.
        reason: String,
    },
    /// `call N: allocated for ...`: a call being set up.
    CallSetUp {
        /// The call number N.
        call: u32,
    },
    /// Another warning or error.
    Other,
}

/// One line of a CMS log, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CmsEvent {
    /// Line number in the log, 1-based.
    pub line: u64,
    /// When the line says it was written (the log's own clock).
    pub time: LogTime,
    /// The line's level, None for lines without one (the Status page's fault table).
    pub level: Option<Level>,
    /// What the line says, typed.
    pub what: CmsWhat,
    /// The message as written (cut at a few hundred characters).
    pub text: String,
}

/// A CMS log, read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CmsLog {
    /// Typed events and other warnings and errors, the first [`MAX_EVENTS`].
    pub events: Vec<CmsEvent>,
    /// Lines read.
    pub lines: u64,
    /// Lines with a time and a message (typed or not).
    pub entries: u64,
    /// Non-blank lines that are neither an entry nor a table header.
    pub unread: u64,
    /// Events past [`MAX_EVENTS`], counted only.
    pub dropped: u64,
    /// Lines longer than the line limit, cut.
    pub cut: u64,
}

/// True when the first lines of `text` look like a CMS log.
pub fn is_cms_log(text: &str) -> bool {
    if text.contains("Fault conditions") {
        return true;
    }
    text.lines()
        .take(20)
        .filter_map(entry)
        .any(|e| e.level.is_some() || classify(e.message) != CmsWhat::Other)
}

/// Read a CMS log. A read error ends the log where it happened (what was read is kept).
pub fn parse(r: impl Read) -> Result<CmsLog, std::io::Error> {
    let mut lines = Lines::new(r);
    let mut log = CmsLog::default();
    while let Some(line) = lines.next_line()? {
        let trimmed = line.trim();
        if trimmed.is_empty() || is_header(trimmed) {
            continue;
        }
        let Some(e) = entry(trimmed) else {
            log.unread += 1;
            continue;
        };
        log.entries += 1;
        let what = classify(e.message);
        let keep = what != CmsWhat::Other || matches!(e.level, Some(Level::Error | Level::Warning));
        if !keep {
            continue;
        }
        if log.events.len() >= MAX_EVENTS {
            log.dropped += 1;
            continue;
        }
        log.events.push(CmsEvent {
            line: lines.number,
            time: e.time,
            level: e.level,
            what,
            text: e.message.chars().take(MAX_TEXT).collect(),
        });
    }
    log.lines = lines.number;
    log.cut = lines.cut;
    Ok(log)
}

fn is_header(line: &str) -> bool {
    line.eq_ignore_ascii_case("Fault conditions")
        || (line.starts_with("Date") && line.contains("Time"))
}

/// A line split into time, level and message.
struct Entry<'l> {
    time: LogTime,
    level: Option<Level>,
    message: &'l str,
}

/// Time, optional level and message of a line, in any of the four shapes.
fn entry(line: &str) -> Option<Entry<'_>> {
    let line = strip_priority(line.trim_start());
    let (time, used) = parse_date_time(line).or_else(|| parse_syslog_time(line))?;
    let rest = line.get(used..)?.trim_start_matches([' ', '\t']);
    let (level, message) = split_level(rest);
    let message = message.trim();
    if message.is_empty() {
        return None;
    }
    Some(Entry {
        time,
        level,
        message,
    })
}

/// `<13>` at the start of a syslog line.
fn strip_priority(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('<') {
        if let Some((pri, after)) = rest.split_once('>') {
            if !pri.is_empty() && pri.len() <= 3 && pri.bytes().all(|b| b.is_ascii_digit()) {
                return after;
            }
        }
    }
    line
}

/// The level and the message after it: the first field (tab) or word when it is a level;
/// else, in syslog lines, a level word among the first few words (`cms1 host:server:
/// WARNING : msg`, `user.warning cms1 ...: msg`); else no level and the whole text.
fn split_level(rest: &str) -> (Option<Level>, &str) {
    if let Some((first, after)) = rest.split_once('\t') {
        if let Some(level) = Level::from_word(first.trim()) {
            return (Some(level), after);
        }
    }
    let words: Vec<&str> = rest.split(' ').take(7).collect();
    let mut at = 0;
    for (i, word) in words.iter().enumerate().take(6) {
        let end = at + word.len();
        // A level word counts first, as `facility.level`, or followed by a colon; elsewhere
        // it is a word of the message ("call 3: error in ...").
        let marked =
            i == 0 || word.contains('.') || word.ends_with(':') || words.get(i + 1) == Some(&":");
        if let Some(level) = Level::from_word(word).filter(|_| marked && !word.is_empty()) {
            let after = rest.get(end..).unwrap_or_default().trim_start();
            let after = after.strip_prefix(':').unwrap_or(after);
            // A facility.level token is followed by host and tag: the message is after the
            // tag (the last word ending in ':' before it).
            let message = if word.contains('.') {
                after_tag(after)
            } else {
                after
            };
            return (Some(level), message);
        }
        at = end + 1;
    }
    (None, rest)
}

/// The text after a syslog `host tag:` prefix (when there is one within three words).
fn after_tag(text: &str) -> &str {
    let mut at = 0;
    for (i, word) in text.split(' ').enumerate() {
        if i >= 3 {
            break;
        }
        at += word.len() + 1;
        if word.ends_with(':') && word.len() > 1 {
            let rest = text
                .get(at.min(text.len())..)
                .unwrap_or_default()
                .trim_start();
            let (level, message) = split_level(rest);
            return if level.is_some() { message } else { rest };
        }
    }
    text
}

/// The number at the start of `s`.
fn leading_number(s: &str) -> Option<u32> {
    let n = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    s.get(..n)?.parse().ok()
}

/// The text between the first pair of double quotes (to the end when the closing one was
/// cut off).
fn quoted(s: &str) -> Option<String> {
    let (_, after) = s.split_once('"')?;
    let inner = after.split('"').next().unwrap_or(after);
    Some(inner.to_string())
}

/// What a message says.
pub fn classify(message: &str) -> CmsWhat {
    let lower = message.to_ascii_lowercase();
    let call = lower
        .strip_prefix("call ")
        .and_then(leading_number)
        .filter(|_| lower.contains(':'));
    if let Some(at) = lower.find("ice failure") {
        return CmsWhat::IceFailure {
            call,
            cause: ice_cause(message.get(at + "ice failure".len()..).unwrap_or_default()),
        };
    }
    if let Some(rest) = lower.strip_prefix("web bridge connection to ") {
        let reason = rest
            .rsplit_once('(')
            .map(|(_, r)| r.trim_end_matches(')').to_string())
            .unwrap_or_default();
        return CmsWhat::WebBridgeConnectionFailed {
            host: quoted(message).unwrap_or_default(),
            dns: reason.contains("dns"),
            reason,
        };
    }
    if let Some(at) = lower.find("name resolution for ") {
        let link = lower
            .find("link ")
            .filter(|l| *l < at)
            .and_then(|l| leading_number(lower.get(l + 5..).unwrap_or_default()));
        return CmsWhat::NameResolutionFailed {
            link,
            name: quoted(message.get(at..).unwrap_or_default()).unwrap_or_default(),
        };
    }
    if let Some(rest) = lower.strip_prefix("failed to establish connection to web bridge link ") {
        if let Some(link) = leading_number(rest) {
            let reason = rest
                .split_once('(')
                .map(|(_, r)| r.trim_end_matches(')').to_string())
                .unwrap_or_default();
            return CmsWhat::WebBridgeLinkFailed { link, reason };
        }
    }
    if let (Some(call), true) = (call, lower.contains(": allocated for")) {
        return CmsWhat::CallSetUp { call };
    }
    CmsWhat::Other
}

/// What follows "ICE failure": ` 4 (unauthorized - check credentials)`, `; relay candidate
/// creation timeout`.
fn ice_cause(rest: &str) -> IceCause {
    let lower = rest.to_ascii_lowercase();
    let code = leading_number(lower.trim_start());
    if lower.contains("relay candidate creation timeout") {
        return IceCause::RelayCandidateTimeout;
    }
    if code == Some(4) || lower.contains("unauthorized") {
        return IceCause::Unauthorized { code };
    }
    IceCause::Other {
        code,
        detail: rest
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ' || c == ';')
            .chars()
            .take(MAX_TEXT)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_of_the_guides() {
        let text = "Fault conditions\n\
            Date\tTime\tFault condition\n\
            2017-05-20\t18:15:28.769\tWeb bridge connection to \"cmsweb.cms.octavio.local\" failed (connect failure)\n\
            2017-05-20\t19:43:18.805\tInfo\tcall 6: allocated for guest3804072848@cms.octavio.local \"Web client\" conference participation\n\
            2017-05-20\t19:43:21.805\tWarning\tcall 6: ICE failure; relay candidate creation timeout\n\
            2017-04-15    10:34:56.536    Warning    call 7: ICE failure 4 (unauthorized - check credentials)\n\
            2017-04-15 12:09:06.647 Web bridge connection to \"webbridge.alero.aca\" failed (DNS failure)\n\
            2017-04-15 12:10:11.634 Warning web bridge link 2: name resolution for \"webbridge.alero.aca\" f\n\
            2017-04-15 11:55:50.835 Info failed to establish connection to web bridge link 2 (unknown erro\n\
            <12>Apr 15 10:34:56.536 cms1 host:server: WARNING : call 8: ICE failure 4 (unauthorized - check credentials)\n\
            2017-04-15T10:35:00.000+02:00 cms1 host:server: ERROR : something else broke\n\
            2017-04-15 10:36:00.000 Info guest login request 21: resolution in progress\n\
            this is not a log line\n";
        assert!(is_cms_log(text));
        let log = parse(text.as_bytes()).unwrap();
        let kinds: Vec<&CmsWhat> = log.events.iter().map(|e| &e.what).collect();
        assert_eq!(
            kinds,
            vec![
                &CmsWhat::WebBridgeConnectionFailed {
                    host: "cmsweb.cms.octavio.local".into(),
                    reason: "connect failure".into(),
                    dns: false
                },
                &CmsWhat::CallSetUp { call: 6 },
                &CmsWhat::IceFailure {
                    call: Some(6),
                    cause: IceCause::RelayCandidateTimeout
                },
                &CmsWhat::IceFailure {
                    call: Some(7),
                    cause: IceCause::Unauthorized { code: Some(4) }
                },
                &CmsWhat::WebBridgeConnectionFailed {
                    host: "webbridge.alero.aca".into(),
                    reason: "dns failure".into(),
                    dns: true
                },
                &CmsWhat::NameResolutionFailed {
                    link: Some(2),
                    name: "webbridge.alero.aca".into()
                },
                &CmsWhat::WebBridgeLinkFailed {
                    link: 2,
                    reason: "unknown erro".into()
                },
                &CmsWhat::IceFailure {
                    call: Some(8),
                    cause: IceCause::Unauthorized { code: Some(4) }
                },
                &CmsWhat::Other,
            ]
        );
        assert_eq!(log.events[2].level, Some(Level::Warning));
        assert_eq!(log.events[4].level, None);
        assert_eq!(log.events[7].level, Some(Level::Warning));
        assert!(!log.events[7].time.year_known);
        assert_eq!(log.events[8].time.offset_secs, Some(7200));
        assert_eq!(log.events[8].text, "something else broke");
        assert_eq!((log.entries, log.unread, log.lines), (10, 1, 13));
    }

    #[test]
    fn expressway_lines_and_binary_are_not_cms_logs() {
        assert!(!is_cms_log(
            "2026-11-29T10:00:01.234+01:00 expe tvcs: UTCTime=\"x\""
        ));
        assert!(!is_cms_log("hello\nworld\n"));
    }

    #[test]
    fn events_are_bounded() {
        let line = "2017-05-20\t19:43:21.805\tWarning\tcall 6: ICE failure; relay candidate creation timeout\n";
        let text = line.repeat(MAX_EVENTS + 5);
        let log = parse(text.as_bytes()).unwrap();
        assert_eq!((log.events.len(), log.dropped), (MAX_EVENTS, 5));
    }
}
