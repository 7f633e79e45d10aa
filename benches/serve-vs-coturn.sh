#!/usr/bin/env bash
# turnscope serve and coturn's turnserver side by side on loopback, driven the same way:
#  1. turnutils_uclient -m M -n N (coturn's own client; it paces itself, so this shows that both
#     serve it and at what server CPU cost, not a maximum rate);
#  2. benches/turn_load.rs alloc: closed-loop allocations (401, Allocate, Refresh 0) per second;
#  3. benches/turn_load.rs relay: closed-loop ChannelData echo through the relay, packets per
#     second (each round trip crosses the server twice).
# For every phase: wall time, server CPU seconds (utime+stime from /proc), and the rate.
#
# Usage: benches/serve-vs-coturn.sh [SECONDS_PER_PHASE]   (needs coturn; Linux)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-5}
M=${UCLIENT_CLIENTS:-50} N=${UCLIENT_MESSAGES:-100}
ALLOC_CLIENTS=${ALLOC_CLIENTS:-64} RELAY_CLIENTS=${RELAY_CLIENTS:-32} WINDOW=${WINDOW:-8}
for t in turnserver turnutils_uclient turnutils_peer; do
  command -v $t >/dev/null || { echo "missing $t (apt-get install coturn)" >&2; exit 2; }
done

cargo build --release --quiet
LOAD=$(cargo bench --bench turn_load --no-run --message-format=json 2>/dev/null \
  | sed -n 's/.*"executable":"\([^"]*turn_load[^"]*\)".*/\1/p' | tail -1)
[ -x "$LOAD" ] || { echo "could not build benches/turn_load.rs" >&2; exit 1; }
TURNSCOPE=target/release/turnscope
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT

HZ=$(getconf CLK_TCK)
cpu() { awk -v hz="$HZ" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"; }
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PEER_PORT=$(free_port)
turnutils_peer -L 127.0.0.1 -p "$PEER_PORT" >/dev/null 2>&1 & PIDS+=($!)

start_server() { # name port -> sets SERVER_PID
  case $1 in
    coturn)
      turnserver -n --no-cli --no-tls --no-dtls -L 127.0.0.1 -E 127.0.0.1 -p "$2" \
        --min-port 50000 --max-port 59999 -a -r bench -u user:pass -f --allow-loopback-peers \
        --log-file "$TMP/coturn.log" --simple-log --pidfile "$TMP/coturn.pid" >/dev/null 2>&1 &
      SERVER_PID=$!;;
    turnscope)
      "$TURNSCOPE" serve --listen "127.0.0.1:$2" --credential user:pass --realm bench \
        --relay-ports 40000-49999 --allow-loopback-peers >"$TMP/turnscope.log" 2>&1 &
      SERVER_PID=$!;;
  esac
  PIDS+=("$SERVER_PID"); sleep 1
}

declare -A R
for server in coturn turnscope; do
  port=$(free_port)
  start_server $server "$port"
  # 1. uclient
  c0=$(cpu "$SERVER_PID"); t0=$(date +%s.%N)
  out=$(timeout 300 turnutils_uclient -m "$M" -n "$N" -l 160 -e 127.0.0.1 -r "$PEER_PORT" \
        -p "$port" -u user -w pass 127.0.0.1 2>&1 || true)
  t1=$(date +%s.%N); c1=$(cpu "$SERVER_PID")
  recv=$(echo "$out" | sed -n 's/.*start_mclient: tot_send_msgs=[0-9]*, tot_recv_msgs=\([0-9]*\).*/\1/p' | tail -1)
  lost=$(echo "$out" | sed -n 's/.*Total lost packets \([0-9]*\).*/\1/p' | tail -1)
  R[$server,uc_wall]=$(echo "$t1 - $t0" | bc -l | xargs printf "%.1f")
  R[$server,uc_cpu]=$(echo "$c1 - $c0" | bc -l | xargs printf "%.2f")
  R[$server,uc_recv]=${recv:-0}; R[$server,uc_lost]=${lost:-?}
  # 2. allocations
  c0=$(cpu "$SERVER_PID")
  line=$("$LOAD" alloc --server "127.0.0.1:$port" --clients "$ALLOC_CLIENTS" --seconds "$SECS")
  c1=$(cpu "$SERVER_PID")
  R[$server,alloc]=$(echo "$line" | sed -n 's/.*allocations_per_s=\([0-9]*\).*/\1/p')
  R[$server,alloc_err]=$(echo "$line" | sed -n 's/.*errors=\(.*\)/\1/p')
  R[$server,alloc_cpu]=$(echo "$c1 - $c0" | bc -l | xargs printf "%.2f")
  # 3. relay
  c0=$(cpu "$SERVER_PID")
  line=$("$LOAD" relay --server "127.0.0.1:$port" --clients "$RELAY_CLIENTS" --window "$WINDOW" --seconds "$SECS")
  c1=$(cpu "$SERVER_PID")
  R[$server,relay]=$(echo "$line" | sed -n 's/.*relayed_packets_per_s=\([0-9]*\).*/\1/p')
  R[$server,relay_n]=$(echo "$line" | sed -n 's/.* relayed_packets=\([0-9]*\).*/\1/p')
  R[$server,relay_cpu]=$(echo "$c1 - $c0" | bc -l | xargs printf "%.2f")
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
done

echo
echo "Loopback, $(nproc) cores, $(uname -r); $SECS s per closed-loop phase; coturn $(turnserver --version 2>/dev/null | head -1)"
printf "%-52s %14s %14s\n" "" coturn turnscope
printf "%-52s %14s %14s\n" "uclient -m $M -n $N: echoed messages (of $((M*N)))" "${R[coturn,uc_recv]}" "${R[turnscope,uc_recv]}"
printf "%-52s %14s %14s\n" "uclient: lost packets" "${R[coturn,uc_lost]}" "${R[turnscope,uc_lost]}"
printf "%-52s %14s %14s\n" "uclient: wall s" "${R[coturn,uc_wall]}" "${R[turnscope,uc_wall]}"
printf "%-52s %14s %14s\n" "uclient: server CPU s" "${R[coturn,uc_cpu]}" "${R[turnscope,uc_cpu]}"
printf "%-52s %14s %14s\n" "allocations/s ($ALLOC_CLIENTS clients, 401+Allocate+Refresh 0)" "${R[coturn,alloc]}" "${R[turnscope,alloc]}"
printf "%-52s %14s %14s\n" "  errors" "${R[coturn,alloc_err]}" "${R[turnscope,alloc_err]}"
printf "%-52s %14s %14s\n" "  server CPU s" "${R[coturn,alloc_cpu]}" "${R[turnscope,alloc_cpu]}"
printf "%-52s %14s %14s\n" "relayed packets/s ($RELAY_CLIENTS clients x $WINDOW in flight, 160 B)" "${R[coturn,relay]}" "${R[turnscope,relay]}"
printf "%-52s %14s %14s\n" "  server CPU s" "${R[coturn,relay_cpu]}" "${R[turnscope,relay_cpu]}"
for s in coturn turnscope; do
  R[$s,per_cpu]=$(echo "${R[$s,relay_n]} / ${R[$s,relay_cpu]}" | bc -l 2>/dev/null | xargs printf "%.0f" 2>/dev/null || echo "?")
done
printf "%-52s %14s %14s\n" "  relayed packets per server CPU second" "${R[coturn,per_cpu]}" "${R[turnscope,per_cpu]}"
