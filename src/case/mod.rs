//! A support case assembled: inputs of every kind (captures, diagnostic bundles, Expressway
//! and CMS logs, xconf/xstat dumps, chrome://webrtc-internals dumps, folders of them) read
//! into sources on one clock, before anything is rendered.
//!
//! - [`input`] tells the inputs apart (captures, streams, documents);
//! - [`read_inputs`] reads them in parallel into [`CaseParts`]: each capture's flows (a bundle
//!   streamed through two threads, `streamed.rs`), each document's typed model;
//! - [`Assembled::build`] applies the server profile (flags, then the Expressway's xconf and
//!   xstat, [`Profile`]) and builds the [`crate::flow::Case`] (vantage points, NAT, the
//!   captures' clock offsets);
//! - [`Assembled::diagnose`] runs the diagnosis, links the logs to packets, estimates each
//!   document's clock against the captures' and lays everything on one [`timeline`].
//!
//! [`crate::report`] sits on this layer and only renders what it finished.

pub mod input;
mod logs;
mod profile;
mod read;
mod streamed;
pub mod timeline;

use serde::{Deserialize, Serialize};

use crate::diagnose::input::BundleWithoutCapture;
use crate::diagnose::{self, DiagnoseOptions, Finding};
use crate::flow::case::ServerHints;
use crate::flow::{CaptureFlows, Case, Credential, FlowOptions, Role};
use crate::sources::Document;

pub use input::{Input, InputError, Source};
pub use logs::{BrowserEvent, DocumentInfo, EventWhat, LinkInfo, LogEventInfo, LogsInfo};
pub use profile::{Profile, ProfileItem};
pub use read::{assemble, read_inputs};
pub use streamed::{StreamedCapture, StreamedInput};

/// Options of one analysis (the `analyze` command line).
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// `--credential USER:PASSWORD`: to verify MESSAGE-INTEGRITY offline.
    pub credentials: Vec<Credential>,
    /// `--realm`: an extra realm to try in integrity checks.
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
    /// What reading captures into flows needs of these options.
    pub fn flow_options(&self) -> FlowOptions {
        FlowOptions {
            credentials: self.credentials.clone(),
            realm: self.realm.clone(),
        }
    }

    /// The server description from the flags alone (the xconf adds to it: [`Profile::hints`]).
    pub fn hints(&self) -> ServerHints {
        ServerHints::given(self.turn_port, self.relay_ports)
    }
}

/// A bundle (or another input read as a stream) of the case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleInfo {
    /// The bundle (or gzip, or `-` for standard input) as given.
    pub path: String,
    /// Bytes inflated, all gzip layers together.
    pub inflated: u64,
    /// Tar entries.
    pub entries: u64,
    /// What the engineer should know: incomplete rotations, no capture at all.
    pub notes: Vec<String>,
}

/// Everything read for one case, before it is assembled.
#[derive(Debug, Default)]
pub struct CaseParts {
    /// Per capture: its flows.
    pub flows: Vec<CaptureFlows>,
    /// Per capture: `--client` / `--server`.
    pub roles: Vec<Option<Role>>,
    /// Per capture: the Expressway interface it was taken on (`eth<n>`), labelled with what
    /// the configuration of its own bundle says of it (a cluster's peers differ).
    pub interfaces: Vec<Option<String>>,
    /// Every document read (given as files or found in bundles).
    pub documents: Vec<Document>,
    /// The bundles and other inputs read as streams.
    pub bundles: Vec<BundleInfo>,
    /// Bundles that held documents and no capture.
    pub without_capture: Vec<BundleWithoutCapture>,
    /// Inputs (or parts of bundles) that could not be read, with the reason.
    pub errors: Vec<InputError>,
}

/// A case assembled from its parts: the captures' flows as one [`Case`] configured by the
/// server profile, with the documents and what could not be used.
#[derive(Debug)]
pub struct Assembled {
    /// The captures' flows as one case (vantage points, NAT, clock offsets).
    pub case: Case,
    /// Every document read.
    pub documents: Vec<Document>,
    /// Flags, then the Expressway's xconf and xstat.
    pub profile: Profile,
    /// Per capture of `case`: the Expressway interface it was taken on, labelled.
    pub interfaces: Vec<Option<String>>,
    /// The bundles and other inputs read as streams.
    pub bundles: Vec<BundleInfo>,
    /// Bundles that held documents and no capture (`input.no_capture`).
    pub without_capture: Vec<BundleWithoutCapture>,
    /// Inputs that could not be read, and documents of which nothing was understood.
    pub errors: Vec<InputError>,
}

/// What the diagnosis of an assembled case found, with every source on the captures' clock.
#[derive(Debug, Clone, Default)]
pub struct Diagnosed {
    /// In report order (severity, time, id).
    pub findings: Vec<Finding>,
    /// The documents, their events placed on the captures' clock, links and clocks.
    pub logs: LogsInfo,
    /// Packets, log lines and browser events in one time order.
    pub timeline: timeline::Timeline,
}

impl Assembled {
    /// The profile from flags then dumps configures the case; documents of which nothing
    /// was understood are listed with the inputs that could not be read.
    pub fn build(parts: CaseParts, opts: &AnalyzeOptions) -> Assembled {
        let CaseParts {
            flows,
            roles,
            interfaces,
            documents,
            bundles,
            without_capture,
            mut errors,
        } = parts;
        let profile = Profile::build(opts, &documents);
        errors.extend(not_understood(&documents));
        let case = Case::build(flows, &roles, profile.hints());
        Assembled {
            case,
            documents,
            profile,
            interfaces,
            bundles,
            without_capture,
            errors,
        }
    }

    /// Diagnose the case, link the logs to its packets, place every document's events on
    /// the captures' clock and merge them with the packets into the timeline.
    pub fn diagnose(&self, opts: &AnalyzeOptions) -> Diagnosed {
        let (case, documents) = (&self.case, &self.documents);
        let diagnose_options = DiagnoseOptions {
            credentials: opts.credentials.clone(),
            realm: opts.realm.clone().or_else(|| self.profile.realm.clone()),
            join_url: opts.join_url.clone(),
            browsers: diagnose::browser::guest_public_ips(documents),
        };
        let mut findings = diagnose::diagnose(case, &diagnose_options);
        let links = diagnose::logs::link(case, documents);
        findings.extend(diagnose::logs::findings(case, documents, &links));
        let browser = diagnose::browser::diagnose(case, documents);
        findings.extend(browser.findings);
        findings.extend(diagnose::input::no_capture(&self.without_capture));
        findings.sort_by(|a, b| {
            (a.severity, a.ts, &a.id, &a.summary).cmp(&(b.severity, b.ts, &b.id, &b.summary))
        });
        let mut clocks = diagnose::logs::clocks(&links);
        clocks.extend(browser.clocks);
        let logs = logs::logs_info(case, documents, &links, clocks);
        let timeline = timeline::build(case, logs::timeline_events(&logs));
        Diagnosed {
            findings,
            logs,
            timeline,
        }
    }
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
