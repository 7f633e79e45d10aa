//! turnscope: STUN/TURN packet-capture analysis for Expressway / CMS WebRTC support cases.
//!
//! ```no_run
//! use turnscope::{analyze, AnalyzeOptions, Input};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let report = analyze(
//!     &[Input::path("client.pcap"), Input::path("expe_diag.tar.gz")],
//!     &AnalyzeOptions { credentials: vec!["turnuser:cisco".parse()?], ..Default::default() },
//! );
//! for f in &report.findings {
//!     println!("{} {}: {}", f.severity.as_str(), f.id, f.summary);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Layers (data flows one way): [`wire`] <- [`capture`] <- [`decode`] <- [`flow`] <- [`diagnose`]
//! <- [`case`] <- [`report`]; [`turn`] (sans-IO TURN server core) uses [`wire`] only, and
//! [`replay`] and `serve` sit on it. [`sources`] reads evidence other than captures (Expressway
//! logs and configuration, CMS event logs, chrome://webrtc-internals dumps) into typed models;
//! [`case`] tells the inputs apart ([`input`]), reads them into one case and lays every source
//! on one clock ([`timeline`]); [`report`] renders it. [`export`] writes a report's evidence
//! frames, read again through [`capture`], as one pcapng file; [`redact`] gives a case
//! consistent pseudonyms for the report ([`Report::redact`]) and the export.
//!
//! Cargo features: `cli` (default: the `turnscope` binary and `turnscope::cli`, with clap and
//! indicatif), `serve` (implied by `cli`: the live TURN server, with mio), `testsupport`
//! (scripted captures and fuzzing entry points). With `default-features = false` the analysis
//! library stands alone.

// Every public item says what it means to a user of the library (issue #12). In cli, clap
// reads doc comments as help text: on an argument or a value of a `--format`-like option, the
// doc comment is what `--help` prints.
#![deny(missing_docs)]

pub mod batch;
pub mod capture;
pub mod case;
#[cfg(feature = "cli")]
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod escape;
pub mod export;
pub mod flow;
pub mod redact;
pub mod replay;
pub mod report;
#[cfg(feature = "serve")]
pub mod serve;
pub mod sources;
#[cfg(feature = "testsupport")]
#[doc(hidden)]
pub mod testsupport;
pub mod turn;
pub mod wire;

/// Inputs of every kind, told apart ([`case::input`], the layer that reads them).
pub use case::input;
/// One case, one time order ([`case::timeline`]).
pub use case::timeline;
pub use diagnose::{Finding, Severity};
pub use report::{analyze, AnalyzeOptions, Input, Report};
pub use wire::Credential;

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
