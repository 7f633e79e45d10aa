#!/usr/bin/env bash
# Streaming a diagnostic bundle (issue #10): peak memory and time of
#   turnscope analyze BUNDLE --format json >/dev/null
# against
#   zcat BUNDLE >/dev/null
# on synthetic Expressway-E bundles (examples/make_bundle.rs: two interfaces rotated into
# 20 MB pieces, loggingsnapshot, xconf, xstat; incompressible media payloads, so the bundle is
# about as large as its captures). Targets: peak RSS <= 64 MB on a 1 GB bundle, time within
# 1.1x of zcat's.
#
# Usage: benches/bundle-stream.sh [SIZE_MB...]      (default: 200 1024)
#   RUNS      hyperfine runs per command (default 5)
#   BIN       a turnscope binary to measure (default: target/release/turnscope, built here)
# Each bundle is generated once under ${TMPDIR:-/tmp}/turnscope-bundles (never committed).
# Prints one line per size: bundle bytes, peak RSS of analyze (MB, /usr/bin/time -v), mean
# wall time of analyze and of zcat (hyperfine, interleaved runs, page cache warm), their
# ratio; the hyperfine JSON is kept beside the bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --example make_bundle
BIN=${BIN:-}
if [ -z "$BIN" ]; then
  cargo build --release --quiet --bin turnscope
  BIN=target/release/turnscope
fi
RUNS=${RUNS:-5}
DIR=${TMPDIR:-/tmp}/turnscope-bundles
mkdir -p "$DIR"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(200 1024)

peak_rss_mb() { # command... -> peak RSS in MB of one run
  /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ {printf "%.1f", $2/1024}'
}

printf '%-8s %14s %14s %12s %10s %8s\n' size_mb bundle_bytes peak_rss_mb analyze_s zcat_s ratio
for size in "${SIZES[@]}"; do
  b=$DIR/bundle-$size.tar.gz
  [ -f "$b" ] || target/release/examples/make_bundle "$b" "$size" >/dev/null
  bytes=$(stat -c %s "$b")
  cat "$b" >/dev/null # page cache
  rss=$(peak_rss_mb "$BIN" analyze "$b" --format json)
  json=$DIR/hyperfine-$size.json
  hyperfine --style none --warmup 1 --runs "$RUNS" --export-json "$json" \
    -n zcat "zcat $b" \
    -n analyze "$BIN analyze $b --format json" >/dev/null
  read -r zcat_s analyze_s < <(python3 - "$json" <<'EOF'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f'{r["zcat"]:.3f} {r["analyze"]:.3f}')
EOF
)
  ratio=$(python3 -c "print(f'{$analyze_s / $zcat_s:.2f}')")
  printf '%-8s %14s %14s %12s %10s %8s\n' "$size" "$bytes" "$rss" "$analyze_s" "$zcat_s" "$ratio"
done
