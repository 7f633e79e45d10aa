#!/usr/bin/env bash
# The project's test command (README, .ci/run): installs what the tests need when it is missing
# (Debian packages tshark for the decode oracle, coturn for the serve interoperability tests),
# then runs every test. Under CI (CI=true) a short fuzzing smoke run of every target comes first.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v tshark >/dev/null 2>&1 || missing+=(tshark)
command -v turnutils_uclient >/dev/null 2>&1 || missing+=(coturn)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages the tests use)"
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# RustSec advisories against both lockfiles, from the snapshot beside the project (offline):
# cargo audit when it is installed, else the same check in scripts/audit-lock.py (building
# cargo-audit takes longer than the whole test run on a 2-core machine).
db=../shared/advisory-db
if [ -d "$db" ]; then
  if command -v cargo-audit >/dev/null 2>&1; then
    cargo audit --db "$db" --no-fetch --deny warnings --file Cargo.lock
    cargo audit --db "$db" --no-fetch --deny warnings --file fuzz/Cargo.lock
  else
    python3 scripts/audit-lock.py "$db" Cargo.lock fuzz/Cargo.lock
  fi
else
  echo "SKIP audit: no advisory database at $db"
fi

# Under CI, a short real fuzzing run of every target first (the test summary stays last).
if [ "${CI:-}" = "true" ] || [ "${TURNSCOPE_FUZZ_SMOKE:-}" = 1 ]; then
  bash scripts/fuzz-smoke.sh "${TURNSCOPE_FUZZ_SECONDS:-15}"
fi

cargo test --locked
