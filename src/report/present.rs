//! What the human renderings (terminal, Markdown, HTML) share: the verdict, evidence grouped
//! by capture with frames as ranges, and capture names without the folder they all share.

use std::borrow::Cow;

use crate::diagnose::{DocumentEvidence, Finding, Severity};

use super::Report;

/// The folder every capture of the report is in (up to and including its last `/`), so that
/// renderings name captures by what tells them apart; empty when they share none.
pub fn common_folder(r: &Report) -> String {
    let mut names = r.captures.iter().map(|c| c.path.as_str()).chain(
        r.findings
            .iter()
            .flat_map(|f| f.evidence.iter().map(|e| e.capture.as_str())),
    );
    let Some(first) = names.next() else {
        return String::new();
    };
    let mut shared = first.len();
    for n in names {
        shared = first
            .char_indices()
            .zip(n.chars())
            .take_while(|((_, a), b)| a == b)
            .last()
            .map_or(0, |((i, a), _)| i + a.len_utf8())
            .min(shared);
    }
    let prefix = first.get(..shared).unwrap_or("");
    match prefix.rfind('/') {
        Some(at) => prefix.get(..=at).unwrap_or("").to_string(),
        None => String::new(),
    }
}

/// `path` without `folder` (see [`common_folder`]).
pub fn short<'a>(path: &'a str, folder: &str) -> &'a str {
    if folder.is_empty() {
        return path;
    }
    path.strip_prefix(folder)
        .filter(|s| !s.is_empty())
        .unwrap_or(path)
}

/// Frame numbers as ranges: `9-14, 20, 31-32`.
pub fn frame_ranges(frames: &[u32]) -> String {
    let mut sorted = frames.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    for f in sorted {
        run = match run {
            Some((a, b)) if b.checked_add(1) == Some(f) => Some((a, f)),
            Some(done) => {
                parts.push(range_text(done));
                Some((f, f))
            }
            None => Some((f, f)),
        };
    }
    if let Some(done) = run {
        parts.push(range_text(done));
    }
    parts.join(", ")
}

fn range_text((a, b): (u32, u32)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

/// The evidence frames of one capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceGroup<'a> {
    /// The capture (or rotated piece) as the report names it.
    pub capture: &'a str,
    /// The finding's frames in it, 1-based, in the order cited.
    pub frames: Vec<u32>,
}

/// A finding's evidence grouped by capture, in order of first appearance.
pub fn evidence_groups(f: &Finding) -> Vec<EvidenceGroup<'_>> {
    let mut groups: Vec<EvidenceGroup<'_>> = Vec::new();
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in &f.evidence {
        let i = *index.entry(e.capture.as_str()).or_insert_with(|| {
            groups.push(EvidenceGroup {
                capture: e.capture.as_str(),
                frames: Vec::new(),
            });
            groups.len() - 1
        });
        if let Some(g) = groups.get_mut(i) {
            g.frames.push(e.frame);
        }
    }
    groups
}

/// Places in documents the human renderings list under a finding (the JSON has them all, at
/// most [`crate::diagnose::MAX_DOCUMENT_EVIDENCE`]).
pub const DOCUMENTS_SHOWN: usize = 6;

/// A place in a document as the human renderings show it (from a [`DocumentEvidence`]):
/// `dump.gz (peer connection 8-1, 2026-05-04T10:12:31.512Z): icecandidateerror 701 …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPlace<'a> {
    /// The document, without the folder the rendering leaves out ([`common_folder`]).
    pub document: &'a str,
    /// Where in it, the parts known: `peer connection 8-1` (a dump's connection), the time as
    /// the document writes it. Empty when the place has neither.
    pub whence: Vec<Cow<'a, str>>,
    /// What the document says there.
    pub what: &'a str,
}

impl DocumentPlace<'_> {
    /// The place on one line, every part through `esc` and the document name between
    /// `document_markup`'s two halves (`("<code>", "</code>")` in HTML, empty in text).
    pub fn line(&self, esc: fn(&str) -> Cow<'_, str>, document_markup: (&str, &str)) -> String {
        let whence = if self.whence.is_empty() {
            String::new()
        } else {
            let parts: Vec<Cow<'_, str>> = self.whence.iter().map(|w| esc(w)).collect();
            format!(" ({})", parts.join(", "))
        };
        let (open, close) = document_markup;
        format!(
            "{open}{}{close}{whence}: {}",
            esc(self.document),
            esc(self.what)
        )
    }
}

/// What the renderings show of a finding's places in documents: the first
/// [`DOCUMENTS_SHOWN`], and how many more the JSON report lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPlaces<'a> {
    /// The places shown, in the finding's order.
    pub shown: Vec<DocumentPlace<'a>>,
    /// Places of the finding beyond [`DOCUMENTS_SHOWN`] (0 when all are shown).
    pub not_shown: usize,
}

impl DocumentPlaces<'_> {
    /// The line that says how many places are not shown, or `None` when all are.
    pub fn not_shown_note(&self) -> Option<String> {
        (self.not_shown > 0).then(|| {
            format!(
                "and {} in the JSON report",
                crate::diagnose::plural(self.not_shown, "more place", "more places")
            )
        })
    }
}

/// A finding's places in documents as the renderings show them, documents named without
/// `folder` (empty: named in full).
pub fn document_places<'a>(f: &'a Finding, folder: &str) -> DocumentPlaces<'a> {
    let place = |d: &'a DocumentEvidence| DocumentPlace {
        document: short(&d.document, folder),
        whence: d
            .peer_connection
            .iter()
            .map(|pc| Cow::Owned(format!("peer connection {pc}")))
            .chain(d.at.as_deref().map(Cow::Borrowed))
            .collect(),
        what: &d.what,
    };
    DocumentPlaces {
        shown: f
            .documents
            .iter()
            .take(DOCUMENTS_SHOWN)
            .map(place)
            .collect(),
        not_shown: f.documents.len().saturating_sub(DOCUMENTS_SHOWN),
    }
}

/// Findings that say a call failed without saying why (their remedy points to the others):
/// the verdict leads with a finding of the same severity that names the cause, when there is
/// one.
const SYMPTOMS: &[&str] = &["ice.check_failed", "log.ice_failure"];

/// The one-line answer of a report.
#[derive(Debug, Clone)]
pub struct Verdict<'a> {
    /// The most severe finding (findings are ordered by severity, then time), one that names
    /// a cause before one that only says the call failed.
    pub lead: Option<&'a Finding>,
    /// Findings of severity error.
    pub errors: usize,
    /// Findings of severity warning.
    pub warnings: usize,
    /// Findings of severity info.
    pub infos: usize,
}

impl<'a> Verdict<'a> {
    /// The verdict of a report.
    pub fn of(r: &'a Report) -> Verdict<'a> {
        let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
        let top = r.findings.first().map(|f| f.severity);
        let cause = r
            .findings
            .iter()
            .take_while(|f| Some(f.severity) == top)
            .find(|f| !SYMPTOMS.contains(&&*f.id));
        Verdict {
            lead: cause.or(r.findings.first()),
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
        }
    }

    /// "2 errors, 1 warning, 1 info".
    pub fn counts(&self) -> String {
        let mut parts = Vec::new();
        for (n, one, many) in [
            (self.errors, "error", "errors"),
            (self.warnings, "warning", "warnings"),
            (self.infos, "info", "infos"),
        ] {
            if n > 0 {
                parts.push(crate::diagnose::plural(n, one, many));
            }
        }
        if parts.is_empty() {
            "no findings".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// What to say when there is no finding at all (never just "no findings": what was
    /// looked at, so the reader can judge).
    pub fn nothing_found(r: &Report) -> String {
        let stun: u64 = r.captures.iter().map(|c| c.stun_messages).sum();
        format!(
            "nothing wrong found in {} ({} STUN/TURN messages, {} transactions)",
            crate::diagnose::plural(r.captures.len(), "capture", "captures"),
            stun,
            r.transactions.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            frame_ranges(&[20, 9, 10, 11, 12, 31, 13, 14, 32, 9]),
            "9-14, 20, 31-32"
        );
        assert_eq!(frame_ranges(&[u32::MAX, 1]), format!("1, {}", u32::MAX));
        assert_eq!(frame_ranges(&[]), "");
    }

    fn finding_with_documents(n: usize) -> Finding {
        let place = |i: usize| DocumentEvidence {
            document: format!("case/dump{i}.gz"),
            peer_connection: (i % 2 == 1).then(|| format!("{i}-1")),
            at: (i > 0).then(|| "2026-05-04T10:12:31Z".to_string()),
            what: "icecandidateerror 701 <timeout>".to_string(),
        };
        Finding {
            id: "browser.turn_error".into(),
            severity: Severity::Error,
            summary: String::new(),
            evidence: Vec::new(),
            documents: (0..n).map(place).collect(),
            remedy: String::new(),
            ts: 0,
        }
    }

    #[test]
    fn document_places_say_where_only_what_is_known() {
        let f = finding_with_documents(2);
        let places = document_places(&f, "case/");
        assert_eq!(places.not_shown, 0);
        assert_eq!(places.not_shown_note(), None);
        let plain = |s: &str| Cow::Owned(s.to_string());
        let lines: Vec<String> = places
            .shown
            .iter()
            .map(|p| p.line(plain, ("", "")))
            .collect();
        assert_eq!(
            lines,
            [
                "dump0.gz: icecandidateerror 701 <timeout>",
                "dump1.gz (peer connection 1-1, 2026-05-04T10:12:31Z): icecandidateerror 701 <timeout>",
            ]
        );
        let html = places.shown[1].line(crate::escape::html, ("<code>", "</code>"));
        assert_eq!(
            html,
            "<code>dump1.gz</code> (peer connection 1-1, 2026-05-04T10:12:31Z): icecandidateerror 701 &lt;timeout&gt;"
        );
    }

    #[test]
    fn document_places_beyond_the_shown_are_counted() {
        let f = finding_with_documents(DOCUMENTS_SHOWN + 2);
        let places = document_places(&f, "");
        assert_eq!(places.shown.len(), DOCUMENTS_SHOWN);
        assert_eq!(places.shown[0].document, "case/dump0.gz");
        assert_eq!(places.not_shown, 2);
        assert_eq!(
            places.not_shown_note().as_deref(),
            Some("and 2 more places in the JSON report")
        );
    }

    #[test]
    fn short_names() {
        assert_eq!(short("a/b/c.pcap", "a/b/"), "c.pcap");
        assert_eq!(short("x/c.pcap", "a/b/"), "x/c.pcap");
        assert_eq!(short("a/b/", "a/b/"), "a/b/");
    }
}
