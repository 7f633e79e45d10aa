pub mod batch;
pub mod capture;
pub mod cli;
pub mod decode;
pub mod diagnose;
pub mod flow;
pub mod replay;
pub mod report;
pub mod serve;
#[doc(hidden)]
pub mod testsupport;
pub mod turn;
pub mod wire;

pub use report::{analyze, AnalyzeOptions, Input, Report};
