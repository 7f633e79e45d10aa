//! Reading a case: inputs (capture files, bundles, folders, bytes, documents; see
//! [`super::input`]) -> flows (in parallel, one input per core: a capture on disk walked in
//! stretches on all cores, a bundle streamed through two threads) and documents.

use crate::capture::bundle::Limits;
use crate::capture::Scanned;
use crate::flow::{CaptureFlows, Case, FlowOptions, Ingest, OrderFree, Role};
use crate::sources::{self, Document};

use super::input::{self, BundleInput, CaptureInput, DocumentInput};
use super::profile::Profile;
use super::streamed::{self, StreamedInput};
use super::{AnalyzeOptions, BundleInfo, BundleWithoutCapture, CaseParts, InputError};

/// Read one capture into flows, batch by batch.
fn read(input: CaptureInput, opts: &FlowOptions) -> Result<CaptureFlows, InputError> {
    let name = input.name.clone();
    let file = input.open()?;
    let mut ing = Ingest::new(&name, opts);
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
    // From the scan: asking the file would walk a pcapng file's blocks once more.
    ing.set_link_types(counts.declared_links);
    Ok(ing.finish())
}

/// One input to read: a capture on disk, or a stream.
enum Work {
    Capture(CaptureInput),
    Bundle(BundleInput),
}

impl Work {
    fn name(&self) -> &str {
        match self {
            Work::Capture(c) => &c.name,
            Work::Bundle(b) => &b.name,
        }
    }

    fn order(&self) -> usize {
        match self {
            Work::Capture(c) => c.order,
            Work::Bundle(b) => b.order,
        }
    }
}

/// What one input gave.
enum Read {
    /// Boxed: a capture's flows are much larger than a bundle's list of them.
    Capture(Box<Result<CaptureFlows, InputError>>, Option<Role>),
    Bundle(String, StreamedInput),
}

fn read_work(work: Work, opts: &FlowOptions, limits: Limits) -> Read {
    match work {
        Work::Capture(c) => {
            let role = c.role;
            Read::Capture(Box::new(read(c, opts)), role)
        }
        Work::Bundle(b) => Read::Bundle(b.name.clone(), streamed::read(&b, opts, limits)),
    }
}

/// A document given as a file, read.
fn read_document(d: &DocumentInput) -> Result<Document, InputError> {
    let r = d
        .reader()
        .map_err(|e| InputError::new(&d.name, format!("cannot read: {e}")))?;
    Ok(sources::read(&d.name, d.kind.source(), r))
}

/// The case of some inputs, assembled (configured by flags and the Expressway's dumps) but not
/// diagnosed: for tools and tests that look at flows, vantage points and per-hop verdicts
/// directly. With what could not be used.
pub fn assemble(inputs: &[input::Input], opts: &AnalyzeOptions) -> (Case, Vec<InputError>) {
    let parts = read_inputs(inputs, opts);
    let profile = Profile::build(opts, &parts.documents);
    (
        Case::build(parts.flows, &parts.roles, profile.hints()),
        parts.errors,
    )
}

/// Resolve the inputs and read every capture, bundle and document, in parallel.
pub fn read_inputs(inputs: &[input::Input], opts: &AnalyzeOptions) -> CaseParts {
    let input::Resolved {
        captures,
        bundles,
        documents,
        errors,
        ..
    } = input::resolve(inputs, opts.bundle_limit);
    let fo = opts.flow_options();
    let limits = Limits::inflating(opts.bundle_limit);
    let mut work: Vec<Work> = captures.into_iter().map(Work::Capture).collect();
    work.extend(bundles.into_iter().map(Work::Bundle));
    work.sort_by_key(Work::order);
    // One plain thread per input (at most one per core at a time); each capture's scan
    // starts its own walking threads and a bundle its walking worker, so several small
    // inputs and one big one both use every core.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results: Vec<Read> = Vec::new();
    let mut failed: Vec<InputError> = Vec::new();
    let mut pending = work.into_iter();
    loop {
        let chunk: Vec<Work> = pending.by_ref().take(cores).collect();
        if chunk.is_empty() {
            break;
        }
        let fo = &fo;
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .into_iter()
                .map(|w| {
                    let name = w.name().to_string();
                    (name, scope.spawn(move || read_work(w, fo, limits)))
                })
                .collect();
            for (name, h) in handles {
                match h.join() {
                    Ok(x) => results.push(x),
                    // A bug while reading one input loses that input, not the case.
                    Err(_) => failed.push(InputError::new(
                        &name,
                        "reading it stopped on an internal error",
                    )),
                }
            }
        });
    }
    let mut parts = CaseParts {
        errors,
        ..CaseParts::default()
    };
    parts.errors.extend(failed);
    for d in &documents {
        match read_document(d) {
            Ok(doc) => parts.documents.push(doc),
            Err(e) => parts.errors.push(e),
        }
    }
    for r in results {
        add_read(&mut parts, r);
    }
    parts
}

/// File what one input gave into the case.
fn add_read(parts: &mut CaseParts, r: Read) {
    match r {
        Read::Capture(flows, role) => match *flows {
            Ok(f) => {
                parts.flows.push(f);
                parts.roles.push(role);
                parts.interfaces.push(None);
            }
            Err(e) => parts.errors.push(e),
        },
        Read::Bundle(name, s) => {
            let StreamedInput {
                captures,
                documents,
                notes,
                errors,
                inflated,
                entries,
            } = s;
            // The bundle's own configuration names its interfaces (each cluster peer has
            // its addresses); flags do not change what an interface is.
            let own = Profile::build(&AnalyzeOptions::default(), &documents);
            // A bundle whose capture failed is said by its error, not as one without capture.
            if captures.is_empty() && errors.is_empty() && !documents.is_empty() {
                parts.without_capture.push(BundleWithoutCapture {
                    bundle: name.clone(),
                    documents: documents.iter().map(|d| d.kind.describe()).collect(),
                });
            }
            for c in captures {
                parts.flows.push(c.flows);
                parts.roles.push(c.role);
                parts
                    .interfaces
                    .push(c.interface.map(|n| own.interface_label(n)));
            }
            parts.documents.extend(documents);
            parts.errors.extend(errors);
            parts.bundles.push(BundleInfo {
                path: name,
                inflated,
                entries,
                notes,
            });
        }
    }
}
