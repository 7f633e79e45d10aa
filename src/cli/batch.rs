//! `turnscope batch DIR... --out DIR`

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::batch;
use crate::flow::Credential;
use crate::report::AnalyzeOptions;

/// `turnscope batch`: folders of cases and where the reports go.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Folders holding support cases (folders of captures, or bundles).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the per-case reports and the summary are written.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// USER:PASSWORD to verify MESSAGE-INTEGRITY offline (repeatable).
    #[arg(long, value_name = "USER:PASSWORD", value_parser = parse_credential)]
    pub credential: Vec<Credential>,
    /// The server's realm (an extra realm to try in integrity checks).
    #[arg(long)]
    pub realm: Option<String>,
    /// Colour the verdicts: auto = when standard output is a terminal and NO_COLOR is unset
    /// or empty.
    #[arg(long, value_enum, default_value = "auto", value_name = "WHEN")]
    pub color: super::term::ColorChoice,
    /// Replace addresses, usernames, realms, host names and directories in every report with
    /// pseudonyms consistent within each case (see docs/cli.md).
    #[arg(long)]
    pub redact: bool,
}

fn parse_credential(s: &str) -> Result<Credential, String> {
    s.parse()
}

/// Analyse every case found and write the reports and summary; returns the exit status.
pub fn run(args: Args) -> Result<u8, CliError> {
    let mut cases = Vec::new();
    for d in &args.dirs {
        if !d.is_dir() {
            return Err(CliError(format!("{}: not a folder", d.display())));
        }
        cases.extend(batch::find_cases(d).map_err(|e| CliError(format!("{}: {e}", d.display())))?);
    }
    if cases.is_empty() {
        eprintln!("turnscope: no captures or bundles found under the given folders");
        return Ok(1);
    }
    let opts = AnalyzeOptions {
        credentials: args.credential,
        realm: args.realm,
        ..AnalyzeOptions::default()
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(cases.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} cases  {msg}") {
            b.set_style(style);
        }
        b
    } else {
        ProgressBar::hidden()
    };
    let progress = |name: &str| {
        bar.set_message(crate::escape::terminal(name).into_owned());
        bar.inc(1);
    };
    let summary = batch::run(&cases, &opts, args.redact, &args.out, &progress)
        .map_err(|e| CliError(format!("{}: {e}", args.out.display())))?;
    bar.finish_and_clear();
    print!(
        "{}",
        summary_lines(&summary.cases, super::term::style(args.color, false))
    );
    println!(
        "{} cases; reports and summary.md in {}",
        summary.cases.len(),
        args.out.display()
    );
    // 1 when no case could be analysed at all; a case that failed is listed, not fatal.
    let none_analysed = summary
        .cases
        .iter()
        .all(|c| matches!(&*c.verdict, "unusable" | "failed"));
    Ok(if none_analysed { 1 } else { 0 })
}

/// The summary on the terminal: verdict, case and finding ids in aligned columns, the inputs
/// not used under their case.
fn summary_lines(cases: &[batch::CaseSummary], style: crate::report::TermStyle) -> String {
    use crate::report::visible_width;
    let names: Vec<String> = cases
        .iter()
        .map(|c| crate::escape::terminal(&c.case).into_owned())
        .collect();
    let verdict_w = cases.iter().map(|c| c.verdict.len()).max().unwrap_or(0);
    let name_w = names.iter().map(|n| visible_width(n)).max().unwrap_or(0);
    let mut out = String::new();
    for (c, name) in cases.iter().zip(&names) {
        let pad = " ".repeat(verdict_w - c.verdict.len());
        let verdict = match (style.color, &*c.verdict) {
            (true, "error") => format!("\x1b[1;31merror\x1b[0m{pad}"),
            (true, "warning") => format!("\x1b[1;33mwarning\x1b[0m{pad}"),
            (true, "info") => format!("\x1b[32minfo\x1b[0m{pad}"),
            (true, "unusable") => format!("\x1b[1;35munusable\x1b[0m{pad}"),
            (true, "failed") => format!("\x1b[1;35mfailed\x1b[0m{pad}"),
            _ => format!("{}{pad}", c.verdict),
        };
        let name_pad = " ".repeat(name_w.saturating_sub(visible_width(name)));
        let line = format!("{verdict}  {name}{name_pad}  {}", c.findings.join(" "));
        out.push_str(line.trim_end());
        out.push('\n');
        if let Some(why) = &c.failure {
            out.push_str(&format!(
                "{}  failed: {}\n",
                " ".repeat(verdict_w),
                crate::escape::terminal(why)
            ));
        }
        for e in &c.errors {
            out.push_str(&format!(
                "{}  not used: {}\n",
                " ".repeat(verdict_w),
                crate::escape::terminal(&format!("{}: {}", e.path, e.reason))
            ));
        }
    }
    out
}
