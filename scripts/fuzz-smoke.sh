#!/usr/bin/env bash
# A short real fuzzing run of every cargo-fuzz target, starting from the committed corpus.
# New inputs go to a scratch directory, so the committed corpus is never rewritten.
# Usage: scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for target in $(RUSTC_BOOTSTRAP=1 cargo fuzz list); do
  mkdir -p "$scratch/$target" "fuzz/corpus/$target"
  echo "fuzz smoke: $target for ${secs}s"
  status=0
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$scratch/$target.log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$scratch/$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$scratch/$target.log"
    echo "fuzz smoke: $target failed (exit $status)"; exit 1
  fi
done
