//! `turnscope replay FILE... --credential USER:PASSWORD [--realm R] [--profile expressway|rfc]
//! [--format table|json]`

use std::io::Write;
use std::path::PathBuf;

use super::serve::{parse_credential, parse_profile};
use super::CliError;
use crate::capture::{self, Event, Framing};
use crate::input::{self, Input};
use crate::replay::{self, CapturedMessage, ReplayOptions};
use crate::turn::{Profile, Transport};

/// `turnscope replay`: the captures to replay and the server to replay them against.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Captures (pcap, pcapng, gzip), diagnostic bundles, folders of them; `-` reads standard
    /// input.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The credential the server holds (repeatable).
    #[arg(long, required = true, value_name = "USER:PASSWORD", value_parser = parse_credential)]
    pub credential: Vec<crate::wire::Credential>,
    /// The server realm (default: the REALM the captured server issued).
    #[arg(long)]
    pub realm: Option<String>,
    /// rfc (integrity failures answered 401) or expressway (431, realm TANDBERG).
    #[arg(long, default_value = "rfc", value_parser = parse_profile)]
    pub profile: Profile,
    /// The captured server's per-user allocation quota, if it has one.
    #[arg(long, value_name = "N")]
    pub user_quota: Option<u32>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `--format` of `replay`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a terminal
    Table,
    /// JSON, for scripts
    Json,
}

/// The STUN messages of a capture (UDP datagrams and STUN framed from TCP streams), as replay
/// input. TLS payloads are not readable and are left out.
pub fn captured_messages(file: &capture::CaptureFile, name: &str) -> Vec<CapturedMessage> {
    let mut out = Vec::new();
    for batch in file.events() {
        for ev in batch {
            let Event::Payload(p) = ev else { continue };
            let transport = match p.transport {
                capture::Transport::Udp => Transport::Udp,
                capture::Transport::Tcp => Transport::Tcp,
                capture::Transport::Tls => continue,
            };
            if !matches!(p.framing, Framing::Datagram | Framing::Stream) {
                continue;
            }
            if p.data.first().is_none_or(|b| *b > 3) {
                continue;
            }
            out.push(CapturedMessage {
                capture: name.to_string(),
                frame: p.frame,
                ts_nanos: p.ts.0,
                transport,
                src: p.src,
                dst: p.dst,
                bytes: p.data.into_owned(),
            });
        }
    }
    out
}

/// Replay the captured requests and print the comparison; returns the exit status.
pub fn run(args: Args) -> Result<u8, CliError> {
    let mut messages = Vec::new();
    let mut usable = 0;
    let inputs: Vec<Input> = args.files.iter().map(|p| Input::from_arg(p)).collect();
    let resolved = input::resolve(&inputs, capture::bundle::DEFAULT_LIMIT);
    let (captures, errors) = resolved.captures_in_memory(capture::bundle::DEFAULT_LIMIT);
    for e in &errors {
        eprintln!("turnscope: {}: {}", e.path, e.reason);
    }
    for c in captures {
        let name = c.name.clone();
        match c.open() {
            Ok(f) => {
                usable += 1;
                messages.extend(captured_messages(&f, &name));
            }
            Err(e) => eprintln!(
                "turnscope: {}",
                crate::escape::terminal(&format!("{}: {}", e.path, e.reason))
            ),
        }
    }
    if usable == 0 {
        return Ok(1);
    }
    let options = ReplayOptions {
        credentials: args.credential,
        realm: args.realm,
        profile: args.profile,
        user_quota: args.user_quota,
    };
    let report = replay::run(&messages, &options);
    let text = match args.format {
        Format::Json => {
            crate::escape::to_json_pretty(&report).map_err(|e| CliError(format!("JSON: {e}")))?
                + "\n"
        }
        Format::Table => replay::render_table(&report),
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(CliError(format!("writing output: {e}"))),
    }
    Ok(0)
}
