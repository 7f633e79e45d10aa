//! Findings + flows -> the report of one case, rendered as a terminal table, JSON (the contract
//! of `docs/cli.md`), Markdown for case notes, or self-contained HTML with an SVG
//! ladder diagram.

mod html;
mod ladder;
mod present;
mod redact;
mod text;

use std::borrow::Cow;
use std::net::SocketAddr;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::case::{Assembled, Diagnosed};
use crate::diagnose::{Finding, Severity};
use crate::escape::{self, JsonPretty};
use crate::flow::{
    carrier_name, AllocOutcome, CaptureFlows, Case, CaseTx, CheckPath, CheckVerdict, ClockOffset,
    Counter, Hop, NatMapping, Role, Summarised, TxPath,
};

pub use crate::case::input::{Input, InputError, Source};
pub use crate::case::{
    assemble, read_inputs, AnalyzeOptions, BrowserEvent, BundleInfo, CaseParts, DocumentInfo,
    EventWhat, LinkInfo, LogEventInfo, LogsInfo, ProfileItem,
};
pub use html::{html, html_at};
pub use present::{common_folder, evidence_groups, frame_ranges, EvidenceGroup, Verdict};
pub use text::{markdown, table, terminal, visible_width, TermStyle, DEFAULT_WIDTH, MIN_WIDTH};

/// One capture of the case (`captures[]` in the JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaptureInfo {
    /// The capture as named on the command line (`bundle!member` inside a bundle; `*` for the rotation number of a capture joined from rotated pieces).
    pub path: String,
    /// Whose side the capture was taken on: the client's, the TURN server's, or unknown.
    pub role: Role,
    /// Frames read (every packet, STUN or not).
    pub frames: u64,
    /// STUN, TURN and ChannelData messages decoded in it, those carried inside TURN included.
    pub stun_messages: u64,
    /// Why this role (inferred or given).
    pub role_reason: String,
    /// Time of the first frame, seconds since the epoch on the capture's own clock; `None` for a capture without frames.
    pub first_ts: Option<f64>,
    /// Time of the last frame, as `first_ts`.
    pub last_ts: Option<f64>,
    /// Reading problems (cut packets, TCP gaps...), counted.
    pub problems: u64,
    /// What the capture counted without keeping it in full, beyond the memory budget
    /// (`docs/architecture.md`, "Memory"); absent when it kept everything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summarised: Option<Summarised>,
    /// The Expressway interface the capture was taken on, from the bundle's file names
    /// (`Expressway eth1 = LAN2 (external: static NAT …)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// The files it was read from, in time order, when it is several rotated pieces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
        if s.beyond_flows > 0 {
            parts.push(format!(
                "{} transactions on 5-tuples beyond the first {} kept, counted by server and kind (a kind not seen before is kept)",
                s.beyond_flows,
                crate::flow::budget::FLOWS_KEPT
            ));
        }
        if s.beyond_directions > 0 {
            parts.push(format!(
                "{} packets on 5-tuples beyond the first {} directions kept, in the totals only",
                s.beyond_directions,
                crate::flow::budget::DIRECTIONS_KEPT
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PieceInfo {
    /// The file, as read (`bundle!member` inside a bundle).
    pub path: String,
    /// Frames in this piece.
    pub frames: u32,
    /// Time of its first frame, seconds since the epoch; `None` when it has none.
    pub first_ts: Option<f64>,
    /// Time of its last frame, as `first_ts`.
    pub last_ts: Option<f64>,
}

/// One capture's view of a transaction (`transactions[].seen[]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxSeen {
    /// The capture (or rotated piece) that saw it.
    pub capture: String,
    /// Source of the request as this capture shows it (before or after a NAT).
    #[serde(serialize_with = "addr_json::one")]
    pub src: SocketAddr,
    /// Destination of the request as this capture shows it.
    #[serde(serialize_with = "addr_json::one")]
    pub dst: SocketAddr,
    /// Frames of the request and its retransmissions, 1-based as Wireshark numbers them.
    pub request_frames: Vec<u32>,
    /// Frame of the answer; `None` when this capture saw none.
    pub response_frame: Option<u32>,
    /// The answer seen here: `success`, `error NNN`; `None` when unanswered here.
    pub response: Option<String>,
}

/// One STUN/TURN transaction (request, retransmissions and answer) across the captures (`transactions[]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxInfo {
    /// The 96-bit transaction id, hex.
    pub txid: String,
    /// Lower-case method name (`allocate`, `binding`, `refresh`, `createpermission`, `channelbind`), or `0x%03x` when unknown.
    pub method: String,
    /// `udp`, `tcp` or `tls`.
    pub transport: Cow<'static, str>,
    /// For a message carried inside TURN: `send`, `data` or `channeldata`; absent for one on the wire itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_in: Option<Cow<'static, str>>,
    /// The client's address as the client sees it; `None` when no capture shows it.
    #[serde(serialize_with = "addr_json::optional")]
    pub client: Option<SocketAddr>,
    /// The server's address as the client addresses it; `None` when no capture shows it.
    #[serde(serialize_with = "addr_json::optional")]
    pub server: Option<SocketAddr>,
    /// "success", "error 401", "none" (unanswered).
    pub outcome: String,
    /// The reason phrase of an error answer, as the server wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Retransmissions of the request (sends after the first).
    pub retransmissions: usize,
    /// Send times of the request and its retransmissions, ms after the first.
    pub schedule_ms: Vec<f64>,
    /// Time from the first request to the answer, in milliseconds; `None` when unanswered.
    pub rtt_ms: Option<f64>,
    /// Time of the first request, seconds since the epoch on the reference capture's clock.
    pub ts: f64,
    /// True for an ICE connectivity check (a Binding with ICE attributes).
    pub ice_check: bool,
    /// Transactions beyond the memory budget counted into this one (absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub alike: u64,
    /// Each capture that saw the transaction.
    pub seen: Vec<TxSeen>,
    /// How far it got between the captures (needs a client and a server capture); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<TxPath>,
    /// For an ICE connectivity check: where it left from and how far it got, hop by hop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckInfo>,
}

/// How far a connectivity check got (from [`crate::flow::CheckVerdict`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckInfo {
    /// The hop it left on: `client to server (relayed data)`, `server to client (relayed
    /// data)`, `relay to peer`, `peer to relay`, `relay to relay`, `direct`.
    pub leg: Cow<'static, str>,
    /// `answered` (back where it left), `answer lost`, `unanswered`.
    pub verdict: Cow<'static, str>,
    /// Where the request (unanswered) or its answer (answer lost) was last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<HopInfo>,
}

/// One sighting of a check on its path.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HopInfo {
    /// The capture (or rotated piece).
    pub capture: String,
    /// The frame, 1-based.
    pub frame: u32,
    /// The hop it was on there (the same words as [`CheckInfo::leg`]).
    pub leg: Cow<'static, str>,
}

impl CheckInfo {
    fn of(case: &Case, p: &CheckPath) -> CheckInfo {
        let hop = |h: &Hop| {
            let at = case.captures[h.cap].frame_ref(h.frame);
            HopInfo {
                capture: at.capture.to_string(),
                frame: at.frame,
                leg: h.leg.as_str().into(),
            }
        };
        let (verdict, last) = match &p.verdict {
            CheckVerdict::Answered => ("answered", None),
            CheckVerdict::AnswerLost { last } => ("answer lost", Some(hop(last))),
            CheckVerdict::Unanswered { last } => ("unanswered", Some(hop(last))),
        };
        CheckInfo {
            leg: p.origin.leg.as_str().into(),
            verdict: verdict.into(),
            last,
        }
    }
}

/// Relayed data of an allocation, in packets and bytes per kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Relayed {
    /// Send indications from the client (to be relayed to a peer).
    pub send_indications: Counter,
    /// Data indications to the client (relayed from a peer).
    pub data_indications: Counter,
    /// ChannelData from the client.
    pub channeldata_out: Counter,
    /// ChannelData to the client.
    pub channeldata_in: Counter,
}

/// A channel bound on an allocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelInfo {
    /// The channel number (0x4000-0x4FFF).
    pub channel: u16,
    /// The peer it is bound to.
    pub peer: SocketAddr,
}

/// One TURN allocation, from its challenge to its end (`allocations[]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AllocInfo {
    /// The capture it was seen in.
    pub capture: String,
    /// The client's address as that capture shows it.
    pub client: SocketAddr,
    /// The TURN server's address.
    pub server: SocketAddr,
    /// `udp`, `tcp` or `tls`: the transport between client and server.
    pub transport: Cow<'static, str>,
    /// The USERNAME of the authenticated request; `None` when none was sent.
    pub username: Option<String>,
    /// The REALM of the challenge; `None` without a challenge.
    pub realm: Option<String>,
    /// `success`, `error NNN`, `challenge only` (the 401, no retry), `no response`, or `before
    /// capture` (it succeeded before the capture started).
    pub outcome: String,
    /// Frame of the 401 challenge, when there was one.
    pub challenge_frame: Option<u32>,
    /// When the challenge is in another rotated piece than `capture`: that piece.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_capture: Option<String>,
    /// Frame of the final answer to the Allocate.
    pub outcome_frame: Option<u32>,
    /// The relayed address the server gave (XOR-RELAYED-ADDRESS); `None` unless it succeeded.
    pub relayed: Option<SocketAddr>,
    /// The client's address as the server saw it (XOR-MAPPED-ADDRESS).
    pub mapped: Option<SocketAddr>,
    /// Lifetime granted, in seconds.
    pub lifetime: Option<u32>,
    /// Refresh requests seen.
    pub refreshes: usize,
    /// Peer addresses a permission was created for.
    pub permissions: Vec<SocketAddr>,
    /// Channels bound.
    pub channels: Vec<ChannelInfo>,
    /// What was relayed through the allocation.
    pub relayed_data: Relayed,
    /// Ended by a Refresh with lifetime 0.
    pub released: bool,
    /// Ended by its lifetime running out without a refresh.
    pub expired: bool,
}

/// A capture's clock against the reference capture's (`correlation.clock_offsets[]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OffsetInfo {
    /// The capture.
    pub capture: String,
    /// Its clock minus the reference clock, in milliseconds.
    pub offset_ms: f64,
    /// How the offset was found: `round trip` (symmetric delays assumed) or `one way` (an upper bound from requests only).
    pub method: Cow<'static, str>,
    /// The most the offset may be off by, in milliseconds.
    pub error_ms: f64,
    /// Transactions seen in both captures that the offset rests on.
    pub transactions: usize,
}

/// How the captures of a case fit together (`correlation`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Correlation {
    /// The capture whose clock the paths use.
    pub reference: Option<String>,
    /// Clock offsets of the other captures.
    pub clock_offsets: Vec<OffsetInfo>,
    /// NAT mappings: what the server sees instead of what the client sent.
    pub nat: Vec<NatMapping>,
    /// TURN server addresses as the traffic shows them ("IP:PORT/transport").
    pub turn_servers: Vec<String>,
    /// The relay port range used (first, last), from allocations, the configuration, `--relay-ports`, or the Expressway default 24000-29999.
    pub relay_ports: (u16, u16),
}

/// The version of the layout of the JSON reports turnscope writes: `analyze --format json`
/// ([`Report`]) and the batch `summary.json` ([`crate::batch::Summary`]), each in its
/// top-level `schema_version`. It goes up
/// by one when a field is removed or renamed, or changes its type or meaning; new fields (and
/// new finding ids, kinds, values of an open list) leave it as it is, so a reader ignores the
/// fields it does not know and refuses a version above its own (`docs/cli.md`).
pub const SCHEMA_VERSION: u32 = 1;

/// The version of a document written before `schema_version` existed: its layout is version 1.
pub(crate) fn schema_version_before_the_field() -> u32 {
    1
}

/// Everything `analyze` says about one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA_VERSION`] when written (1 for reports written before the field existed).
    #[serde(default = "schema_version_before_the_field")]
    pub schema_version: u32,
    /// The captures, in the order given (rotated pieces joined).
    pub captures: Vec<CaptureInfo>,
    /// The transactions, in time order on the reference clock.
    pub transactions: Vec<TxInfo>,
    /// The allocations.
    pub allocations: Vec<AllocInfo>,
    /// What was found, most severe first, then by time (ids: `docs/findings.md`).
    pub findings: Vec<Finding>,
    /// How the captures fit together: clock offsets, NAT mappings, TURN servers.
    pub correlation: Correlation,
    /// Inputs, or parts of them, that could not be used, with why.
    pub errors: Vec<InputError>,
    /// The TURN server's profile: flags, then the Expressway's configuration and status.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_profile: Vec<ProfileItem>,
    /// The documents (logs, dumps), their events, links to packets and clocks.
    #[serde(default, skip_serializing_if = "LogsInfo::is_empty")]
    pub logs: LogsInfo,
    /// Bundles and other inputs read as streams.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundles: Vec<BundleInfo>,
    /// Packets (runs of transactions), log lines and browser events in one time order, on
    /// the reference capture's clock ([`crate::timeline`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<crate::timeline::Entry>,
    /// Timeline entries beyond its limits, counted only.
    #[serde(default, skip_serializing_if = "is_zero_count")]
    pub timeline_not_listed: usize,
    /// Document events whose time could not be placed on the captures' clock.
    #[serde(default, skip_serializing_if = "is_zero_count")]
    pub timeline_not_placed: usize,
}

/// Why [`Report::from_json`] could not read a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportJsonError {
    /// The text is no JSON report: not JSON, a field missing or of another type.
    #[error("not a turnscope report: {0}")]
    Json(#[from] serde_json::Error),
    /// Written by a later turnscope whose layout this version does not know.
    #[error("report schema version {found} is newer than this turnscope reads ({supported})")]
    NewerSchema {
        /// The report's `schema_version`.
        found: u32,
        /// [`SCHEMA_VERSION`] of this build.
        supported: u32,
    },
}

fn is_zero_count(n: &usize) -> bool {
    *n == 0
}

impl Report {
    /// Finding ids in report order.
    pub fn ids(&self) -> Vec<&str> {
        self.findings.iter().map(|f| &*f.id).collect()
    }

    /// True when a finding of this id was raised.
    pub fn has(&self, id: &str) -> bool {
        self.findings.iter().any(|f| f.id == id)
    }

    /// The first finding of this id, if raised.
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

    /// Read a report back from its JSON ([`Report::json`], `analyze --format json`), written
    /// by this version of turnscope or an earlier one. Fields this version does not know are
    /// ignored; a `schema_version` above [`SCHEMA_VERSION`] is refused before anything else is
    /// read, since its fields may have changed meaning.
    pub fn from_json(text: &str) -> Result<Report, ReportJsonError> {
        #[derive(Deserialize)]
        struct VersionOnly {
            #[serde(default = "schema_version_before_the_field")]
            schema_version: u32,
        }
        let version: VersionOnly = serde_json::from_str(text)?;
        if version.schema_version > SCHEMA_VERSION {
            return Err(ReportJsonError::NewerSchema {
                found: version.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(serde_json::from_str(text)?)
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
            schema_version: u32,
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
            schema_version: self.schema_version,
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

/// Analyse one support case. Unusable inputs are listed in `Report::errors`; the others are
/// analysed all the same.
pub fn analyze(inputs: &[Input], opts: &AnalyzeOptions) -> Report {
    report_from_parts(read_inputs(inputs, opts), opts)
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
    let assembled = Assembled::build(parts, opts);
    let (diagnosed, mut report) = rayon::join(
        || assembled.diagnose(opts),
        || build(&assembled.case, Vec::new()),
    );
    let Assembled {
        case,
        profile,
        interfaces,
        bundles,
        errors,
        ..
    } = assembled;
    let Diagnosed {
        findings,
        logs,
        timeline,
    } = diagnosed;
    report.findings = findings;
    report.errors = errors;
    report.logs = logs;
    report.timeline = timeline.entries;
    report.timeline_not_listed = timeline.not_listed;
    report.timeline_not_placed = timeline.not_placed;
    label_interfaces(&mut report.captures, &interfaces);
    report.server_profile = profile.items;
    report.bundles = bundles;
    // Freeing a big case takes a few milliseconds the caller need not wait for.
    rayon::spawn(move || drop(case));
    report
}

/// Each capture taken on an Expressway interface says which, in its role's reason.
fn label_interfaces(captures: &mut [CaptureInfo], interfaces: &[Option<String>]) {
    for (info, interface) in captures.iter_mut().zip(interfaces) {
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
                transport: a.transport.as_str().into(),
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
                method: o.method.into(),
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
        schema_version: SCHEMA_VERSION,
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
        transport: m0.transport.as_str().into(),
        carried_in: m0.carried.map(|c| carrier_name(Some(c)).into()),
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
