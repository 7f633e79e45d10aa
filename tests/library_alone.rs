//! The analysis library stands alone: without default features it pulls in none of the
//! command line's or the live server's crates (`cargo tree`, offline, from the lockfile).

use std::process::Command;

const CLI_CRATES: &[&str] = &[
    "clap",
    "clap_complete",
    "clap_mangen",
    "indicatif",
    "ctrlc",
    "mio",
    "socket2",
];

fn tree(features: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["-p", "turnscope"])
        .args(features)
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn crates(tree: &str) -> Vec<&str> {
    tree.lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect()
}

#[test]
fn without_default_features_no_cli_crate_is_pulled_in() {
    let alone = tree(&["--no-default-features"]);
    let names = crates(&alone);
    for c in CLI_CRATES {
        assert!(!names.contains(c), "{c} in the library's tree:\n{alone}");
    }
    // The design card's crates do the work there.
    for c in ["nom", "rayon", "hmac", "md-5", "prettytable-rs"] {
        assert!(names.contains(&c), "{c} missing from the library's tree");
    }
    // The default build (the command line) does use them: the check above can fail.
    let full = tree(&[]);
    let names = crates(&full);
    for c in ["clap", "indicatif", "mio"] {
        assert!(names.contains(&c), "{c} not in the default tree");
    }
}
