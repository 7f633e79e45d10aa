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
//! <- [`report`]; [`turn`] (sans-IO TURN server core) uses [`wire`] only, and [`replay`] and
//! [`serve`] sit on it. [`sources`] reads evidence other than captures (chrome://webrtc-internals
//! dumps) into typed models; [`input`] tells them from captures.

pub mod batch;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod escape;
pub mod flow;
pub mod input;
pub mod replay;
pub mod report;
pub mod serve;
pub mod sources;
#[doc(hidden)]
pub mod testsupport;
pub mod timeline;
pub mod turn;
pub mod wire;

pub use report::{analyze, AnalyzeOptions, Input, Report};
