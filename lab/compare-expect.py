#!/usr/bin/env python3
"""Compare `turnscope analyze --format json` with each scenario's expect.txt.

    lab/compare-expect.py TURNSCOPE SETTING_DIR USER:PASS [SETTING_NAME [ANALYZE_ARG...]]

SETTING_DIR holds one folder per scenario (captures, expect.txt), as written by
lab/deploy-lab.sh or committed under fixtures/deploy/<setting>/. Every *.pcap of a scenario
is given to one `analyze` run with --credential USER:PASS (and any ANALYZE_ARG, e.g.
--turn-port 3479). Prints one markdown table row per
scenario: scenario, setting, expected, what turnscope said (id and severity), verdict.

expect.txt lines: `ID` must be raised; `new: ID` should be raised but is not in the
catalogue yet; `absent: ID` must not be raised; `absent: any-error` means no finding of
severity error may be raised; `args: ...` are analyze arguments for this scenario (web lab,
e.g. `--join-url NAME`). An error finding that expect.txt does not list is a false error.
"""
import json
import subprocess
import sys
from pathlib import Path


def scenario_args(path):
    args = []
    for line in path.read_text().splitlines():
        if line.strip().startswith("args:"):
            args += line.split(":", 1)[1].split()
    return args


def expectations(path):
    want, new, absent, no_error = [], [], [], False
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("args:"):
            continue
        if line.startswith("absent:"):
            x = line.split(":", 1)[1].strip()
            if x == "any-error":
                no_error = True
            else:
                absent.append(x)
        elif line.startswith("new:"):
            new.append(line.split(":", 1)[1].strip())
        else:
            want.append(line)
    return want, new, absent, no_error


def verdict(want, new, absent, found):
    ids = {f["id"] for f in found}
    errors = {f["id"] for f in found if f["severity"] == "error"}
    missing = [w for w in want if w not in ids]
    raised_absent = [a for a in absent if a in ids]
    false_errors = sorted(errors - set(want) - set(raised_absent))
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if new:
        parts.append("new id not in the catalogue: " + ", ".join(new))
    if raised_absent:
        parts.append("raised " + ", ".join(raised_absent) + " (must be absent)")
    if false_errors:
        parts.append("extra error " + ", ".join(false_errors))
    if not parts:
        return "right"
    wrong_extra = raised_absent or false_errors
    kind = "wrong" if (missing or new) and wrong_extra else "missing" if missing or new else "false error"
    return kind + ": " + "; ".join(parts)


def main():
    exe, setting_dir, cred = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    name = sys.argv[4] if len(sys.argv) > 4 else setting_dir.name
    extra = sys.argv[5:]
    for scen in sorted(p for p in setting_dir.iterdir() if (p / "expect.txt").exists()):
        caps = sorted(str(p) for p in scen.glob("*.pcap"))
        own = scenario_args(scen / "expect.txt")
        run = subprocess.run([exe, "analyze", *caps, "--credential", cred, *extra, *own, "--format", "json"],
                             capture_output=True, text=True)
        try:
            found = json.loads(run.stdout)["findings"]
        except (ValueError, KeyError):
            print(f"| {scen.name} | {name} | | analyze failed: {run.stderr.strip()[:200]} | error |")
            continue
        want, new, absent, no_error = expectations(scen / "expect.txt")
        exp = ", ".join(want + ["new: " + n for n in new])
        if absent or no_error:
            exp += "; absent: " + ", ".join(absent + (["any error"] if no_error else []))
        said = ", ".join(f"{f['id']} ({f['severity']})" for f in found) or "nothing"
        print(f"| {scen.name} | {name} | {exp} | {said} | {verdict(want, new, absent, found)} |")


if __name__ == "__main__":
    main()
