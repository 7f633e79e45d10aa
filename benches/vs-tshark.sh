#!/usr/bin/env bash
# Whole-process comparison with tshark on the same capture, in interleaved rounds so that both
# see the same machine (on a shared VM the speed of both drifts by tens of percent within
# minutes; a ratio taken within one round is what is comparable).
#
# Each round: tshark's STUN decode once (`-Y stun -T fields -e stun.type`), then
# `turnscope decode --stats`, `turnscope analyze` (table) and `--format json` ten times each
# (hyperfine, one warm-up). Per round it prints the mean times and the speed-ups, then the
# median speed-ups over all rounds. It also checks that both count the same STUN messages.
#
# Usage: benches/vs-tshark.sh [CAPTURE] [ROUNDS]
#   default CAPTURE: /tmp/synth.pcap, written by ../shared/lab/synth-pcap.py CAPTURE 200
#   needs tshark and hyperfine (apt-get install tshark hyperfine)
set -euo pipefail
cd "$(dirname "$0")/.."
CAP=${1:-/tmp/synth.pcap}
ROUNDS=${2:-5}
for t in tshark hyperfine python3; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install tshark hyperfine)" >&2; exit 2; }
done
if [ ! -f "$CAP" ]; then
  SYNTH=../shared/lab/synth-pcap.py
  [ -f "$SYNTH" ] || { echo "no $CAP and no $SYNTH to make it" >&2; exit 2; }
  python3 "$SYNTH" "$CAP" 200 >/dev/null
fi
cargo build --release --quiet
TS=target/release/turnscope
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# Same counts first: tshark's STUN messages (one type per message, several per frame
# possible) against turnscope's messages on the wire.
tshark_msgs=$(tshark -r "$CAP" -Y stun -T fields -e stun.type 2>/dev/null | tr ',' '\n' | grep -c . || true)
ours=$("$TS" decode --stats "$CAP" | sed -n 's/.*frames, \([0-9]*\) STUN messages.*/\1/p')
echo "STUN messages: tshark $tshark_msgs, turnscope $ours"
[ "$tshark_msgs" = "$ours" ] || { echo "counts differ" >&2; exit 1; }

mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["mean"])' "$1"; }
printf '%-6s %9s %10s %10s %10s %9s %9s %9s\n' round tshark_s decode_ms table_ms json_ms \
  decode_x table_x json_x
for r in $(seq 1 "$ROUNDS"); do
  hyperfine -N -r 1 --export-json "$TMP/t.json" \
    "tshark -r $CAP -Y stun -T fields -e stun.type" >/dev/null 2>&1
  hyperfine -N -w 1 -r 10 --export-json "$TMP/d.json" "$TS decode --stats $CAP" >/dev/null 2>&1
  hyperfine -N -w 1 -r 10 --export-json "$TMP/a.json" "$TS analyze $CAP" >/dev/null 2>&1
  hyperfine -N -w 1 -r 10 --export-json "$TMP/j.json" "$TS analyze --format json $CAP" \
    >/dev/null 2>&1
  python3 -c '
import sys
r = sys.argv[1]
t, d, a, j = map(float, sys.argv[2:])
print(f"{r:<6} {t:9.2f} {d*1e3:10.1f} {a*1e3:10.1f} {j*1e3:10.1f} {t/d:9.0f} {t/a:9.0f} {t/j:9.0f}")
' "$r" "$(mean "$TMP/t.json")" "$(mean "$TMP/d.json")" "$(mean "$TMP/a.json")" \
    "$(mean "$TMP/j.json")" | tee -a "$TMP/rounds"
done
python3 -c '
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def col(i):
    v = [float(r[i]) for r in rows]
    return f"{statistics.median(v):.0f}x ({min(v):.0f}-{max(v):.0f}x)"
print(f"median speed-up over {len(rows)} rounds: decode --stats {col(5)}, "
      f"analyze {col(6)}, analyze --format json {col(7)}")
' "$TMP/rounds"
