//! Findings + flows -> the report of one case, rendered as a terminal table, JSON (the contract
//! of `docs/cli.md`), Markdown for case notes, or self-contained HTML with an SVG
//! ladder diagram.

mod analyze;
mod html;
mod ladder;
mod logs;
mod present;
mod profile;
mod redact;
mod streamed;
mod text;

use std::net::SocketAddr;

use rayon::prelude::*;
use serde::Serialize;

use crate::diagnose::{self, DiagnoseOptions, Finding, Severity};
use crate::escape::{self, JsonPretty};
use crate::flow::case::ServerHints;
use crate::flow::{
    carrier_name, AllocOutcome, CaptureFlows, Case, CaseTx, CheckPath, CheckVerdict, ClockOffset,
    Counter, Credential, FlowOptions, Hop, NatMapping, Role, Summarised, TxPath,
};
use crate::sources::Document;

pub use crate::input::{Input, InputError, Source};
pub use analyze::{analyze, assemble, read_inputs};
pub use html::{html, html_at};
pub use logs::{BrowserEvent, DocumentInfo, EventWhat, LinkInfo, LogEventInfo, LogsInfo};
pub use present::{common_folder, evidence_groups, frame_ranges, EvidenceGroup, Verdict};
pub use profile::ProfileItem;
pub use text::{markdown, table, terminal, visible_width, TermStyle, DEFAULT_WIDTH, MIN_WIDTH};

/// Options of one analysis (the `analyze` command line).
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    pub credentials: Vec<Credential>,
    pub realm: Option<String>,
    /// `--turn-port`: only a hint when the traffic does not show the TURN port.
    pub turn_port: Option<u16>,
    /// `--relay-ports A-B`: only a hint when no allocation shows the relay range.
    pub relay_ports: Option<(u16, u16)>,
    /// Most bytes a bundle may decompress to (all members together).
    pub bundle_limit: u64,
    /// `--join-url`: the web bridge join URL the guests browse to.
    pub join_url: Option<String>,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            credentials: Vec::new(),
            realm: None,
            turn_port: None,
            relay_ports: None,
            bundle_limit: crate::capture::bundle::DEFAULT_LIMIT,
            join_url: None,
        }
    }
}

impl AnalyzeOptions {
    pub fn flow_options(&self) -> FlowOptions {
        FlowOptions {
            credentials: self.credentials.clone(),
            realm: self.realm.clone(),
        }
    }

    pub fn hints(&self) -> ServerHints {
        let d = ServerHints::default();
        ServerHints {
            turn_port: self.turn_port.unwrap_or(d.turn_port),
            turn_port_given: self.turn_port.is_some(),
            relay_ports: self.relay_ports.unwrap_or(d.relay_ports),
            relay_ports_given: self.relay_ports.is_some(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureInfo {
    pub path: String,
    pub role: Role,
    pub frames: u64,
    pub stun_messages: u64,
    /// Why this role (inferred or given).
    pub role_reason: String,
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
    /// Reading problems (cut packets, TCP gaps...), counted.
    pub problems: u64,
    /// What the capture counted without keeping it in full, beyond the memory budget
    /// (`docs/architecture.md`, "Memory"); absent when it kept everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summarised: Option<Summarised>,
    /// The Expressway interface the capture was taken on, from the bundle's file names
    /// (`Expressway eth1 = LAN2 (external: static NAT …)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The files it was read from, in time order, when it is several rotated pieces.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<PieceInfo>,
}

impl CaptureInfo {
    /// One sentence on what was summarised, if anything.
    pub fn summarised_note(&self) -> Option<String> {
        let s = self.summarised.as_ref()?;
        let mut parts = Vec::new();
        if s.transactions > 0 {
            parts.push(format!(
                "{} transactions counted into a kept transaction of the same kind on their flow ({} flows; findings count them)",
                s.transactions, s.flows
            ));
        }
        if s.unclassified > 0 {
            parts.push(format!(
                "{} transactions of further kinds counted in the totals only",
                s.unclassified
            ));
        }
        if s.sightings > 0 {
            parts.push(format!(
                "{} retransmissions and responses counted only",
                s.sightings
            ));
        }
        if s.indications > 0 {
            parts.push(format!("{} indications counted only", s.indications));
        }
        if s.events > 0 {
            parts.push(format!(
                "{} ICMP, TCP and TLS events counted only",
                s.events
            ));
        }
        Some(format!(
            "beyond the memory budget (from frame {}): {}",
            s.from_frame.unwrap_or(0),
            parts.join("; ")
        ))
    }
}

/// One rotated piece of a capture.
#[derive(Debug, Clone, Serialize)]
pub struct PieceInfo {
    pub path: String,
    pub frames: u32,
    pub first_ts: Option<f64>,
    pub last_ts: Option<f64>,
}

/// A bundle (or another input read as a stream) of the case.
#[derive(Debug, Clone, Serialize)]
pub struct BundleInfo {
    pub path: String,
    /// Bytes inflated, all gzip layers together.
    pub inflated: u64,
    /// Tar entries.
    pub entries: u64,
    /// What the engineer should know: incomplete rotations, no capture at all.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TxSeen {
    pub capture: String,
    #[serde(serialize_with = "addr_json::one")]
    pub src: SocketAddr,
    #[serde(serialize_with = "addr_json::one")]
    pub dst: SocketAddr,
    pub request_frames: Vec<u32>,
    pub response_frame: Option<u32>,
    pub response: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TxInfo {
    pub txid: String,
    pub method: String,
    pub transport: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carried_in: Option<&'static str>,
    #[serde(serialize_with = "addr_json::optional")]
    pub client: Option<SocketAddr>,
    #[serde(serialize_with = "addr_json::optional")]
    pub server: Option<SocketAddr>,
    /// "success", "error 401", "none" (unanswered).
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub retransmissions: usize,
    /// Send times of the request and its retransmissions, ms after the first.
    pub schedule_ms: Vec<f64>,
    pub rtt_ms: Option<f64>,
    pub ts: f64,
    pub ice_check: bool,
    /// Transactions beyond the memory budget counted into this one (absent when none).
    #[serde(skip_serializing_if = "is_zero")]
    pub alike: u64,
    pub seen: Vec<TxSeen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<TxPath>,
    /// For an ICE connectivity check: where it left from and how far it got, hop by hop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckInfo>,
}

/// How far a connectivity check got (from [`crate::flow::CheckVerdict`]).
#[derive(Debug, Clone, Serialize)]
pub struct CheckInfo {
    /// The hop it left on: `client to server (relayed data)`, `server to client (relayed
    /// data)`, `relay to peer`, `peer to relay`, `relay to relay`, `direct`.
    pub leg: &'static str,
    /// `answered` (back where it left), `answer lost`, `unanswered`.
    pub verdict: &'static str,
    /// Where the request (unanswered) or its answer (answer lost) was last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<HopInfo>,
}

/// One sighting of a check on its path.
#[derive(Debug, Clone, Serialize)]
pub struct HopInfo {
    pub capture: String,
    pub frame: u32,
    pub leg: &'static str,
}

impl CheckInfo {
    fn of(case: &Case, p: &CheckPath) -> CheckInfo {
        let hop = |h: &Hop| {
            let at = case.captures[h.cap].frame_ref(h.frame);
            HopInfo {
                capture: at.capture.to_string(),
                frame: at.frame,
                leg: h.leg.as_str(),
            }
        };
        let (verdict, last) = match &p.verdict {
            CheckVerdict::Answered => ("answered", None),
            CheckVerdict::AnswerLost { last } => ("answer lost", Some(hop(last))),
            CheckVerdict::Unanswered { last } => ("unanswered", Some(hop(last))),
        };
        CheckInfo {
            leg: p.origin.leg.as_str(),
            verdict,
            last,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Relayed {
    pub send_indications: Counter,
    pub data_indications: Counter,
    pub channeldata_out: Counter,
    pub channeldata_in: Counter,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelInfo {
    pub channel: u16,
    pub peer: SocketAddr,
}

#[derive(Debug, Clone, Serialize)]
pub struct AllocInfo {
    pub capture: String,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub transport: &'static str,
    pub username: Option<String>,
    pub realm: Option<String>,
    pub outcome: String,
    pub challenge_frame: Option<u32>,
    /// When the challenge is in another rotated piece than `capture`: that piece.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_capture: Option<String>,
    pub outcome_frame: Option<u32>,
    pub relayed: Option<SocketAddr>,
    pub mapped: Option<SocketAddr>,
    pub lifetime: Option<u32>,
    pub refreshes: usize,
    pub permissions: Vec<SocketAddr>,
    pub channels: Vec<ChannelInfo>,
    pub relayed_data: Relayed,
    pub released: bool,
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OffsetInfo {
    pub capture: String,
    pub offset_ms: f64,
    pub method: &'static str,
    pub error_ms: f64,
    pub transactions: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Correlation {
    /// The capture whose clock the paths use.
    pub reference: Option<String>,
    pub clock_offsets: Vec<OffsetInfo>,
    pub nat: Vec<NatMapping>,
    /// TURN server addresses as the traffic shows them ("IP:PORT/transport").
    pub turn_servers: Vec<String>,
    pub relay_ports: (u16, u16),
}

/// Everything `analyze` says about one case.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub captures: Vec<CaptureInfo>,
    pub transactions: Vec<TxInfo>,
    pub allocations: Vec<AllocInfo>,
    pub findings: Vec<Finding>,
    pub correlation: Correlation,
    pub errors: Vec<InputError>,
    /// The TURN server's profile: flags, then the Expressway's configuration and status.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub server_profile: Vec<ProfileItem>,
    /// The documents (logs, dumps), their events, links to packets and clocks.
    #[serde(skip_serializing_if = "LogsInfo::is_empty")]
    pub logs: LogsInfo,
    /// Bundles and other inputs read as streams.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<BundleInfo>,
    /// Packets (runs of transactions), log lines and browser events in one time order, on
    /// the reference capture's clock ([`crate::timeline`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<crate::timeline::Entry>,
    /// Timeline entries beyond its limits, counted only.
    #[serde(skip_serializing_if = "is_zero_count")]
    pub timeline_not_listed: usize,
    /// Document events whose time could not be placed on the captures' clock.
    #[serde(skip_serializing_if = "is_zero_count")]
    pub timeline_not_placed: usize,
}

fn is_zero_count(n: &usize) -> bool {
    *n == 0
}

impl Report {
    /// Finding ids in report order.
    pub fn ids(&self) -> Vec<&'static str> {
        self.findings.iter().map(|f| f.id).collect()
    }

    pub fn has(&self, id: &str) -> bool {
        self.findings.iter().any(|f| f.id == id)
    }

    pub fn finding(&self, id: &str) -> Option<&Finding> {
        self.findings.iter().find(|f| f.id == id)
    }

    /// The findings of severity error (not [`Report::errors`], the inputs that could not be
    /// read).
    pub fn error_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    /// The report as pretty-printed JSON, byte for byte what `serde_json::to_string_pretty`
    /// gives, except that the characters of [`crate::escape`] are written as `\uXXXX`.
    pub fn json(&self) -> String {
        let mut out = Vec::new();
        match self.write_json(&mut out) {
            Ok(()) => String::from_utf8(out).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
            Err(e) => format!("{{\"error\":\"{e}\"}}"),
        }
    }

    /// Write [`Report::json`] to `w`. The transactions, most of the text on a busy capture,
    /// are rendered in parallel and written between the rest of the report's head and tail.
    pub fn write_json(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        const SLOT: &str = "\n  \"transactions\": []";
        if self.transactions.is_empty() {
            return w.write_all(escape::to_json_pretty(self)?.as_bytes());
        }
        // The report without its transactions (same fields, same order).
        #[derive(Serialize)]
        struct Outline<'a> {
            captures: &'a [CaptureInfo],
            transactions: &'a [TxInfo],
            allocations: &'a [AllocInfo],
            findings: &'a [Finding],
            correlation: &'a Correlation,
            errors: &'a [InputError],
            #[serde(skip_serializing_if = "<[ProfileItem]>::is_empty")]
            server_profile: &'a [ProfileItem],
            #[serde(skip_serializing_if = "LogsInfo::is_empty")]
            logs: &'a LogsInfo,
            #[serde(skip_serializing_if = "<[BundleInfo]>::is_empty")]
            bundles: &'a [BundleInfo],
            #[serde(skip_serializing_if = "<[crate::timeline::Entry]>::is_empty")]
            timeline: &'a [crate::timeline::Entry],
            #[serde(skip_serializing_if = "is_zero_count")]
            timeline_not_listed: usize,
            #[serde(skip_serializing_if = "is_zero_count")]
            timeline_not_placed: usize,
        }
        let text = escape::to_json_pretty(&Outline {
            captures: &self.captures,
            transactions: &[],
            allocations: &self.allocations,
            findings: &self.findings,
            correlation: &self.correlation,
            errors: &self.errors,
            server_profile: &self.server_profile,
            logs: &self.logs,
            bundles: &self.bundles,
            timeline: &self.timeline,
            timeline_not_listed: self.timeline_not_listed,
            timeline_not_placed: self.timeline_not_placed,
        })?;
        // A newline followed by two spaces only occurs in the printer's own layout (string
        // contents have their newlines escaped), so this is the top-level field. Split just
        // before the empty array's closing bracket.
        let split = text.find(SLOT).map(|at| at + SLOT.len() - 1);
        let (Some(head), Some(tail)) = (
            split.and_then(|n| text.get(..n)),
            split.and_then(|n| text.get(n + 1..)),
        ) else {
            return w.write_all(escape::to_json_pretty(self)?.as_bytes());
        };
        // Elements sit two levels deep in the document.
        w.write_all(head.as_bytes())?;
        w.write_all(b"\n")?;
        // Rendered in parallel a group of chunks at a time and written before the next group,
        // so that the text of a big report is never all in memory.
        const CHUNK: usize = 256;
        const GROUP: usize = 64 * CHUNK;
        for (g, group) in self.transactions.chunks(GROUP).enumerate() {
            let parts = group
                .par_chunks(CHUNK)
                .map(|chunk| {
                    let mut out = Vec::with_capacity(chunk.len() * 768);
                    for tx in chunk {
                        out.extend_from_slice(if out.is_empty() { b"    " } else { b",\n    " });
                        let mut ser =
                            serde_json::Serializer::with_formatter(&mut out, JsonPretty::at(2));
                        tx.serialize(&mut ser)?;
                    }
                    Ok(out)
                })
                .collect::<Result<Vec<Vec<u8>>, serde_json::Error>>()?;
            for (i, part) in parts.iter().enumerate() {
                if g > 0 || i > 0 {
                    w.write_all(b",\n")?;
                }
                w.write_all(part)?;
            }
        }
        w.write_all(b"\n  ]")?;
        w.write_all(tail.as_bytes())
    }
}

/// Addresses as JSON strings, the same text as serde's own (`IP:PORT`, IPv6 in brackets),
/// without the formatting machinery for IPv4: a busy report writes tens of thousands.
mod addr_json {
    use std::net::SocketAddr;

    use serde::Serializer;

    pub fn one<S: Serializer>(a: &SocketAddr, s: S) -> Result<S::Ok, S::Error> {
        let SocketAddr::V4(v4) = a else {
            return serde::Serialize::serialize(a, s);
        };
        // "255.255.255.255:65535" is 21 bytes.
        let mut buf = [0u8; 21];
        let mut n = 0;
        let mut put = |b: u8| {
            if let Some(slot) = buf.get_mut(n) {
                *slot = b;
                n += 1;
            }
        };
        for (i, octet) in v4.ip().octets().into_iter().enumerate() {
            if i > 0 {
                put(b'.');
            }
            decimal(u32::from(octet), &mut put);
        }
        put(b':');
        decimal(u32::from(v4.port()), &mut put);
        match buf.get(..n).and_then(|b| std::str::from_utf8(b).ok()) {
            Some(text) => s.serialize_str(text),
            None => serde::Serialize::serialize(a, s),
        }
    }

    pub fn optional<S: Serializer>(a: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match a {
            Some(a) => one(a, s),
            None => s.serialize_none(),
        }
    }

    fn decimal(v: u32, put: &mut impl FnMut(u8)) {
        let mut digits = [0u8; 10];
        let mut len = 0;
        let mut v = v;
        loop {
            if let Some(d) = digits.get_mut(len) {
                *d = b'0' + (v % 10) as u8;
            }
            len += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for d in digits.iter().take(len).rev() {
            put(*d);
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn same_text_as_serde() {
            for a in [
                "0.0.0.0:0",
                "255.255.255.255:65535",
                "192.0.2.10:3478",
                "10.1.20.3:9",
                "[2001:db8::1]:3478",
                "[::ffff:192.0.2.1]:1",
            ] {
                let a: std::net::SocketAddr = a.parse().unwrap();
                let mut ours = Vec::new();
                super::one(&a, &mut serde_json::Serializer::new(&mut ours)).unwrap();
                assert_eq!(ours, serde_json::to_vec(&a).unwrap(), "{a}");
            }
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn secs(ts: i64) -> f64 {
    ts as f64 / 1e9
}

/// Everything read for one case, before it is assembled.
#[derive(Debug, Default)]
pub struct CaseParts {
    pub flows: Vec<CaptureFlows>,
    /// Per capture: `--client` / `--server`.
    pub roles: Vec<Option<Role>>,
    /// Per capture: the Expressway interface it was taken on (`eth<n>`), labelled with what
    /// the configuration of its own bundle says of it (a cluster's peers differ).
    pub interfaces: Vec<Option<String>>,
    pub documents: Vec<Document>,
    pub bundles: Vec<BundleInfo>,
    pub errors: Vec<InputError>,
}

/// Diagnose captures already read into flows, and build the report.
pub fn report_from_flows(
    flows: Vec<CaptureFlows>,
    roles: &[Option<Role>],
    errors: Vec<InputError>,
    opts: &AnalyzeOptions,
) -> Report {
    let parts = CaseParts {
        interfaces: vec![None; flows.len()],
        flows,
        roles: roles.to_vec(),
        errors,
        ..CaseParts::default()
    };
    report_from_parts(parts, opts)
}

/// Assemble the case (the server profile from flags and dumps configures it), diagnose it,
/// link the logs to its packets, and build the report.
pub fn report_from_parts(parts: CaseParts, opts: &AnalyzeOptions) -> Report {
    let CaseParts {
        flows,
        roles,
        interfaces,
        documents,
        bundles,
        mut errors,
    } = parts;
    let profile = profile::Profile::build(opts, &documents);
    errors.extend(not_understood(&documents));
    let case = Case::build(flows, &roles, profile.hints());
    let diagnose_options = DiagnoseOptions {
        credentials: opts.credentials.clone(),
        realm: opts.realm.clone().or_else(|| profile.realm.clone()),
        join_url: opts.join_url.clone(),
        browsers: diagnose::browser::guest_public_ips(&documents),
    };
    let (mut findings, mut report) = rayon::join(
        || diagnose::diagnose(&case, &diagnose_options),
        || build(&case, errors),
    );
    let links = diagnose::logs::link(&case, &documents);
    findings.extend(diagnose::logs::findings(&case, &documents, &links));
    let browser = diagnose::browser::diagnose(&case, &documents);
    findings.extend(browser.findings);
    findings.sort_by(|a, b| {
        (a.severity, a.ts, a.id, &a.summary).cmp(&(b.severity, b.ts, b.id, &b.summary))
    });
    report.findings = findings;
    let mut clocks = diagnose::logs::clocks(&links);
    clocks.extend(browser.clocks);
    report.logs = logs::logs_info(&case, &documents, &links, clocks);
    let line = crate::timeline::build(&case, logs::timeline_events(&report.logs));
    report.timeline = line.entries;
    report.timeline_not_listed = line.not_listed;
    report.timeline_not_placed = line.not_placed;
    for (info, interface) in report.captures.iter_mut().zip(&interfaces) {
        if let Some(label) = interface {
            let label = label.clone();
            info.role_reason = if info.role == Role::Server {
                // The role came with the capture (streamed::join_runs), not from a flag.
                format!("{label}: the Expressway's own tcpdump (diagnostic logging), the TURN server's vantage point")
            } else if info.role_reason.is_empty() {
                label.clone()
            } else {
                format!("{}; {label}", info.role_reason)
            };
            info.interface = Some(label);
        }
    }
    report.server_profile = profile.items;
    report.bundles = bundles;
    // Freeing a big case takes a few milliseconds the caller need not wait for.
    rayon::spawn(move || drop(case));
    report
}

/// Documents of which nothing was understood: listed as not read.
fn not_understood(documents: &[Document]) -> Vec<InputError> {
    documents
        .iter()
        .filter(|d| !d.understood() || d.error.is_some())
        .map(|d| {
            let lines = d.counts().lines;
            let reason = match &d.error {
                Some(e) => format!("{}: read up to line {lines} only: {e}", d.kind.describe()),
                None => format!(
                    "{}: not read: none of its {lines} lines was understood",
                    d.kind.describe()
                ),
            };
            InputError::new(&d.name, reason)
        })
        .collect()
}

/// The report's tables (everything but the findings).
fn build(case: &Case, errors: Vec<InputError>) -> Report {
    let captures = case
        .captures
        .iter()
        .enumerate()
        .map(|(i, c)| CaptureInfo {
            path: c.name.clone(),
            role: case.roles[i],
            frames: c.frames,
            stun_messages: c.stun_messages,
            role_reason: case.role_reasons[i].clone(),
            first_ts: c.first_ts.map(|t| secs(t.0)),
            last_ts: c.last_ts.map(|t| secs(t.0)),
            problems: c.problem_count,
            summarised: (!c.summarised.is_empty()).then(|| c.summarised.clone()),
            interface: None,
            pieces: c
                .pieces
                .iter()
                .map(|p| PieceInfo {
                    path: p.name.clone(),
                    frames: p.frames,
                    first_ts: p.first_ts.map(|t| secs(t.0)),
                    last_ts: p.last_ts.map(|t| secs(t.0)),
                })
                .collect(),
        })
        .collect();
    let checks = crate::flow::hops::check_paths(case);
    let check_of: std::collections::HashMap<usize, &CheckPath> =
        checks.iter().map(|p| (p.tx, p)).collect();
    let mut transactions: Vec<TxInfo> = case
        .txs
        .par_iter()
        .enumerate()
        .filter_map(|(ti, t)| {
            let mut info = tx_info(case, ti, t)?;
            info.check = check_of.get(&ti).map(|p| CheckInfo::of(case, p));
            Some(info)
        })
        .collect();
    transactions.par_sort_by(|a, b| a.ts.total_cmp(&b.ts));
    let mut allocations = Vec::new();
    for c in &case.captures {
        for a in &c.allocations {
            let outcome_frame = match a.outcome {
                AllocOutcome::Success { msg } | AllocOutcome::Error { msg, .. } => {
                    Some(c.msg(msg).frame)
                }
                _ => None,
            };
            // Frames as the engineer opens them: the piece (of a rotated capture) and its
            // own number.
            let outcome_at = outcome_frame.map(|f| c.frame_ref(f));
            let challenge_at = a.challenge.map(|m| c.frame_ref(c.msg(m).frame));
            let capture = outcome_at
                .or(challenge_at)
                .map_or(c.name.as_str(), |at| at.capture)
                .to_string();
            let challenge_capture = challenge_at
                .filter(|at| at.capture != capture)
                .map(|at| at.capture.to_string());
            allocations.push(AllocInfo {
                capture,
                client: a.client,
                server: a.server,
                transport: a.transport.as_str(),
                username: a.username.clone(),
                realm: a.realm.clone(),
                outcome: a.outcome.label(),
                challenge_frame: challenge_at.map(|at| at.frame),
                challenge_capture,
                outcome_frame: outcome_at.map(|at| at.frame),
                relayed: a.relayed,
                mapped: a.mapped,
                lifetime: a.lifetime,
                refreshes: a.refreshes,
                permissions: a.permissions.clone(),
                channels: a
                    .channels
                    .iter()
                    .map(|&(channel, peer)| ChannelInfo { channel, peer })
                    .collect(),
                relayed_data: Relayed {
                    send_indications: a.send,
                    data_indications: a.data,
                    channeldata_out: a.channel_out,
                    channeldata_in: a.channel_in,
                },
                released: a.released_at.is_some(),
                expired: a.expired_at.is_some(),
            });
        }
    }
    let clock_offsets = case
        .offsets
        .iter()
        .enumerate()
        .filter_map(|(i, o)| {
            o.as_ref().map(|o: &ClockOffset| OffsetInfo {
                capture: case.name(i).to_string(),
                offset_ms: o.nanos as f64 / 1e6,
                method: o.method,
                error_ms: o.error_ms,
                transactions: o.transactions,
            })
        })
        .collect();
    let nat = case
        .nat
        .iter()
        .map(|n| nat_in_pieces(case, n.clone()))
        .collect();
    let correlation = Correlation {
        reference: (!case.captures.is_empty()).then(|| case.name(case.reference).to_string()),
        clock_offsets,
        nat,
        turn_servers: case
            .turn_endpoints
            .iter()
            .map(|(a, t)| format!("{a}/{t}"))
            .collect(),
        relay_ports: case.relay_range(),
    };
    Report {
        captures,
        transactions,
        allocations,
        findings: Vec::new(),
        correlation,
        errors,
        server_profile: Vec::new(),
        logs: LogsInfo::default(),
        bundles: Vec::new(),
        timeline: Vec::new(),
        timeline_not_listed: 0,
        timeline_not_placed: 0,
    }
}

/// A NAT mapping's example frames named by piece, for captures read from rotated pieces.
fn nat_in_pieces(case: &Case, mut n: NatMapping) -> NatMapping {
    let find = |name: &str| case.captures.iter().find(|c| c.name == name);
    if let Some(c) = find(&n.client_capture).filter(|c| !c.pieces.is_empty()) {
        let at = c.frame_ref(n.client_frame);
        (n.client_capture, n.client_frame) = (at.capture.to_string(), at.frame);
    }
    if let Some(c) = find(&n.server_capture).filter(|c| !c.pieces.is_empty()) {
        let at = c.frame_ref(n.server_frame);
        (n.server_capture, n.server_frame) = (at.capture.to_string(), at.frame);
    }
    n
}

/// A sighting in a capture read from rotated pieces: one per piece its frames are in, each
/// naming the piece and its own frame numbers.
fn seen_in_pieces(c: &CaptureFlows, seen: TxSeen) -> Vec<TxSeen> {
    if c.pieces.is_empty() {
        return vec![seen];
    }
    let mut out: Vec<TxSeen> = Vec::new();
    let slot = |capture: &str, out: &mut Vec<TxSeen>| -> usize {
        if let Some(i) = out.iter().position(|x| x.capture == capture) {
            return i;
        }
        out.push(TxSeen {
            capture: capture.to_string(),
            request_frames: Vec::new(),
            response_frame: None,
            response: None,
            ..seen.clone()
        });
        out.len() - 1
    };
    for &f in &seen.request_frames {
        let at = c.frame_ref(f);
        let i = slot(at.capture, &mut out);
        if let Some(x) = out.get_mut(i) {
            x.request_frames.push(at.frame);
        }
    }
    if let Some(f) = seen.response_frame {
        let at = c.frame_ref(f);
        let i = slot(at.capture, &mut out);
        if let Some(x) = out.get_mut(i) {
            x.response_frame = Some(at.frame);
            x.response = seen.response.clone();
        }
    }
    out
}

/// One transaction's row.
fn tx_info(case: &Case, ti: usize, t: &CaseTx) -> Option<TxInfo> {
    let first = case.any_request(t);
    let resp = case.any_response(t);
    let (s0, m0) = first.or(resp)?;
    let c0 = &case.captures[s0.cap];
    let tx0 = case.tx(s0);
    let (client, server) = if first.is_some() {
        (Some(m0.src), Some(m0.dst))
    } else {
        (Some(m0.dst), Some(m0.src))
    };
    let seen = t
        .sightings
        .iter()
        .flat_map(|&s| {
            let c = &case.captures[s.cap];
            let tx = case.tx(s);
            let q = c.request(tx);
            let r = c.final_response(tx);
            // A sighting exists because a message was seen; skip it if not.
            let Some(any) = q.or(r) else {
                return Vec::new();
            };
            let seen = TxSeen {
                capture: c.name.clone(),
                src: if q.is_some() { any.src } else { any.dst },
                dst: if q.is_some() { any.dst } else { any.src },
                request_frames: tx
                    .requests
                    .iter()
                    .take(8)
                    .map(|&i| c.msg(i).frame)
                    .collect(),
                response_frame: r.map(|m| m.frame),
                response: r.map(|m| m.outcome()),
            };
            seen_in_pieces(c, seen)
        })
        .collect();
    let retrans = t
        .sightings
        .iter()
        .map(|&s| case.captures[s.cap].retransmissions(case.tx(s)))
        .max()
        .unwrap_or(0);
    Some(TxInfo {
        txid: t.txid.to_hex(),
        method: t.method.to_string(),
        transport: m0.transport.as_str(),
        carried_in: m0.carried.map(|c| carrier_name(Some(c))),
        client,
        server,
        outcome: resp.map_or_else(|| "none".to_string(), |(_, m)| m.outcome()),
        reason: resp.and_then(|(_, m)| m.reason.as_deref().map(str::to_string)),
        retransmissions: retrans,
        schedule_ms: c0.schedule_ms(tx0),
        rtt_ms: c0.rtt_ms(tx0),
        ts: secs(case.to_reference(s0.cap, m0.ts.0)),
        ice_check: m0.is_ice_check(),
        alike: t
            .sightings
            .iter()
            .map(|&s| case.tx(s).alike_count())
            .max()
            .unwrap_or(0),
        seen,
        path: case.paths.get(&ti).cloned(),
        check: None,
    })
}
