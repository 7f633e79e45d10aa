//! `turnscope batch DIR... --out DIR`

use std::io::IsTerminal;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use super::CliError;
use crate::batch;
use crate::flow::Credential;
use crate::report::AnalyzeOptions;

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
}

fn parse_credential(s: &str) -> Result<Credential, String> {
    s.parse()
}

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
    let summary = batch::run(&cases, &opts, &args.out, &progress)
        .map_err(|e| CliError(format!("{}: {e}", args.out.display())))?;
    bar.finish_and_clear();
    for c in &summary.cases {
        println!(
            "{:<9} {}  {}",
            c.verdict,
            crate::escape::terminal(&c.case),
            c.findings.join(" ")
        );
        for e in &c.errors {
            println!(
                "          not used: {}",
                crate::escape::terminal(&format!("{}: {}", e.path, e.reason))
            );
        }
    }
    println!(
        "{} cases; reports and summary.md in {}",
        summary.cases.len(),
        args.out.display()
    );
    Ok(if summary.cases.iter().all(|c| c.verdict == "unusable") {
        1
    } else {
        0
    })
}
