//! The Expressway diagnostic bundle besides its tcpdump (Maintenance > Diagnostics >
//! Diagnostic logging): file names as the admin guide documents them ([`BundleFile`]), the
//! log of the logging period ([`parse_log`]: `tvcs:` lines -> media routes, alarms, the
//! admin's markers), and the configuration and status dumps ([`parse_dump`]: `*c
//! xConfiguration …: value` / `*s …` lines or an XML tree -> settings by key path, read into
//! the TURN server's profile by [`ServerConfig::from_dumps`]).
//!
//! Cisco does not publish the exact syntax of these files. What is known: log lines carry
//! `UTCTime="…" Module="…" Level="…"` and a `Detail="…"` (media routes: `Route: Creating:
//! Packets Rxd on ADDR … Txd on ADDR …`), alarms `Event="Alarm Raised"`, markers
//! `DEBUG_MARKER`; configuration values are addressed by key paths such as `Traversal Server
//! TURN Port`. So the parsers go by phrases and key words, not by columns, and count what
//! they did not understand.

use std::io::{self, BufReader, Read};
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::clock::{parse_date_time, parse_syslog_time, LogTime};
use super::lines::Lines;

/// Most events kept from one log, most settings from one dump (the rest are counted).
pub const MAX_EVENTS: usize = 20_000;
/// Most settings kept from one dump (the rest are counted in [`Dump::dropped`]).
pub const MAX_SETTINGS: usize = 20_000;
/// Most characters of a detail or value kept.
const MAX_TEXT: usize = 400;

// ---------------------------------------------------------------------------------------
// Names

/// A file of the diagnostic bundle, by the name the admin guide documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleFile {
    /// `loggingsnapshot_<host>_<ts>.txt`
    LoggingSnapshot {
        /// Host name from the file name.
        host: String,
        /// Time stamp from the file name, as written.
        stamp: String,
    },
    /// `xconf_dump_<host>_<ts>` (`.txt` or `.xml`)
    Config {
        /// Host name from the file name.
        host: String,
        /// Time stamp from the file name, as written.
        stamp: String,
    },
    /// `xstat_dump_<host>_<ts>` (`.txt` or `.xml`)
    Status {
        /// Host name from the file name.
        host: String,
        /// Time stamp from the file name, as written.
        stamp: String,
    },
    /// `eth<n>_diagnostic_logging_tcpdump<x>_<host>_<ts>.pcap`
    Tcpdump(TcpdumpPiece),
}

/// One rotated piece of one interface's tcpdump.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpdumpPiece {
    /// `n` of `eth<n>`.
    pub interface: u32,
    /// `x` of `tcpdump<x>` (the rotation number), when the name has one.
    pub piece: Option<u32>,
    /// How many digits the rotation number is written with (`00`: 2).
    pub piece_digits: usize,
    /// Host name from the file name.
    pub host: String,
    /// Time stamp from the file name, as written.
    pub stamp: String,
}

impl TcpdumpPiece {
    /// `eth0`.
    pub fn interface_name(&self) -> String {
        format!("eth{}", self.interface)
    }

    /// The Expressway's name for the interface: eth0 is LAN1, eth1 LAN2.
    pub fn lan(&self) -> String {
        format!("LAN{}", u64::from(self.interface) + 1)
    }
}

impl BundleFile {
    /// Recognise a bundle member by its path's last component (a `.gz` suffix ignored).
    pub fn from_name(path: &str) -> Option<BundleFile> {
        let base = path.rsplit(['/', '\\', '!']).next().unwrap_or(path);
        let base = base.strip_suffix(".gz").unwrap_or(base);
        let lower = base.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("loggingsnapshot_") {
            let (host, stamp) = host_and_stamp(strip_ext(rest, &["txt", "log"]))?;
            return Some(BundleFile::LoggingSnapshot { host, stamp });
        }
        if let Some(rest) = lower.strip_prefix("xconf_dump_") {
            let (host, stamp) = host_and_stamp(strip_ext(rest, &["txt", "xml"]))?;
            return Some(BundleFile::Config { host, stamp });
        }
        if let Some(rest) = lower.strip_prefix("xstat_dump_") {
            let (host, stamp) = host_and_stamp(strip_ext(rest, &["txt", "xml"]))?;
            return Some(BundleFile::Status { host, stamp });
        }
        tcpdump_piece(&lower).map(BundleFile::Tcpdump)
    }
}

fn strip_ext<'a>(s: &'a str, exts: &[&str]) -> &'a str {
    for ext in exts {
        if let Some(stem) = s.strip_suffix(ext).and_then(|x| x.strip_suffix('.')) {
            return stem;
        }
    }
    s
}

/// `<host>_<ts>`: the host is the first `_`-separated word, the stamp the rest.
fn host_and_stamp(s: &str) -> Option<(String, String)> {
    let (host, stamp) = s.split_once('_').unwrap_or((s, ""));
    if host.is_empty() {
        return None;
    }
    Some((host.to_string(), stamp.to_string()))
}

fn take_digits(s: &str, max: usize) -> Option<(u32, usize, &str)> {
    let n = s.bytes().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > max {
        return None;
    }
    Some((s.get(..n)?.parse().ok()?, n, s.get(n..)?))
}

/// `eth<n>_diagnostic_logging_tcpdump<x>_<host>_<ts>.pcap`
fn tcpdump_piece(lower: &str) -> Option<TcpdumpPiece> {
    let rest = lower.strip_prefix("eth")?;
    let (interface, _, rest) = take_digits(rest, 3)?;
    let rest = rest.strip_prefix("_diagnostic_logging_tcpdump")?;
    let (piece, piece_digits, rest) = match take_digits(rest, 6) {
        Some((p, n, rest)) => (Some(p), n, rest),
        None => (None, 0, rest),
    };
    let rest = rest.strip_prefix('_')?;
    let (host, stamp) = host_and_stamp(strip_ext(rest, &["pcap", "pcapng", "cap"]))?;
    Some(TcpdumpPiece {
        interface,
        piece,
        piece_digits,
        host,
        stamp,
    })
}

// ---------------------------------------------------------------------------------------
// The log

/// What a log line says, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogWhat {
    /// `Module="network.mediarouting"`, `Detail="Route: Creating: Packets Rxd on ADDR …
    /// Txd on ADDR …"`: the Expressway setting up (or tearing down) a media route; on a
    /// TURN relay the addresses are the listening and relay ports.
    MediaRoute {
        /// `Creating`, `Deleting`, ... as the detail says.
        action: String,
        /// The Expressway socket packets are received on.
        received_on: Option<SocketAddr>,
        /// Where those packets come from.
        received_from: Option<SocketAddr>,
        /// The Expressway socket packets are sent from.
        sent_on: Option<SocketAddr>,
        /// Where they are sent to.
        sent_to: Option<SocketAddr>,
    },
    /// `Event="Alarm Raised"` (or Lowered, Acknowledged).
    Alarm {
        /// True for Raised, false for Lowered or Acknowledged.
        raised: bool,
        /// The alarm id (e.g. `40005`), None when the line has none.
        id: Option<String>,
        /// The alarm severity as written, None when the line has none.
        severity: Option<String>,
    },
    /// The admin's `DEBUG_MARKER` (Add marker, while logging).
    Marker,
}

/// One line of the log, typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEvent {
    /// Line number in the log, 1-based.
    pub line: u64,
    /// When the line says it was written (the Expressway's clock).
    pub time: LogTime,
    /// The `Module=` value, None when the line has none.
    pub module: Option<String>,
    /// What the line says, typed.
    pub what: LogWhat,
    /// The detail (or the marker's text), cut at a few hundred characters.
    pub text: String,
}

/// The Expressway log of the logging period, read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpresswayLog {
    /// Typed events, the first [`MAX_EVENTS`].
    pub events: Vec<LogEvent>,
    /// Lines read.
    pub lines: u64,
    /// Lines with a time (typed or not).
    pub entries: u64,
    /// Non-blank lines without a time.
    pub unread: u64,
    /// Typed events beyond [`MAX_EVENTS`], not kept.
    pub dropped: u64,
    /// Lines longer than the line limit, cut.
    pub cut: u64,
}

/// True when the first lines of `text` look like an Expressway log.
pub fn is_log(text: &str) -> bool {
    text.lines().take(40).any(|l| {
        l.contains("tvcs:")
            || (l.contains("UTCTime=\"") && (l.contains("Module=\"") || l.contains("Event=\"")))
    })
}

/// Read an Expressway log (loggingsnapshot). A read error ends it where it happened.
pub fn parse_log(r: impl Read) -> io::Result<ExpresswayLog> {
    let mut lines = Lines::new(r);
    let mut log = ExpresswayLog::default();
    while let Some(line) = lines.next_line()? {
        if line.trim().is_empty() {
            continue;
        }
        let Some(time) = line_time(&line) else {
            log.unread += 1;
            continue;
        };
        log.entries += 1;
        let Some((what, text)) = log_what(&line) else {
            continue;
        };
        if log.events.len() >= MAX_EVENTS {
            log.dropped += 1;
            continue;
        }
        log.events.push(LogEvent {
            line: lines.number,
            time,
            module: field(&line, "Module").map(str::to_string),
            what,
            text: text.chars().take(MAX_TEXT).collect(),
        });
    }
    log.lines = lines.number;
    log.cut = lines.cut;
    Ok(log)
}

/// `UTCTime="…"` when the line has it (UTC), else the time the line starts with.
fn line_time(line: &str) -> Option<LogTime> {
    if let Some((mut t, _)) = field(line, "UTCTime").and_then(parse_date_time) {
        t.offset_secs = Some(0);
        return Some(t);
    }
    let start = line.trim_start();
    parse_date_time(start)
        .or_else(|| parse_syslog_time(start))
        .map(|(t, _)| t)
}

/// The value of `key="…"` in a line (up to the next quote).
pub fn field<'l>(line: &'l str, key: &str) -> Option<&'l str> {
    let mut from = 0;
    while let Some(at) = line.get(from..)?.find(key) {
        let start = from + at;
        let before_ok = start == 0
            || line
                .as_bytes()
                .get(start - 1)
                .is_some_and(|b| !b.is_ascii_alphanumeric());
        let after = line.get(start + key.len()..)?;
        if before_ok {
            if let Some(v) = after.strip_prefix("=\"") {
                return Some(v.split('"').next().unwrap_or(v));
            }
        }
        from = start + key.len();
    }
    None
}

/// The typed event of a line, with its text; `None` for lines of no interest.
fn log_what(line: &str) -> Option<(LogWhat, String)> {
    if let Some(at) = line.find("DEBUG_MARKER") {
        let text = line.get(at + "DEBUG_MARKER".len()..).unwrap_or_default();
        let text = text
            .trim_start_matches([':', ' ', '=', '"'])
            .trim_end_matches('"');
        return Some((LogWhat::Marker, text.trim().to_string()));
    }
    if let Some(event) = field(line, "Event").filter(|e| e.starts_with("Alarm")) {
        let what = LogWhat::Alarm {
            raised: event.contains("Raised"),
            id: field(line, "Id").map(str::to_string),
            severity: field(line, "Severity").map(str::to_string),
        };
        let text = field(line, "Detail").unwrap_or(event);
        return Some((what, text.to_string()));
    }
    let detail = field(line, "Detail")?;
    let route = detail.trim_start().strip_prefix("Route:")?;
    let action = route
        .trim_start()
        .split([':', ' '])
        .next()
        .unwrap_or_default()
        .to_string();
    let what = LogWhat::MediaRoute {
        action,
        received_on: addr_after(route, "Rxd on "),
        received_from: addr_after(route.split("Txd").next().unwrap_or(route), "from "),
        sent_on: addr_after(route, "Txd on "),
        sent_to: route
            .split_once("Txd")
            .and_then(|(_, txd)| addr_after(txd, " to ")),
    };
    Some((what, detail.to_string()))
}

/// The address right after `marker` in `text` (`10.81.54.5:3478`, `[2001:db8::1]:3478`).
fn addr_after(text: &str, marker: &str) -> Option<SocketAddr> {
    let (_, after) = text.split_once(marker)?;
    let token = after.split_whitespace().next()?;
    token
        .trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '"' | '\''))
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------
// Configuration and status dumps

/// One value of a dump, by key path (`Traversal Server TURN Port`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// The key path, words joined by spaces.
    pub path: String,
    /// The value as written (at most 400 characters).
    pub value: String,
    /// Line number in the dump, 1-based.
    pub line: u64,
}

/// A configuration (xconf) or status (xstat) dump, read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Dump {
    /// Settings in dump order, the first [`MAX_SETTINGS`].
    pub settings: Vec<Setting>,
    /// True for the XML form of the dump, false for the text form.
    pub xml: bool,
    /// Lines read.
    pub lines: u64,
    /// Non-blank lines (text dumps) that are no setting.
    pub unread: u64,
    /// Settings beyond [`MAX_SETTINGS`], not kept.
    pub dropped: u64,
}

/// True when the first lines of `text` look like a configuration dump.
pub fn is_config(text: &str) -> bool {
    text.contains("xConfiguration") || text.contains("<Configuration")
}

/// True when the first lines of `text` look like a status dump.
pub fn is_status(text: &str) -> bool {
    text.contains("xStatus")
        || text.contains("<Status")
        || text.lines().take(40).any(|l| l.starts_with("*s "))
}

/// Read a configuration or status dump, text (`*c xConfiguration A B: value`, `*s A B:
/// value`) or XML (`<Configuration><A><B>value</B></A></Configuration>`).
pub fn parse_dump(r: impl Read) -> io::Result<Dump> {
    let mut reader = BufReader::with_capacity(64 * 1024, r);
    let first = {
        use std::io::BufRead;
        let buf = reader.fill_buf()?;
        buf.iter().copied().find(|b| !b.is_ascii_whitespace())
    };
    if first == Some(b'<') {
        return super::xmltree::parse(reader);
    }
    let mut lines = Lines::new(reader);
    let mut dump = Dump::default();
    while let Some(line) = lines.next_line()? {
        let t = line.trim();
        if t.is_empty() || is_noise(t) {
            continue;
        }
        let Some((path, value)) = text_setting(t) else {
            dump.unread += 1;
            continue;
        };
        if dump.settings.len() >= MAX_SETTINGS {
            dump.dropped += 1;
            continue;
        }
        dump.settings.push(Setting {
            path,
            value,
            line: lines.number,
        });
    }
    dump.lines = lines.number;
    Ok(dump)
}

/// The lines around settings in a dump: ends, OKs, comments.
fn is_noise(t: &str) -> bool {
    t.starts_with("**")
        || t.starts_with('#')
        || t.eq_ignore_ascii_case("ok")
        || t.starts_with("*c/end")
        || t.starts_with("*s/end")
}

/// `*c xConfiguration A B C: value` -> (`A B C`, `value`).
fn text_setting(t: &str) -> Option<(String, String)> {
    let mut s = t;
    for prefix in ["*c ", "*s ", "*r "] {
        s = s.strip_prefix(prefix).unwrap_or(s);
    }
    for prefix in ["xConfiguration ", "xconfiguration ", "xStatus ", "xstatus "] {
        s = s.strip_prefix(prefix).unwrap_or(s);
    }
    let (path, value) = s.split_once(':')?;
    let path = path.split_whitespace().collect::<Vec<_>>().join(" ");
    if path.is_empty() || path.len() > 200 {
        return None;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some((path, value.chars().take(MAX_TEXT).collect()))
}

/// A value found in a dump, with where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Found<T> {
    /// The value, parsed.
    pub value: T,
    /// The key path as written.
    pub key: String,
    /// Line number in the dump, 1-based.
    pub line: u64,
}

/// A TURN listening port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TurnPort {
    /// The port number.
    pub port: u16,
    /// `udp`, `tcp` or `tls` when the key says so.
    pub transport: Option<&'static str>,
}

/// An address of one of the Expressway's interfaces (LAN1 = eth0, LAN2 = eth1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LanValue {
    /// 1 for LAN1.
    pub lan: u32,
    /// The value as written (an address, or a mode such as `On`).
    pub value: String,
}

/// What the dumps say about the TURN server (each with where it was read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ServerConfig {
    /// TURN listening ports (keys with TURN ending in Port).
    pub turn_ports: Vec<Found<TurnPort>>,
    /// The TURN server's mode or status (`On`, `Off`, `Active`, ...).
    pub turn_mode: Option<Found<String>>,
    /// The TURN realm.
    pub realm: Option<Found<String>>,
    /// Lowest port of the TURN relay (media) range.
    pub relay_start: Option<Found<u16>>,
    /// Highest port of the TURN relay (media) range.
    pub relay_end: Option<Found<u16>>,
    /// The TURN protocol setting, as written.
    pub protocol_mode: Option<Found<String>>,
    /// IP addresses of the LAN interfaces.
    pub lan_addresses: Vec<Found<LanValue>>,
    /// Static NAT addresses per LAN.
    pub static_nat: Vec<Found<LanValue>>,
    /// Static NAT mode per LAN (`On`/`Off`).
    pub static_nat_mode: Vec<Found<LanValue>>,
    /// Dual network interfaces on, None when the dumps do not say.
    pub dual_nic: Option<Found<bool>>,
    /// Software version (`SystemUnit Software Version` preferred).
    pub version: Option<Found<String>>,
    /// Option keys installed (their key or description).
    pub option_keys: Vec<Found<String>>,
    /// TURN relay and allocation usage figures (status), each as `key: value`.
    pub relay_usage: Vec<Found<String>>,
}

impl ServerConfig {
    /// Read the settings of a configuration or status dump into the profile (the first
    /// value of each single item wins).
    pub fn add(&mut self, dump: &Dump) {
        for s in &dump.settings {
            self.setting(s);
        }
    }

    /// How many items the dumps gave.
    pub fn items(&self) -> usize {
        self.turn_ports.len()
            + usize::from(self.turn_mode.is_some())
            + usize::from(self.realm.is_some())
            + usize::from(self.relay_start.is_some())
            + usize::from(self.relay_end.is_some())
            + usize::from(self.protocol_mode.is_some())
            + self.lan_addresses.len()
            + self.static_nat.len()
            + self.static_nat_mode.len()
            + usize::from(self.dual_nic.is_some())
            + usize::from(self.version.is_some())
            + self.option_keys.len()
            + self.relay_usage.len()
    }

    fn setting(&mut self, s: &Setting) {
        let words = key_words(&s.path);
        let has = |w: &str| words.iter().any(|x| x == w);
        let last = words.last().map(String::as_str).unwrap_or_default();
        let value = s.value.trim();
        if has("turn") {
            self.turn_setting(s, &words, value);
        }
        if let Some(lan) = lan_number(&words) {
            let nat = has("staticnat") || (has("static") && has("nat"));
            let lan_value = LanValue {
                lan,
                value: value.to_string(),
            };
            let ip_key = ["v4", "ipv4", "ip", "v6", "ipv6"].into_iter().any(has);
            if nat && last == "address" {
                self.static_nat.push(found(s, lan_value));
            } else if nat && last == "mode" {
                self.static_nat_mode.push(found(s, lan_value));
            } else if last == "address" && ip_key && value.parse::<std::net::IpAddr>().is_ok() {
                self.lan_addresses.push(found(s, lan_value));
            }
        }
        if has("dualnic") || (has("dual") && (has("nic") || has("interfaces"))) {
            first(&mut self.dual_nic, || found(s, is_on(value)));
        }
        if has("version") && !value.is_empty() {
            // `SystemUnit Software Version` beats any other version key.
            let better = self.version.as_ref().is_none_or(|v| {
                has("software") && !key_words(&v.key).iter().any(|w| w == "software")
            });
            if better {
                self.version = Some(found(s, value.to_string()));
            }
        }
        if has("option") && (has("key") || has("description")) && !value.is_empty() {
            self.option_keys.push(found(s, value.to_string()));
        }
    }

    /// A key path with TURN in it: ports, realm, relay range, protocol, mode, usage.
    fn turn_setting(&mut self, s: &Setting, words: &[String], value: &str) {
        let has = |w: &str| words.iter().any(|x| x == w);
        let last = words.last().map(String::as_str).unwrap_or_default();
        let ranged = has("media") || has("relay") || has("range");
        let bound = ["start", "end", "min", "max", "first", "last"]
            .into_iter()
            .find(|w| has(w));
        let usage = has("relays") || has("allocations") || (has("relay") && bound.is_none());
        if let (true, Some(b), Ok(port)) = (ranged, bound, value.parse::<u16>()) {
            let slot = if matches!(b, "start" | "min" | "first") {
                &mut self.relay_start
            } else {
                &mut self.relay_end
            };
            first(slot, || found(s, port));
        } else if usage {
            self.relay_usage
                .push(found(s, format!("{}: {value}", s.path)));
        } else if has("realm") {
            first(&mut self.realm, || found(s, value.to_string()));
        } else if has("protocol") {
            first(&mut self.protocol_mode, || found(s, value.to_string()));
        } else if (last == "port" || last == "ports") && !ranged {
            if let Ok(port) = value.parse::<u16>() {
                let transport = ["udp", "tcp", "tls"].into_iter().find(|w| has(w));
                self.turn_ports.push(found(s, TurnPort { port, transport }));
            }
        } else if matches!(last, "mode" | "status" | "enabled") {
            first(&mut self.turn_mode, || found(s, value.to_string()));
        }
    }
}

/// A value read from setting `s`.
fn found<T>(s: &Setting, value: T) -> Found<T> {
    Found {
        value,
        key: s.path.clone(),
        line: s.line,
    }
}

fn first<T>(slot: &mut Option<T>, make: impl FnOnce() -> T) {
    if slot.is_none() {
        *slot = Some(make());
    }
}

/// Lower-case words of a key path; `Ethernet1`/`LAN2` split into word and number,
/// `IPv4`/`V4` kept.
fn key_words(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in path.split(|c: char| c.is_whitespace() || matches!(c, '.' | '_' | '/' | '-')) {
        let w = raw.to_ascii_lowercase();
        if w.is_empty() {
            continue;
        }
        let digits = w.bytes().rev().take_while(u8::is_ascii_digit).count();
        let (word, number) = w.split_at(w.len() - digits);
        if !number.is_empty() && (word == "ethernet" || word == "lan" || word == "eth") {
            out.push(word.to_string());
            out.push(number.to_string());
        } else {
            out.push(w);
        }
    }
    out
}

/// The LAN a key path is about: `Ethernet 1`/`LAN 1` is LAN1, `eth0` is LAN1.
fn lan_number(words: &[String]) -> Option<u32> {
    words.windows(2).find_map(|pair| {
        let [word, number] = pair else { return None };
        let n: u32 = number.parse().ok()?;
        match word.as_str() {
            "ethernet" | "lan" => Some(n).filter(|n| (1..=8).contains(n)),
            "eth" => n.checked_add(1).filter(|n| (1..=8).contains(n)),
            _ => None,
        }
    })
}

fn is_on(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "on" | "yes" | "true" | "enabled" | "1"
    )
}

impl ServerConfig {
    /// The profile of several dumps (configuration and status, possibly of cluster peers),
    /// in the order given.
    pub fn from_dumps<'d>(dumps: impl IntoIterator<Item = &'d Dump>) -> ServerConfig {
        let mut c = ServerConfig::default();
        for d in dumps {
            c.add(d);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_names() {
        assert_eq!(
            BundleFile::from_name("diag/loggingsnapshot_expe1_2026-11-29_10-00-00.txt"),
            Some(BundleFile::LoggingSnapshot {
                host: "expe1".into(),
                stamp: "2026-11-29_10-00-00".into()
            })
        );
        let Some(BundleFile::Tcpdump(p)) = BundleFile::from_name(
            "eth1_diagnostic_logging_tcpdump07_expe1_2026-11-29_10-00-00.pcap.gz",
        ) else {
            panic!("a tcpdump piece");
        };
        assert_eq!((p.interface, p.piece, p.piece_digits), (1, Some(7), 2));
        assert_eq!(
            (p.interface_name(), p.lan()),
            ("eth1".into(), "LAN2".into())
        );
        let Some(BundleFile::Tcpdump(p)) =
            BundleFile::from_name("eth0_diagnostic_logging_tcpdump_expe1_x.pcap")
        else {
            panic!("a tcpdump without rotation number");
        };
        assert_eq!(p.piece, None);
        assert!(matches!(
            BundleFile::from_name("XCONF_DUMP_expe1_x.xml"),
            Some(BundleFile::Config { .. })
        ));
        for other in [
            "eth99999_diagnostic_logging_tcpdump00_h_t.pcap",
            "eth0_diagnostic_logging_tcpdump9999999_h_t.pcap",
            "eth0_diagnostic_logging_tcpdump00__t.pcap",
            "readme.txt",
            "",
        ] {
            assert_eq!(BundleFile::from_name(other), None, "{other}");
        }
    }

    #[test]
    fn log_lines() {
        let text = "\
2026-11-29T11:00:01.100+01:00 expe1 tvcs: UTCTime=\"2026-11-29 10:00:01,100\" Module=\"network.mediarouting\" Level=\"DEBUG\": Detail=\"Route: Creating: Packets Rxd on 172.16.245.61:3478 from 203.0.113.10:50000 Txd on 172.16.245.61:24012 to 203.0.113.10:50000\"
2026-11-29T11:00:02.000+01:00 expe1 tvcs: Event=\"Alarm Raised\" Id=\"40028\" Severity=\"warning\" Detail=\"TURN relay licence limit reached\" UTCTime=\"2026-11-29 10:00:02,000\"
2026-11-29T11:00:03.000+01:00 expe1 tvcs: UTCTime=\"2026-11-29 10:00:03,000\" Module=\"developer.diagnostics\" Level=\"INFO\": Detail=\"DEBUG_MARKER: guest joins now\"
2026-11-29T11:00:04.000+01:00 expe1 tvcs: UTCTime=\"2026-11-29 10:00:04,000\" Module=\"network.sip\" Level=\"DEBUG\": Action=\"Received\"
garbage
";
        assert!(is_log(text));
        let log = parse_log(text.as_bytes()).unwrap();
        assert_eq!((log.entries, log.unread, log.events.len()), (4, 1, 3));
        let e = &log.events[0];
        assert_eq!(e.time.utc_ns(), Some(e.time.wall_ns));
        assert_eq!(
            e.what,
            LogWhat::MediaRoute {
                action: "Creating".into(),
                received_on: "172.16.245.61:3478".parse().ok(),
                received_from: "203.0.113.10:50000".parse().ok(),
                sent_on: "172.16.245.61:24012".parse().ok(),
                sent_to: "203.0.113.10:50000".parse().ok(),
            }
        );
        assert_eq!(e.module.as_deref(), Some("network.mediarouting"));
        assert!(matches!(
            log.events[1].what,
            LogWhat::Alarm { raised: true, .. }
        ));
        assert_eq!(log.events[1].text, "TURN relay licence limit reached");
        assert_eq!(log.events[2].what, LogWhat::Marker);
        assert_eq!(log.events[2].text, "guest joins now");
    }

    #[test]
    fn text_and_xml_dumps_give_the_same_profile() {
        let text = "\
*c xConfiguration Traversal Server TURN Mode: On
*c xConfiguration Traversal Server TURN Port: 3478
*c xConfiguration Traversal Server TURN Realm: \"TANDBERG\"
*c xConfiguration Traversal Server TURN Protocol Mode: \"Both\"
*c xConfiguration Traversal Server TURN Media Port Start: 24000
*c xConfiguration Traversal Server TURN Media Port End: 29999
*c xConfiguration Traversal Media Port Start: 36000
*c xConfiguration Ethernet 1 IP V4 Address: \"172.16.85.168\"
*c xConfiguration Ethernet 2 IP V4 Address: \"172.16.245.61\"
*c xConfiguration Ethernet 2 IP V4 StaticNAT Mode: On
*c xConfiguration Ethernet 2 IP V4 StaticNAT Address: \"198.51.100.10\"
*c xConfiguration IP DualNIC: On
this line is not understood
** end
";
        let xml = "<Configuration product=\"Expressway\"><Traversal><Server><TURN>\
<Mode>On</Mode><Port>3478</Port><Realm>TANDBERG</Realm><Protocol><Mode>Both</Mode></Protocol>\
<Media><Port><Start>24000</Start><End>29999</End></Port></Media></TURN></Server>\
<Media><Port><Start>36000</Start></Port></Media></Traversal>\
<Ethernet item=\"1\"><IP><V4><Address>172.16.85.168</Address></V4></IP></Ethernet>\
<Ethernet item=\"2\"><IP><V4><Address>172.16.245.61</Address>\
<StaticNAT><Mode>On</Mode><Address>198.51.100.10</Address></StaticNAT></V4></IP></Ethernet>\
<IP><DualNIC>On</DualNIC></IP></Configuration>";
        let a = parse_dump(text.as_bytes()).unwrap();
        assert_eq!((a.settings.len(), a.unread, a.xml), (12, 1, false));
        let b = parse_dump(xml.as_bytes()).unwrap();
        assert!(b.xml);
        for dump in [&a, &b] {
            let c = ServerConfig::from_dumps([dump]);
            assert_eq!(c.turn_ports.len(), 1, "{c:?}");
            assert_eq!(c.turn_ports[0].value.port, 3478);
            assert_eq!(c.realm.as_ref().map(|f| f.value.as_str()), Some("TANDBERG"));
            assert_eq!(c.relay_start.as_ref().map(|f| f.value), Some(24000));
            assert_eq!(c.relay_end.as_ref().map(|f| f.value), Some(29999));
            assert_eq!(
                c.protocol_mode.as_ref().map(|f| f.value.as_str()),
                Some("Both")
            );
            assert_eq!(c.turn_mode.as_ref().map(|f| f.value.as_str()), Some("On"));
            assert_eq!(c.lan_addresses.len(), 2);
            assert_eq!(c.lan_addresses[1].value.lan, 2);
            assert_eq!(c.static_nat[0].value.value, "198.51.100.10");
            assert_eq!(c.dual_nic.as_ref().map(|f| f.value), Some(true));
        }
        assert_eq!(a.settings[1].line, 2);
    }

    #[test]
    fn status_dump() {
        let text = "\
*s SystemUnit Product: \"Cisco Expressway\"
*s SystemUnit Software Version: \"X14.3.1\"
*s SystemUnit Software Name: \"Release\"
*s Options Option 1 Key: \"116341Y00-1-AAAAAAAA\"
*s Options Option 1 Description: \"1800 TURN Relays\"
*s TURN Relays Active: 2
*s TURN Relays Licensed: 1800
";
        assert!(is_status(text));
        let c = ServerConfig::from_dumps([&parse_dump(text.as_bytes()).unwrap()]);
        assert_eq!(
            c.version.as_ref().map(|f| f.value.as_str()),
            Some("X14.3.1")
        );
        assert_eq!(c.option_keys.len(), 2);
        assert_eq!(c.relay_usage.len(), 2, "{c:?}");
        assert!(c.turn_ports.is_empty());
    }
}
