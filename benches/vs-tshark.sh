#!/usr/bin/env bash
# Whole-process comparison with tshark on the same capture, in interleaved rounds so that both
# see the same machine (on a shared VM the speed of both drifts by tens of percent within
# minutes; a ratio taken within one round is what is comparable).
#
# Each round: tshark's STUN decode once (`-Y stun -T fields -e stun.type`), then
# `turnscope decode --stats` and `turnscope analyze --format json` ten times each (hyperfine,
# one warm-up). Per round it prints the three mean times and the two speed-ups, then the
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
printf '%-6s %10s %12s %12s %9s %9s\n' round tshark_s decode_ms analyze_ms decode_x analyze_x
for r in $(seq 1 "$ROUNDS"); do
  hyperfine -N -r 1 --export-json "$TMP/t.json" \
    "tshark -r $CAP -Y stun -T fields -e stun.type" >/dev/null 2>&1
  hyperfine -N -w 1 -r 10 --export-json "$TMP/d.json" "$TS decode --stats $CAP" >/dev/null 2>&1
  hyperfine -N -w 1 -r 10 --export-json "$TMP/a.json" "$TS analyze --format json $CAP" \
    >/dev/null 2>&1
  t=$(mean "$TMP/t.json"); d=$(mean "$TMP/d.json"); a=$(mean "$TMP/a.json")
  python3 -c "import sys; t,d,a=map(float,sys.argv[1:4]); print(f'{sys.argv[4]:<6} {t:10.2f} {d*1e3:12.1f} {a*1e3:12.1f} {t/d:9.0f} {t/a:9.0f}')" \
    "$t" "$d" "$a" "$r" | tee -a "$TMP/rounds"
done
python3 - "$TMP/rounds" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
dx = [float(r[4]) for r in rows]
ax = [float(r[5]) for r in rows]
print(f"median speed-up: decode --stats {statistics.median(dx):.0f}x, "
      f"analyze --format json {statistics.median(ax):.0f}x "
      f"(decode {min(dx):.0f}-{max(dx):.0f}x, analyze {min(ax):.0f}-{max(ax):.0f}x over {len(rows)} rounds)")
EOF
