//! The `turnscope` command line: a thin layer over the library (see `docs/cli.md`).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use turnscope::cli;

#[derive(Parser)]
#[command(
    name = "turnscope",
    version,
    long_version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TURNSCOPE_BUILD"), ")"),
    about = "STUN/TURN capture analyzer for Expressway / CMS WebRTC cases",
    after_help = EXAMPLES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode every STUN / TURN / ChannelData message in the captures.
    #[command(after_help = "Examples:
  turnscope decode client.pcap
  turnscope decode --format jsonl expe_diag.tar.gz | jq 'select(.error_code == 431)'
  turnscope decode --stats capture.pcapng
  tcpdump -w - -i eth0 udp port 3478 | turnscope decode -")]
    Decode(cli::decode::Args),
    /// Analyse one support case: what is wrong, where, and what to do.
    #[command(after_help = "Examples:
  turnscope analyze client.pcap expe_diag.tar.gz --credential turnuser:cisco
  turnscope analyze --client guest.pcapng --server expe.pcap --realm TANDBERG
  turnscope analyze case-folder/ --out report.html
  turnscope analyze case-folder/ --fail-on error && echo 'nothing blocks the call'

Exit status: 0 ran, 1 no input could be used, 2 bad command line,
3 a finding at or above --fail-on.")]
    Analyze(cli::analyze::Args),
    /// Analyse every case under folders in parallel: one report per case and a summary.
    #[command(after_help = "Examples:
  turnscope batch cases/ --out reports/ --credential turnuser:cisco")]
    Batch(cli::batch::Args),
    /// Feed captured client requests to the TURN server core and compare its answers.
    #[command(after_help = "Examples:
  turnscope replay server.pcap --credential turnuser:cisco --profile expressway
  turnscope replay client.pcap --credential alice:secret --realm example.org --format json")]
    Replay(cli::replay::Args),
    /// A live TURN server (UDP and TCP) on the replay core.
    #[command(after_help = "Examples:
  turnscope serve --listen 198.51.100.10:3478 --credential turnuser:cisco --profile expressway
  turnscope serve --listen 0.0.0.0:3478 --relay-address 198.51.100.10 --credential alice:secret")]
    Serve(cli::serve::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `turnscope man > turnscope.1`.
    Man,
}

const EXAMPLES: &str = "\
Examples:
  turnscope analyze client.pcap expe_diag.tar.gz --credential turnuser:cisco
  turnscope analyze case-folder/ --out report.html
  turnscope decode --format jsonl capture.pcapng | head
  turnscope replay server.pcap --credential turnuser:cisco --profile expressway
  turnscope batch cases/ --out reports/";

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
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "turnscope", &mut script);
            write_stdout(&script)
        }
        Command::Man => man(),
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

/// The manual page of the whole command line, from the same definitions as `--help`.
fn man() -> Result<u8, cli::CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .map_err(|e| cli::CliError(format!("rendering the manual page: {e}")))?;
    write_stdout(&page)
}

/// Write to standard output; a closed pipe ends quietly.
fn write_stdout(bytes: &[u8]) -> Result<u8, cli::CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(cli::CliError(format!("writing output: {e}"))),
    }
}
