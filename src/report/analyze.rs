//! `analyze`: inputs (capture files, bundles, folders, bytes; see [`crate::input`]) -> flows (in parallel, one capture per
//! core, each streamed batch by batch) -> case -> findings -> report.

use crate::capture::Scanned;
use crate::flow::{CaptureFlows, Case, FlowOptions, Ingest, OrderFree, Role};
use crate::input::{self, CaptureInput};

use super::{report_from_flows, AnalyzeOptions, InputError, Report};

/// Read one capture into flows, batch by batch.
fn read(input: CaptureInput, opts: &FlowOptions) -> Result<CaptureFlows, InputError> {
    let name = input.name.clone();
    let file = input.open()?;
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
pub fn analyze(inputs: &[input::Input], opts: &AnalyzeOptions) -> Report {
    let read = read_inputs(inputs, opts);
    report_from_flows(read.flows, &read.roles, read.errors, opts)
}

/// One case's captures read into flows, with the roles given and what could not be used.
pub struct ReadInputs {
    pub flows: Vec<CaptureFlows>,
    /// `--client` / `--server` per flow; `None` to infer.
    pub roles: Vec<Option<Role>>,
    pub errors: Vec<InputError>,
}

/// The case of some inputs, assembled but not diagnosed (for tools and tests that look at
/// flows, vantage points and per-hop verdicts directly), with what could not be used.
pub fn assemble(inputs: &[input::Input], opts: &AnalyzeOptions) -> (Case, Vec<InputError>) {
    let read = read_inputs(inputs, opts);
    (
        Case::build(read.flows, &read.roles, opts.hints()),
        read.errors,
    )
}

/// Resolve the inputs and read every capture into flows, in parallel.
pub fn read_inputs(inputs: &[input::Input], opts: &AnalyzeOptions) -> ReadInputs {
    let input::Resolved {
        captures: ready,
        documents,
        mut errors,
    } = input::resolve(inputs, opts.bundle_limit);
    // Documents (webrtc-internals dumps) are recognised but not analysed yet: say so.
    errors.extend(documents.iter().map(|d| InputError {
        path: d.name.clone(),
        reason: format!("{}: recognised, not analysed yet", d.kind.describe()),
    }));
    let fo = opts.flow_options();
    // One plain thread per capture (at most one per core at a time); each capture's scan
    // starts its own walking threads, so several small captures and one big one both use
    // every core.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut results: Vec<(Result<CaptureFlows, InputError>, Option<Role>)> = Vec::new();
    let mut pending = ready.into_iter();
    loop {
        let chunk: Vec<CaptureInput> = pending.by_ref().take(cores).collect();
        if chunk.is_empty() {
            break;
        }
        let fo = &fo;
        std::thread::scope(|scope| {
            let handles: Vec<_> = chunk
                .into_iter()
                .map(|c| {
                    let role = c.role;
                    scope.spawn(move || (read(c, fo), role))
                })
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
    ReadInputs {
        flows,
        roles,
        errors,
    }
}
