#!/usr/bin/env bash
# Whole-process time and peak memory of `analyze` on hostile-size inputs (issue #8):
#   - bundles (tar.gz) of N small captures, N = 500, 2000, 8000 (client/server pairs with their
#     own addresses and transaction ids: examples/gen_case.rs, benches/scale/gen.rs);
#   - a STUN-dense capture (DENSE_MB megabytes of Allocate/Refresh/Binding transactions from
#     tens of thousands of 5-tuples, one of them flooding);
#   - a capture of a million client 5-tuples with one Binding each.
# Each line: wall-clock seconds, peak RSS (MB), user and system CPU seconds, from
# /usr/bin/time; the JSON report is written to /dev/null.
#
# Usage: benches/analyze-scale.sh [BINARY] [DENSE_MB]
#   BINARY    a turnscope binary to measure (default: target/release/turnscope, built here),
#             e.g. one built from an older commit to compare
#   DENSE_MB  size of the STUN-dense capture (default 400)
#   TIMEOUT   seconds before a run is stopped (default 1800)
# The inputs are generated once under ${TMPDIR:-/tmp}/turnscope-scale (about 0.6 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example gen_case
BIN=${1:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet
  BIN=target/release/turnscope
fi
DENSE_MB=${2:-400}
TIMEOUT=${TIMEOUT:-1800}
GEN=target/release/examples/gen_case
DIR=${TMPDIR:-/tmp}/turnscope-scale
mkdir -p "$DIR"
inputs=()
for n in 500 2000 8000; do
  f=$DIR/bundle-$n.tar.gz
  [ -f "$f" ] || "$GEN" bundle "$n" "$f" >/dev/null
  inputs+=("$f")
done
f=$DIR/dense-$DENSE_MB.pcap
[ -f "$f" ] || "$GEN" dense "$DENSE_MB" "$f" >/dev/null
inputs+=("$f")
f=$DIR/tuples-1m.pcap
[ -f "$f" ] || "$GEN" tuples 1000000 "$f" >/dev/null
inputs+=("$f")

printf '%-22s %9s %9s %8s %8s\n' input wall_s rss_MB user_s sys_s
for f in "${inputs[@]}"; do
  out=$(mktemp)
  if timeout "$TIMEOUT" /usr/bin/time -f '%e %M %U %S' -o "$out" \
      "$BIN" analyze "$f" --format json --out /dev/null >/dev/null 2>&1; then
    read -r wall rss user sys < "$out"
    printf '%-22s %9s %9d %8s %8s\n' "$(basename "$f")" "$wall" $((rss / 1024)) "$user" "$sys"
  else
    printf '%-22s %9s\n' "$(basename "$f")" ">${TIMEOUT}s"
  fi
  rm -f "$out"
done
