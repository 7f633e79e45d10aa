//! What the human renderings (terminal, Markdown, HTML) share: the verdict, evidence grouped
//! by capture with frames as ranges, and capture names without the folder they all share.

use crate::diagnose::{Finding, Severity};

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
    pub capture: &'a str,
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
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
}

impl<'a> Verdict<'a> {
    pub fn of(r: &'a Report) -> Verdict<'a> {
        let count = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
        let top = r.findings.first().map(|f| f.severity);
        let cause = r
            .findings
            .iter()
            .take_while(|f| Some(f.severity) == top)
            .find(|f| !SYMPTOMS.contains(&f.id));
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

    #[test]
    fn short_names() {
        assert_eq!(short("a/b/c.pcap", "a/b/"), "c.pcap");
        assert_eq!(short("x/c.pcap", "a/b/"), "x/c.pcap");
        assert_eq!(short("a/b/", "a/b/"), "a/b/");
    }
}
