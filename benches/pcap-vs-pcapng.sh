#!/usr/bin/env bash
# Whole-process times of the same capture as pcap and as pcapng, against `cat` of each, in
# interleaved rounds (on a shared VM speeds drift by tens of percent within minutes: compare
# figures taken within one round), and peak RSS (`/usr/bin/time -v`).
#
# Each round times, with hyperfine (two warm-ups, ten runs), `cat`, `decode --stats`,
# `analyze --format json` and `analyze --format json --credential turnuser:cisco` on both
# files, for every turnscope binary given; it prints per command the median over rounds of
# the per-round medians (wall, user and system CPU), the rounds themselves, and the machine
# load; then the peak RSS of each command once.
#
# Usage: benches/pcap-vs-pcapng.sh [ROUNDS] [BINARY...]
#   default BINARY: target/release/turnscope (built); give an older build too to compare
#   captures: $PCAP, default /tmp/synth.pcap (../shared/lab/synth-pcap.py /tmp/synth.pcap 200),
#   and the same with .pcapng (editcap -F pcapng), made when missing
#   needs hyperfine, editcap (apt-get install hyperfine tshark) and GNU time
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
shift || true
for t in hyperfine editcap python3 /usr/bin/time; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install hyperfine tshark time)" >&2; exit 2; }
done
PCAP=${PCAP:-/tmp/synth.pcap}
PCAPNG=${PCAP%.pcap}.pcapng
if [ ! -f "$PCAP" ]; then
  python3 ../shared/lab/synth-pcap.py "$PCAP" 200 >/dev/null
fi
[ -f "$PCAPNG" ] || editcap -F pcapng "$PCAP" "$PCAPNG"
if [ $# -eq 0 ]; then
  cargo build --release --quiet
  set -- target/release/turnscope
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cat "$PCAP" "$PCAPNG" >/dev/null
for r in $(seq 1 "$ROUNDS"); do
  i=0
  for bin in "$@"; do
    cmds=("cat $PCAP" "cat $PCAPNG")
    for args in "decode --stats" "analyze --format json" "analyze --format json --credential turnuser:cisco"; do
      cmds+=("$bin $args $PCAP" "$bin $args $PCAPNG")
    done
    hyperfine -N -w 2 -r 10 --export-json "$TMP/$i-$r.json" "${cmds[@]}" >/dev/null 2>&1
    echo "round $r, $bin: load $(cut -d' ' -f1-3 /proc/loadavg)"
    i=$((i + 1))
  done
done
python3 - "$TMP" <<'PY'
import glob, json, statistics, sys
rows = {}
for f in sorted(glob.glob(sys.argv[1] + "/*.json")):
    for res in json.load(open(f))["results"]:
        rows.setdefault(res["command"], []).append(res)
for cmd, rs in rows.items():
    med = lambda k: statistics.median(r[k] * 1000 for r in rs)
    rounds = ", ".join("%.0f" % (r["median"] * 1000) for r in rs)
    print(f"{cmd}\n    wall {med('median'):.0f} ms (rounds {rounds}), user {med('user'):.0f} ms, sys {med('system'):.0f} ms")
PY
for bin in "$@"; do
  for args in "decode --stats" "analyze --format json" "analyze --format json --credential turnuser:cisco"; do
    for f in "$PCAP" "$PCAPNG"; do
      kb=$(/usr/bin/time -v $bin $args "$f" 2>&1 >/dev/null | awk '/Maximum resident/ {print $6}')
      echo "peak RSS $((kb / 1024)) MB: $bin $args $f"
    done
  done
done
