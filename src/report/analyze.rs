//! `analyze`: inputs (capture files, bundles, bytes) -> flows (in parallel, one capture per
//! core, each streamed batch by batch) -> case -> findings -> report.

use std::path::{Path, PathBuf};

use crate::capture::{self, bundle, CaptureFile, Scanned};
use crate::flow::{CaptureFlows, FlowOptions, Ingest, OrderFree, Role};

use super::{report_from_flows, AnalyzeOptions, InputError, Report};

/// Where an input's bytes are.
#[derive(Debug, Clone)]
pub enum Source {
    Path(PathBuf),
    Bytes(Vec<u8>),
}

/// One input of a case: a capture or a bundle, with an optional role.
#[derive(Debug, Clone)]
pub struct Input {
    /// Label used in the report (the path as given, or a name for bytes).
    pub name: String,
    pub source: Source,
    /// `--client` / `--server`; `None` to infer.
    pub role: Option<Role>,
}

impl Input {
    pub fn path(p: impl AsRef<Path>) -> Input {
        let p = p.as_ref();
        Input {
            name: p.display().to_string(),
            source: Source::Path(p.to_path_buf()),
            role: None,
        }
    }

    pub fn bytes(name: impl Into<String>, bytes: Vec<u8>) -> Input {
        Input {
            name: name.into(),
            source: Source::Bytes(bytes),
            role: None,
        }
    }

    pub fn with_role(mut self, role: Role) -> Input {
        self.role = Some(role);
        self
    }
}

/// A capture ready to read.
enum Ready {
    Path(String, PathBuf),
    Bytes(String, Vec<u8>),
}

/// Read the first bytes of a file to tell captures from bundles.
fn head(p: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(p)?;
    let mut b = vec![0u8; 512];
    let mut n = 0;
    while n < b.len() {
        let k = f.read(&mut b[n..])?;
        if k == 0 {
            break;
        }
        n += k;
    }
    b.truncate(n);
    Ok(b)
}

fn expand_bytes(
    name: &str,
    bytes: Vec<u8>,
    role: Option<Role>,
    limit: u64,
    ready: &mut Vec<(Ready, Option<Role>)>,
    errors: &mut Vec<InputError>,
) {
    if !bundle::is_bundle(&bytes) {
        ready.push((Ready::Bytes(name.to_string(), bytes), role));
        return;
    }
    match bundle::expand(name, &bytes, limit) {
        Ok(e) => {
            if e.captures.is_empty() {
                errors.push(InputError {
                    path: name.to_string(),
                    reason: format!(
                        "bundle holds no pcap or pcapng capture ({} other members)",
                        e.skipped.len()
                    ),
                });
            }
            for m in e.captures {
                ready.push((Ready::Bytes(m.name, m.bytes), role));
            }
        }
        Err(e) => errors.push(InputError {
            path: name.to_string(),
            reason: strip_name(name, &e.to_string()),
        }),
    }
}

/// Error texts start with the file name; the report keeps it in `path`.
fn strip_name(name: &str, msg: &str) -> String {
    msg.strip_prefix(name)
        .and_then(|m| m.strip_prefix(": "))
        .unwrap_or(msg)
        .to_string()
}

/// Read one capture into flows, batch by batch.
fn read(r: Ready, opts: &FlowOptions) -> Result<CaptureFlows, InputError> {
    let (name, file) = match r {
        Ready::Path(name, p) => {
            let f = capture::open(&p);
            (name, f)
        }
        Ready::Bytes(name, b) => {
            let f = CaptureFile::from_bytes(name.clone(), b);
            (name, f)
        }
    };
    let file = file.map_err(|e| InputError {
        path: name.clone(),
        reason: strip_name(&name, &e.to_string()),
    })?;
    let mut ing = Ingest::new(&name, opts);
    ing.set_link_types(file.link_types().to_vec());
    // Stretches of the file are walked on all cores; datagrams are decoded and summarised
    // there, and filed here in frame order with what needs order (TCP, ICMP, bindings).
    let counts = file.scan(&OrderFree::for_options(opts), |s| match s {
        Scanned::Stretch {
            part,
            frame_base,
            events,
        } => ing.stretch(part, frame_base, &events),
        Scanned::Events(batch) => ing.events(&batch),
    });
    let frames = counts.frames;
    ing.set_frames(frames);
    Ok(ing.finish())
}

/// Analyse one support case. Unusable inputs are listed in `Report::errors`; the others are
/// analysed all the same.
pub fn analyze(inputs: &[Input], opts: &AnalyzeOptions) -> Report {
    let mut ready: Vec<(Ready, Option<Role>)> = Vec::new();
    let mut errors = Vec::new();
    for input in inputs {
        match &input.source {
            Source::Path(p) => match head(p) {
                Err(e) => errors.push(InputError {
                    path: input.name.clone(),
                    reason: format!("cannot read: {e}"),
                }),
                Ok(h) if bundle::is_bundle(&h) => {
                    let len = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
                    if len > opts.bundle_limit {
                        errors.push(InputError {
                            path: input.name.clone(),
                            reason: format!(
                                "bundle of {len} bytes is larger than the limit of {} bytes",
                                opts.bundle_limit
                            ),
                        });
                        continue;
                    }
                    match std::fs::read(p) {
                        Ok(b) => expand_bytes(
                            &input.name,
                            b,
                            input.role,
                            opts.bundle_limit,
                            &mut ready,
                            &mut errors,
                        ),
                        Err(e) => errors.push(InputError {
                            path: input.name.clone(),
                            reason: format!("cannot read: {e}"),
                        }),
                    }
                }
                Ok(_) => ready.push((Ready::Path(input.name.clone(), p.clone()), input.role)),
            },
            Source::Bytes(b) => expand_bytes(
                &input.name,
                b.clone(),
                input.role,
                opts.bundle_limit,
                &mut ready,
                &mut errors,
            ),
        }
    }
    let fo = opts.flow_options();
    // One plain thread per capture (at most one per core at a time); each capture's scan
    // starts its own walking threads, so several small captures and one big one both use
    // every core.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results: Vec<(Result<CaptureFlows, InputError>, Option<Role>)> = Vec::new();
    let mut pending = ready.into_iter();
    loop {
        let chunk: Vec<(Ready, Option<Role>)> = pending.by_ref().take(cores).collect();
        if chunk.is_empty() {
            break;
        }
        let fo = &fo;
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .into_iter()
                .map(|(r, role)| scope.spawn(move || (read(r, fo), role)))
                .collect();
            for h in handles {
                if let Ok(x) = h.join() {
                    results.push(x);
                }
            }
        });
    }
    let mut flows = Vec::new();
    let mut roles = Vec::new();
    for (res, role) in results {
        match res {
            Ok(f) => {
                flows.push(f);
                roles.push(role);
            }
            Err(e) => errors.push(e),
        }
    }
    report_from_flows(flows, &roles, errors, opts)
}
