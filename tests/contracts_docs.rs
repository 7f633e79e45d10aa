//! The project's contracts in `docs/` stay true: every finding id the code can raise is in the
//! catalogue table with its severity, and the table names no id the code does not know; every id
//! of the original contract (`../shared/spec/findings.md`, when present) is still there.

use std::collections::BTreeMap;

/// `id -> severity` from the rows of a findings table (`| `id` | sev | ... |`).
fn table_ids(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(id), Some(sev)) = (cells.get(1), cells.get(2)) else {
            continue;
        };
        if let Some(id) = id.strip_prefix('`').and_then(|s| s.strip_suffix('`')) {
            out.insert(id.to_string(), sev.to_string());
        }
    }
    out
}

#[test]
fn findings_catalogue_matches_the_code() {
    let text = std::fs::read_to_string("docs/findings.md").expect("docs/findings.md");
    let documented = table_ids(&text);
    let code: BTreeMap<String, String> = turnscope::diagnose::CATALOGUE
        .iter()
        .map(|(id, sev)| (id.to_string(), sev.as_str().to_string()))
        .collect();
    assert_eq!(
        documented, code,
        "docs/findings.md and diagnose::CATALOGUE differ"
    );
}

#[test]
fn original_finding_ids_are_kept() {
    let Ok(original) = std::fs::read_to_string("../shared/spec/findings.md") else {
        eprintln!("SKIP: ../shared/spec/findings.md is absent");
        return;
    };
    let ours = table_ids(&std::fs::read_to_string("docs/findings.md").expect("docs/findings.md"));
    for (id, sev) in table_ids(&original) {
        assert_eq!(
            ours.get(&id),
            Some(&sev),
            "{id} renamed, removed or re-graded"
        );
    }
}
