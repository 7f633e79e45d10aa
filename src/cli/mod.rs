//! Subcommands: argument structs (clap) and their `run` functions. Each returns the process exit
//! code (0 ran, 1 input unusable, 2 bad command line) or an error that is printed with exit 1.

pub mod analyze;
pub mod batch;
pub mod decode;
pub mod replay;
pub mod serve;
pub mod term;

/// An error a subcommand reports on stderr before exiting with status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);
