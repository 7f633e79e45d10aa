//! The `turnscope` command line: a thin layer over the library (see `docs/cli.md`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use turnscope::cli;

#[derive(Parser)]
#[command(
    name = "turnscope",
    version,
    about = "STUN/TURN capture analyzer for Expressway / CMS WebRTC cases"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode every STUN / TURN / ChannelData message in the captures.
    Decode(cli::decode::Args),
    /// Analyse one support case: what is wrong, where, and what to do.
    Analyze(cli::analyze::Args),
    /// Analyse every case under folders in parallel: one report per case and a summary.
    Batch(cli::batch::Args),
    /// Feed captured client requests to the TURN server core and compare its answers.
    Replay(cli::replay::Args),
    /// A live TURN server (UDP and TCP) on the replay core.
    Serve(cli::serve::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Decode(args) => cli::decode::run(args),
        Command::Analyze(args) => cli::analyze::run(args),
        Command::Batch(args) => cli::batch::run(args),
        Command::Replay(args) => cli::replay::run(args),
        Command::Serve(args) => cli::serve::run(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Paths named in errors may come from folder listings: no raw control characters.
            eprintln!("turnscope: {}", turnscope::escape::terminal(&e.to_string()));
            ExitCode::from(1)
        }
    }
}
