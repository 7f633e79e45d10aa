//! Records the commit the binary is built from, for `turnscope --version`. Without git (a
//! source tarball) the version says so instead of failing the build.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let date = git(&["log", "-1", "--format=%cs"]);
    let build = match (commit, date) {
        (Some(c), Some(d)) => format!("commit {c}, {d}"),
        _ => "commit unknown: built outside a git checkout".to_string(),
    };
    println!("cargo:rustc-env=TURNSCOPE_BUILD={build}");
    // Rebuild the string when HEAD moves: HEAD itself (another branch), the branch's ref (a new
    // commit) and packed refs. A worktree's git dir is elsewhere; git says where.
    let git_dir = git(&["rev-parse", "--git-dir"]);
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]);
    if let Some(dir) = git_dir {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/packed-refs");
        if let Some(b) = branch.filter(|b| b.starts_with("refs/")) {
            let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or(dir);
            println!("cargo:rerun-if-changed={common}/{b}");
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
