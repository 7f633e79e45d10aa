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
    // A file named here that does not exist makes cargo rerun this script, and rebuild the
    // crate, on every build (a repository without packed refs has no `packed-refs`): name
    // only the files that are there. A ref packed later removes its loose file, which cargo
    // sees as a change.
    let git_dir = git(&["rev-parse", "--git-dir"]);
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]);
    let mut watched = vec!["build.rs".to_string()];
    if let Some(dir) = git_dir {
        watched.push(format!("{dir}/HEAD"));
        watched.push(format!("{dir}/packed-refs"));
        if let Some(b) = branch.filter(|b| b.starts_with("refs/")) {
            let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or(dir);
            watched.push(format!("{common}/{b}"));
        }
    }
    for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
}
