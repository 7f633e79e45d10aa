//! `turnscope decode FILE... [--format table|jsonl] [--stats]`

use std::path::PathBuf;

use super::CliError;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Capture files (pcap, pcapng).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print counts only.
    #[arg(long)]
    pub stats: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Jsonl,
}

pub fn run(_args: Args) -> Result<u8, CliError> {
    Err(CliError("decode is being built".into()))
}
