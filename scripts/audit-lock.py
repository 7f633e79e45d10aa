#!/usr/bin/env python3
"""RustSec advisories against Cargo.lock files, offline, from a local advisory-db snapshot.

    scripts/audit-lock.py ADVISORY_DB LOCKFILE...

What `cargo audit --db ADVISORY_DB --no-fetch --deny warnings` checks for crates.io packages:
an advisory applies to a locked version that is neither in its `patched` nor its `unaffected`
requirements (withdrawn advisories do not apply; informational ones, e.g. `unmaintained`,
count as warnings and are denied too). CI uses this when `cargo audit` itself is not installed,
because building cargo-audit takes longer than the whole test run on a 2-core machine.
Exits 1 when an advisory applies, printing each; 0 otherwise.
"""
import re
import sys
import tomllib
from pathlib import Path


def parse_version(text):
    """'1.2.3-beta.1' -> ((1, 2, 3), pre) with pre '' for a release (releases sort after)."""
    core, _, pre = text.strip().partition("-")
    core = core.partition("+")[0]
    parts = [int(p) for p in core.split(".")]
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts[:3]), pre


def key(v):
    nums, pre = v
    # A pre-release sorts before its release.
    return (nums, 0 if pre else 1, pre)


def matches_one(version, req):
    """One comparator of a semver requirement: '>= 1.2', '< 2', '^0.3.5', '=1.0.0', '1.2.3'."""
    m = re.fullmatch(r"\s*(>=|<=|>|<|=|\^|~)?\s*([0-9][0-9A-Za-z.\-+]*)\s*", req)
    if not m:
        raise ValueError(f"unsupported requirement {req!r}")
    op, bound_text = m.group(1) or "^", m.group(2)
    bound = parse_version(bound_text)
    v, b = key(version), key(bound)
    if op == ">=":
        return v >= b
    if op == ">":
        return v > b
    if op == "<=":
        return v <= b
    if op == "<":
        return v < b
    if op == "=":
        return v == b
    given = len(bound_text.partition("-")[0].split("."))
    major, minor, patch = bound[0]
    if op == "~":
        upper = (major, minor + 1, 0) if given >= 2 else (major + 1, 0, 0)
    elif major > 0 or given == 1:
        upper = (major + 1, 0, 0)
    elif minor > 0 or given == 2:
        upper = (0, minor + 1, 0)
    else:
        upper = (0, 0, patch + 1)
    return b <= v < key((upper, ""))


def matches(version, requirement):
    """A requirement: comparators joined by commas, all of which must hold."""
    return all(matches_one(version, part) for part in requirement.split(","))


def advisories(db, name):
    folder = db / "crates" / name
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        m = re.search(r"```toml\n(.*?)\n```", text, re.S)
        if m:
            yield path, tomllib.loads(m.group(1))


def locked_packages(lockfile):
    lock = tomllib.loads(Path(lockfile).read_text(encoding="utf-8"))
    for p in lock.get("package", []):
        if p.get("source", "").startswith("registry+"):
            yield p["name"], p["version"]


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    db = Path(sys.argv[1])
    found = 0
    checked = 0
    for lockfile in sys.argv[2:]:
        for name, version_text in sorted(set(locked_packages(lockfile))):
            checked += 1
            version = parse_version(version_text)
            for path, adv in advisories(db, name):
                a = adv.get("advisory", {})
                if a.get("withdrawn"):
                    continue
                vers = adv.get("versions", {})
                safe = vers.get("patched", []) + vers.get("unaffected", [])
                if any(matches(version, req) for req in safe):
                    continue
                kind = a.get("informational") or "vulnerability"
                print(f"{lockfile}: {name} {version_text}: {a.get('id')} ({kind}): {path.name}")
                found += 1
    print(f"audit: {checked} locked crates checked against {db}: {found} advisories apply")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
