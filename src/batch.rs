//! Many support cases at once: find the cases under folders, analyze them in parallel, write one
//! report per case and a summary.
//!
//! A case is a folder that directly holds captures or documents (all of its captures, bundles
//! and documents together: the client capture beside the Expressway-E bundle and the CMS
//! event log is one case, and so are the bundles of a cluster's peers in one folder), or a
//! lone diagnostic bundle (alone in its folder, or among
//! other bundles right in a folder given to `batch`: a folder of customers' bundles). Files are
//! recognised by content, not by name; a file that cannot be read stays in its case, which then
//! says why. A case whose analysis panics, or whose report cannot be written, is listed as
//! failed with the reason; it never stops the others.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::capture::bundle::{sniff, Kind, HEAD_BYTES};
use crate::diagnose::Severity;
use crate::report::{self, AnalyzeOptions, Input, InputError, Report};
use crate::sources;

/// One support case: a name (its path relative to the folder given) and its inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// The case's name: its path relative to the folder given, which names its reports too.
    pub name: String,
    /// Its inputs, captures, bundles and documents, in name order.
    pub inputs: Vec<PathBuf>,
}

/// Folders are not followed deeper than this (cases sit a few levels down at most).
const MAX_DEPTH: usize = 8;

/// What a file is to a batch: a capture, a bundle, a document (a CMS event log, an
/// Expressway log or dump, a webrtc-internals dump), unreadable (kept, to be reported), or
/// nothing of a case's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CaseFile {
    Capture,
    Bundle,
    Document,
    Unreadable,
    Other,
}

fn case_file(path: &Path) -> CaseFile {
    // As many first bytes as the document sniffers look at.
    let mut head = Vec::with_capacity(HEAD_BYTES);
    let read =
        std::fs::File::open(path).and_then(|f| f.take(HEAD_BYTES as u64).read_to_end(&mut head));
    if read.is_err() {
        return CaseFile::Unreadable;
    }
    let name = path.to_string_lossy();
    match sniff(&head) {
        Kind::Pcap | Kind::PcapNg => CaseFile::Capture,
        // Chrome writes its webrtc-internals dump gzip-compressed by default.
        Kind::Gzip if sources::sniff(&head, &name).is_some() => CaseFile::Document,
        Kind::Gzip | Kind::Tar => CaseFile::Bundle,
        Kind::Other if sources::sniff(&head, &name).is_some() => CaseFile::Document,
        Kind::Other => CaseFile::Other,
    }
}

/// The cases under `root`, sorted by name. Symbolic links are not followed.
pub fn find_cases(root: &Path) -> std::io::Result<Vec<Case>> {
    let mut cases = Vec::new();
    walk(root, root, 0, &mut cases)?;
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(cases)
}

fn case_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let base = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| ".".into());
    if rel.as_os_str().is_empty() {
        base
    } else {
        format!("{base}/{}", rel.display())
    }
}

fn walk(root: &Path, dir: &Path, depth: usize, cases: &mut Vec<Case>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    let mut files: Vec<(PathBuf, CaseFile)> = Vec::new();
    for e in entries {
        let Ok(ft) = e.file_type() else { continue };
        let path = e.path();
        if ft.is_dir() {
            if depth < MAX_DEPTH {
                walk(root, &path, depth + 1, cases)?;
            }
        } else if ft.is_file() {
            match case_file(&path) {
                CaseFile::Other => {}
                kind => files.push((path, kind)),
            }
        }
    }
    let bundles_only = files.iter().all(|(_, k)| *k == CaseFile::Bundle);
    let lone_bundles = bundles_only && (files.len() == 1 || dir == root);
    if lone_bundles {
        cases.extend(files.into_iter().map(|(path, _)| Case {
            name: case_name(root, &path),
            inputs: vec![path],
        }));
    } else if !files.is_empty() {
        cases.push(Case {
            name: case_name(root, dir),
            inputs: files.into_iter().map(|(p, _)| p).collect(),
        });
    }
    Ok(())
}

/// What the summary says of one case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseSummary {
    /// The case's name (see [`Case::name`]).
    pub case: String,
    /// How many inputs it had.
    pub inputs: usize,
    /// `error`, `warning`, `info`, `unusable` (no input could be read, or no capture and an
    /// input failed) or `failed` (the analysis stopped, or its report could not be written:
    /// see `failure`).
    pub verdict: Cow<'static, str>,
    /// The ids of its findings, in report order (an id once per finding).
    pub findings: Vec<Cow<'static, str>>,
    /// The report files written for the case, relative to the output folder.
    pub reports: Vec<String>,
    /// Inputs (or parts of bundles) that could not be used, with the reason.
    pub errors: Vec<InputError>,
    /// Why the case failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// Why a case of a batch failed.
#[derive(Debug)]
pub enum CaseFailure {
    /// The analysis panicked (a bug: the message says where).
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// One of its report files could not be written.
    WriteReport {
        /// The report file.
        file: PathBuf,
        /// Why the write failed.
        error: std::io::Error,
    },
}

impl std::fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CaseFailure::Panicked { message } => {
                write!(f, "the analysis stopped on an internal error: {message}")
            }
            CaseFailure::WriteReport { file, error } => {
                write!(f, "cannot write {}: {error}", file.display())
            }
        }
    }
}

/// The summary of a batch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// The version of this JSON document's layout, [`crate::report::SCHEMA_VERSION`] when
    /// written (1 for summaries written before the field existed).
    #[serde(default = "crate::report::schema_version_before_the_field")]
    pub schema_version: u32,
    /// Every case, in the order found.
    pub cases: Vec<CaseSummary>,
    /// How many cases raised each finding id.
    pub by_finding: BTreeMap<Cow<'static, str>, usize>,
}

fn verdict(r: &Report) -> &'static str {
    // A case of documents alone (a dump, a log-only bundle) read whole is a case; documents
    // left of a broken bundle whose capture could not be read are not.
    let documents_read = r.logs.documents.iter().any(|d| d.kept > 0);
    if r.captures.is_empty() && (!documents_read || !r.errors.is_empty()) {
        "unusable"
    } else if r.findings.iter().any(|f| f.severity == Severity::Error) {
        "error"
    } else if r.findings.iter().any(|f| f.severity == Severity::Warning) {
        "warning"
    } else {
        "info"
    }
}

/// A file name for a case's reports: its name with separators and odd characters replaced.
pub fn file_stem(case: &str) -> String {
    let s: String = case
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    s.trim_matches('.').to_string()
}

/// Analyze every case in parallel, writing `<case>.json`, `<case>.md` and `<case>.html` under
/// `out`, then `summary.json` and `summary.md`. `progress` is called once per finished case.
/// With `redact`, each case's reports (and the inputs not used that the summary lists) are
/// redacted with a redactor of their own ([`Report::redact`]).
pub fn run(
    cases: &[Case],
    opts: &AnalyzeOptions,
    redact: bool,
    out: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> std::io::Result<Summary> {
    std::fs::create_dir_all(out)?;
    // Plain threads, one case each at a time, not rayon workers: analyze parallelises on the
    // rayon pool inside, and a rayon worker blocked on that would starve it.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..cores.min(cases.len()) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(case) = cases.get(i) else { break };
                let result = run_case(case, opts, redact, out);
                progress(&case.name);
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
        }
    });
    drop(tx);
    let mut results: Vec<(usize, CaseSummary)> = rx.into_iter().collect();
    results.sort_by_key(|(i, _)| *i);
    let cases: Vec<CaseSummary> = results.into_iter().map(|(_, r)| r).collect();
    let mut by_finding = BTreeMap::new();
    for c in &cases {
        let mut ids = c.findings.clone();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            *by_finding.entry(id).or_default() += 1;
        }
    }
    let summary = Summary {
        schema_version: report::SCHEMA_VERSION,
        cases,
        by_finding,
    };
    let json = crate::escape::to_json_pretty(&summary).map_err(std::io::Error::other)?;
    std::fs::write(out.join("summary.json"), json)?;
    std::fs::write(out.join("summary.md"), summary_markdown(&summary))?;
    Ok(summary)
}

/// One case, whatever happens: a panic inside its analysis or rendering, or a report that
/// cannot be written, makes it a failed case with the reason, never the end of the batch.
fn run_case(case: &Case, opts: &AnalyzeOptions, redact: bool, out: &Path) -> CaseSummary {
    // Nothing the closure touches outlives a panic in a broken state: the case's own data
    // is dropped with it, and the options and paths are only read.
    let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        analyze_case(case, opts, redact, out)
    }));
    match attempt {
        Ok(summary) => summary,
        Err(payload) => {
            let failure = CaseFailure::Panicked {
                message: panic_message(payload.as_ref()),
            };
            CaseSummary {
                case: case.name.clone(),
                inputs: case.inputs.len(),
                verdict: Cow::Borrowed("failed"),
                findings: Vec::new(),
                reports: Vec::new(),
                errors: Vec::new(),
                failure: Some(failure.to_string()),
            }
        }
    }
}

/// The text a panic carried (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "no message".to_string()
    }
}

fn analyze_case(case: &Case, opts: &AnalyzeOptions, redact: bool, out: &Path) -> CaseSummary {
    #[cfg(feature = "testsupport")]
    crate::testsupport::batch_case_starts(&case.name);
    let inputs: Vec<Input> = case.inputs.iter().map(Input::path).collect();
    let mut r = report::analyze(&inputs, opts);
    if redact {
        r.redact(&mut opts.redactor());
    }
    let stem = file_stem(&case.name);
    let mut summary = CaseSummary {
        case: case.name.clone(),
        inputs: case.inputs.len(),
        verdict: Cow::Borrowed(verdict(&r)),
        findings: r.findings.iter().map(|f| f.id.clone()).collect(),
        reports: Vec::new(),
        errors: r.errors.clone(),
        failure: None,
    };
    for (ext, text) in [
        ("json", r.json()),
        ("md", report::markdown(&r)),
        ("html", report::html(&r)),
    ] {
        let name = format!("{stem}.{ext}");
        let file = out.join(&name);
        if let Err(error) = std::fs::write(&file, text) {
            summary.verdict = Cow::Borrowed("failed");
            summary.failure = Some(CaseFailure::WriteReport { file, error }.to_string());
            break;
        }
        summary.reports.push(name);
    }
    summary
}

/// The summary as a Markdown table, worst cases first.
pub fn summary_markdown(s: &Summary) -> String {
    let rank = |v: &str| match v {
        "failed" => 0,
        "unusable" => 1,
        "error" => 2,
        "warning" => 3,
        _ => 4,
    };
    let mut rows: Vec<&CaseSummary> = s.cases.iter().collect();
    rows.sort_by(|a, b| {
        rank(&a.verdict)
            .cmp(&rank(&b.verdict))
            .then_with(|| a.case.cmp(&b.case))
    });
    let mut md = String::from(
        "# turnscope batch summary\n\n| case | verdict | findings | report |\n|---|---|---|---|\n",
    );
    for c in rows {
        let report = c
            .reports
            .iter()
            .find(|r| r.ends_with(".md"))
            .cloned()
            .unwrap_or_default();
        md.push_str(&format!(
            "| {} | {} | {} | [{report}]({report}) |\n",
            crate::escape::markdown(&c.case),
            c.verdict,
            c.findings.join(", ")
        ));
    }
    let failed: Vec<(&str, &str)> = s
        .cases
        .iter()
        .filter_map(|c| Some((c.case.as_str(), c.failure.as_deref()?)))
        .collect();
    if !failed.is_empty() {
        md.push_str("\n## Cases that failed\n\n| case | why |\n|---|---|\n");
        for (case, why) in failed {
            md.push_str(&format!(
                "| {} | {} |\n",
                crate::escape::markdown(case),
                crate::escape::markdown(why)
            ));
        }
    }
    let unused: Vec<(&str, &InputError)> = s
        .cases
        .iter()
        .flat_map(|c| c.errors.iter().map(move |e| (c.case.as_str(), e)))
        .collect();
    if !unused.is_empty() {
        md.push_str("\n## Inputs not used\n\n| case | input | why |\n|---|---|---|\n");
        for (case, e) in unused {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                case.replace('|', "\\|"),
                e.path.replace('|', "\\|"),
                e.reason.replace('|', "\\|")
            ));
        }
    }
    md.push_str("\n## Findings across cases\n\n| finding | cases |\n|---|---|\n");
    for (id, n) in &s.by_finding {
        md.push_str(&format!("| `{id}` | {n} |\n"));
    }
    md
}
