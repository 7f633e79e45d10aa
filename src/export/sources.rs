//! Every capture of a case walked once more, record by record: files on disk mapped, bundle
//! members and gzip captures streamed from their bundle (nothing is extracted).

use std::io::{self, Read};

use crate::capture::bundle::{self, Kind, Limits, Member, Take, Visitor};
use crate::capture::{walk_raw_read, RawFrame};
use crate::input::{self, Input};

/// Walk the records of every capture of `inputs` whose name `wanted` accepts (the names the
/// analysis gave them: the evidence's capture names), handing each to `visit` with the
/// capture's name. Returns notes for captures that could not be read again.
pub(super) fn walk(
    inputs: &[Input],
    bundle_limit: u64,
    wanted: &dyn Fn(&str) -> bool,
    visit: &mut dyn FnMut(&str, RawFrame<'_>),
) -> Vec<String> {
    let resolved = input::resolve(inputs, bundle_limit);
    let mut notes = Vec::new();
    for capture in resolved.captures {
        if !wanted(&capture.name) {
            continue;
        }
        let name = capture.name.clone();
        match capture.open() {
            Ok(file) => file.raw_frames().for_each(|f| visit(&name, f)),
            Err(e) => notes.push(format!("{name}: not exported: {}", e.reason)),
        }
    }
    for b in resolved.bundles {
        let mut members = Members { wanted, visit };
        let walked = b
            .reader()
            .and_then(|mut r| {
                bundle::walk(
                    &b.name,
                    &mut r,
                    Limits::inflating(bundle_limit),
                    &mut members,
                )
                .map_err(io::Error::other)
            })
            .map(|_| ());
        if let Err(e) = walked {
            notes.push(format!("{}: read again in part only: {e}", b.name));
        }
    }
    notes
}

/// The capture members of a bundle that are wanted, streamed to the visitor.
struct Members<'v> {
    wanted: &'v dyn Fn(&str) -> bool,
    visit: &'v mut dyn FnMut(&str, RawFrame<'_>),
}

impl Visitor for Members<'_> {
    fn member(&mut self, m: &Member<'_>) -> Take {
        match m.kind {
            Kind::Pcap | Kind::PcapNg if (self.wanted)(m.name) => Take::Read,
            _ => Take::Skip("not a capture with frames to export".into()),
        }
    }

    fn read(&mut self, m: &Member<'_>, data: &mut dyn Read) -> io::Result<()> {
        let name = m.name.to_string();
        let visit = &mut self.visit;
        walk_raw_read(&name, data, &mut |f| visit(&name, f))
            .map(|_| ())
            .map_err(io::Error::other)
    }
}
