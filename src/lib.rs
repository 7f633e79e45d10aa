pub mod batch;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod report;
#[doc(hidden)]
pub mod testsupport;
pub mod wire;

pub use report::{analyze, AnalyzeOptions, Input, Report};
