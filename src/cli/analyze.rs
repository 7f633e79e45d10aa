//! `turnscope analyze FILE... [--client FILE] [--server FILE] [--credential U:P]... [--realm R]
//! [--turn-port N] [--relay-ports A-B] [--join-url NAME] [--format table|json|markdown|html] [--out FILE]
//! [--export FILE.pcapng [--export-flows]] [--redact]`

use std::io::Write;
use std::path::PathBuf;

use crate::diagnose::Severity;
use crate::export::{self, ExportOptions};
use crate::flow::{Credential, Role};
use crate::redact::Redactor;
use crate::report::{self, AnalyzeOptions, Input};

use super::CliError;

/// `turnscope analyze`: the captures, documents and options of one support case.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Captures (pcap, pcapng, gzip), diagnostic bundles (.tar, .tar.gz, .tgz) and folders of
    /// them, of one case; `-` reads standard input.
    #[arg(required_unless_present_any = ["client", "server"])]
    pub files: Vec<PathBuf>,
    /// A capture taken on the client side (no inference for it).
    #[arg(long, value_name = "FILE")]
    pub client: Vec<PathBuf>,
    /// A capture taken on the TURN server (Expressway-E tcpdump).
    #[arg(long, value_name = "FILE")]
    pub server: Vec<PathBuf>,
    /// USER:PASSWORD to verify MESSAGE-INTEGRITY offline (repeatable).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_credential)]
    pub credential: Vec<Credential>,
    /// The server's realm (an extra realm to try in integrity checks).
    #[arg(long)]
    pub realm: Option<String>,
    /// The TURN port, when the traffic does not show it (default 3478).
    #[arg(long, value_name = "N")]
    pub turn_port: Option<u16>,
    /// The relay port range, when no allocation shows it (default 24000-29999).
    #[arg(long, value_name = "A-B", value_parser = parse_range)]
    pub relay_ports: Option<(u16, u16)>,
    /// The web bridge join URL guests browse to (e.g. join.example.com), for the DNS and
    /// certificate findings; without it, the name browsers resolved before their HTTPS
    /// sessions to the Expressway-E.
    #[arg(long, value_name = "NAME")]
    pub join_url: Option<String>,
    /// Output format [default: from --out's extension (.json, .md, .html), else table].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Write the report here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Exit with status 3 when a finding of this severity or worse is found (for scripts).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Colour severities in the table: auto = when standard output is a terminal and
    /// NO_COLOR is unset or empty. The table fits COLUMNS, else the terminal's width.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: super::term::ColorChoice,
    /// Write the frames behind the findings, from every capture of the case, to this pcapng
    /// file (one interface per capture, each packet's comment naming its findings and its
    /// original file and frame).
    #[arg(long, value_name = "FILE.pcapng")]
    pub export: Option<PathBuf>,
    /// With --export: also every frame of the evidence frames' flows (5-tuples, both
    /// directions).
    #[arg(long, requires = "export")]
    pub export_flows: bool,
    /// Replace addresses, usernames, realms, host names and directories in the report and
    /// the export with pseudonyms consistent within the case (see docs/cli.md).
    #[arg(long)]
    pub redact: bool,
}

/// `--fail-on`: the least severe finding that makes the exit status 3.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailOn {
    /// Only errors
    Error,
    /// Warnings and errors
    Warning,
}

impl FailOn {
    fn is_met_by(self, s: Severity) -> bool {
        match self {
            FailOn::Error => s == Severity::Error,
            FailOn::Warning => matches!(s, Severity::Error | Severity::Warning),
        }
    }
}

/// The exit status when `--fail-on` is met.
pub const EXIT_FINDINGS: u8 = 3;

/// `--format` of `analyze`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a terminal
    Table,
    /// The report as JSON, for scripts
    Json,
    /// Markdown, to paste into a ticket
    Markdown,
    /// One self-contained HTML page
    Html,
}

impl Format {
    /// The format `--format` names, else the one `--out`'s extension names, else the table.
    pub fn choose(given: Option<Format>, out: Option<&std::path::Path>) -> Format {
        let by_extension = out.and_then(|p| p.extension()).and_then(|e| {
            match e.to_string_lossy().to_ascii_lowercase().as_str() {
                "json" => Some(Format::Json),
                "md" | "markdown" => Some(Format::Markdown),
                "html" | "htm" => Some(Format::Html),
                _ => None,
            }
        });
        given.or(by_extension).unwrap_or(Format::Table)
    }
}

fn parse_credential(s: &str) -> Result<Credential, String> {
    s.parse()
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("expected A-B, got {s:?}"))?;
    let a: u16 = a.trim().parse().map_err(|e| format!("{a:?}: {e}"))?;
    let b: u16 = b.trim().parse().map_err(|e| format!("{b:?}: {e}"))?;
    if a > b {
        return Err(format!("range {a}-{b} is empty"));
    }
    Ok((a, b))
}

/// Analyse the case and write the report; returns the exit status (3 when `--fail-on` is met).
pub fn run(args: Args) -> Result<u8, CliError> {
    let mut inputs: Vec<Input> = args.files.iter().map(|p| Input::from_arg(p)).collect();
    inputs.extend(
        args.client
            .iter()
            .map(|p| Input::from_arg(p).with_role(Role::Client)),
    );
    inputs.extend(
        args.server
            .iter()
            .map(|p| Input::from_arg(p).with_role(Role::Server)),
    );
    let opts = AnalyzeOptions {
        credentials: args.credential,
        realm: args.realm,
        turn_port: args.turn_port,
        relay_ports: args.relay_ports,
        join_url: args.join_url,
        ..AnalyzeOptions::default()
    };
    let mut rep = report::analyze(&inputs, &opts);
    for e in &rep.errors {
        eprintln!(
            "turnscope: {}: {}",
            crate::escape::terminal(&e.path),
            crate::escape::terminal(&e.reason)
        );
    }
    // Documents alone are a case: a guest's webrtc-internals dump (its browser findings), a
    // bundle of logs without capture (input.no_capture and what the logs say).
    let document_read = rep.logs.documents.iter().any(|d| d.kept > 0);
    if rep.captures.is_empty() && !document_read {
        return Err(CliError("no input could be used".into()));
    }
    let mut redactor = args.redact.then(|| opts.redactor());
    if let Some(path) = &args.export {
        let export_opts = ExportOptions {
            flows: args.export_flows,
            bundle_limit: opts.bundle_limit,
            ..ExportOptions::default()
        };
        write_export(&rep, &inputs, &export_opts, redactor.as_mut(), path)?;
    }
    if let Some(r) = redactor.as_mut() {
        rep.redact(r);
    }
    let format = Format::choose(args.format, args.out.as_deref());
    let style = super::term::style(args.color, args.out.is_some());
    let write = |w: &mut dyn Write| -> std::io::Result<()> {
        match format {
            Format::Json => {
                let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
                rep.write_json(&mut w)?;
                w.write_all(b"\n")?;
                w.flush()
            }
            Format::Table => w.write_all(report::terminal(&rep, style).as_bytes()),
            Format::Markdown => w.write_all(report::markdown(&rep).as_bytes()),
            Format::Html => w.write_all(report::html(&rep).as_bytes()),
        }
    };
    match &args.out {
        Some(p) => std::fs::File::create(p)
            .and_then(|mut f| write(&mut f))
            .map_err(|e| CliError(format!("{}: cannot write: {e}", p.display())))?,
        None => {
            // A closed pipe (e.g. `| head`) is not an error of the analysis.
            let _ = write(&mut std::io::stdout().lock());
        }
    }
    let failed = args
        .fail_on
        .is_some_and(|f| rep.findings.iter().any(|x| f.is_met_by(x.severity)));
    // The process ends after this; freeing a big report one summary at a time would only
    // delay the exit.
    std::mem::forget(rep);
    Ok(if failed { EXIT_FINDINGS } else { 0 })
}

/// `--export`: write the pcapng file and say on standard error what it holds.
fn write_export(
    rep: &report::Report,
    inputs: &[Input],
    opts: &ExportOptions,
    redactor: Option<&mut Redactor>,
    path: &std::path::Path,
) -> Result<(), CliError> {
    let cannot = |e: String| CliError(format!("{}: cannot write the export: {e}", path.display()));
    let file = std::fs::File::create(path).map_err(|e| cannot(e.to_string()))?;
    let out = std::io::BufWriter::with_capacity(1 << 16, file);
    let done =
        export::export(rep, inputs, opts, redactor, out).map_err(|e| cannot(e.to_string()))?;
    for note in &done.notes {
        eprintln!("turnscope: export: {}", crate::escape::terminal(note));
    }
    eprintln!(
        "turnscope: exported {} frames ({} evidence, {} of their flows) on {} interfaces to {}",
        done.frames,
        done.evidence_frames,
        done.flow_frames,
        done.interfaces,
        crate::escape::terminal(&path.display().to_string())
    );
    Ok(())
}
