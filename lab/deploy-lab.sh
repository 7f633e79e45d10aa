#!/usr/bin/env bash
# A lab of the deployment in the Cisco guides (CMS WebRTC through a dual-NIC Expressway-E with
# static NAT), in network namespaces, with tcpdump at the guest, on the Expressway-E (-i any as
# Expressway does, and per NIC) and at the CMS. See lab/README.md for the diagram and every
# variable and scenario.
#
#   usage: lab/deploy-lab.sh OUTDIR [SCENARIO...]        (root; default: every scenario)
#
# Each scenario writes OUTDIR/SCENARIO/: guest.pcap, expe-any.pcap, expe-lan2.pcap,
# expe-lan1.pcap, cms.pcap (plus expe2-*.pcap where a second Expressway-E node runs),
# truth.txt (the intended diagnosis in words), expect.txt (finding ids a correct analyzer raises, and `args: --turn-port N` where only the configuration says it;
# "absent: ID" lines must not appear), browser-state.txt for browser scenarios, and the servers'
# logs (turnserver*.log, not meant for the fixtures). With DUMP=1 the guest Chromium also saves
# its chrome://webrtc-internals dumps there (webrtc_internals_dump.gz, rtcstats_dump.gz), and the
# guest-side uclient scenarios place a browser call instead (lab/README.md, "Dumps").
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

# ---------------------------------------------------------------- settings (environment)
NS=${NS_PREFIX:-dl}                 # namespace prefix: dlguest dlxfw dlexpe dlexpe2 dlifw dlcms dlpeer
REALM=${REALM:-TANDBERG}            # Expressway's default authentication realm
TPORT=${TPORT:-3478}                # TURN requests port (UDP and TCP)
TLS_PORT=${TLS_PORT:-443}           # TURN over TLS, when a scenario turns it on
RELAY_MIN=${RELAY_MIN:-24000}       # relay (media) port range, on LAN2 only
RELAY_MAX=${RELAY_MAX:-29999}
TURN_USER=${TURN_USER:-turnuser}    # the CMS turnServers username/password = Expressway local database
TURN_PASS=${TURN_PASS:-cisco}
BAD_PASS=${BAD_PASS:-wrongpass}     # what a misconfigured side holds
BAD_USER=${BAD_USER:-nosuchuser}
GUEST_NET=${GUEST_NET:-192.168.1.0/24}; GUEST_IP=${GUEST_IP:-192.168.1.10}; GUEST_GW=${GUEST_GW:-192.168.1.1}
GUEST_PUB=${GUEST_PUB:-203.0.113.10}          # the guest's address after the external firewall's NAT
INET_NET=${INET_NET:-192.0.2.0/24}; INET_GW=${INET_GW:-192.0.2.1}; PEER_IP=${PEER_IP:-192.0.2.5}
PEER_PORT=${PEER_PORT:-3480}                  # turnutils_peer (UDP echo) on the "internet"
PUB_IP=${PUB_IP:-198.51.100.10}               # Expressway-E public address (static NAT to LAN2)
PUB2_IP=${PUB2_IP:-198.51.100.11}             # second cluster node's public address
DMZ_NET=${DMZ_NET:-172.16.245.0/24}; DMZ_GW=${DMZ_GW:-172.16.245.1}
LAN2_IP=${LAN2_IP:-172.16.245.61}; LAN2_IP_B=${LAN2_IP_B:-172.16.245.62}
LAN1_NET=${LAN1_NET:-172.16.85.0/24}; LAN1_GW=${LAN1_GW:-172.16.85.1}
LAN1_IP=${LAN1_IP:-172.16.85.168}; LAN1_IP_B=${LAN1_IP_B:-172.16.85.169}
CMS_NET=${CMS_NET:-172.16.86.0/24}; CMS_GW=${CMS_GW:-172.16.86.1}; CMS_IP=${CMS_IP:-172.16.86.180}
TLS_NAME=${TLS_NAME:-vcse.example.com}       # name in the TURN/TLS certificate (guest's hosts file)
SIG_PORT=${SIG_PORT:-8088}          # signaling helper, on each browser namespace's loopback
DUMP=${DUMP:-0}                     # 1: save the guest's chrome://webrtc-internals dumps (browser calls)
DEVTOOLS_PORT=${DEVTOOLS_PORT:-9222}  # DUMP=1: the guest Chromium's DevTools, on its namespace's loopback
BROWSER_SECS=${BROWSER_SECS:-14}    # how long each Chromium runs
PINGS=${PINGS:-10}                  # data channel messages the guest sends
UC_MSGS=${UC_MSGS:-5}               # turnutils_uclient messages per session

ALL="ok-udp ok-tcp ok-tls tcp-refused guest-bad-password guest-unknown-user cms-bad-password
cms-unknown-user ext-3478-blocked int-3478-blocked return-blocked relay-blocked-in relay-blocked-out
relay-blocked-both private-relay reflection-present reflection-missing cms-binding-only
cms-binding-ignored cluster-bad-password quota-486 capacity-508 alternate-server stale-nonce"

OUT=${1:?usage: deploy-lab.sh OUTDIR [SCENARIO...]}; shift
SCEN=${*:-$ALL}

G=${NS}guest X=${NS}xfw E=${NS}expe E2=${NS}expe2 I=${NS}ifw C=${NS}cms P=${NS}peer
NAMESPACES="$G $X $E $E2 $I $C $P"

LAB_NAME=deploy-lab
. "$HERE/lib.sh"   # die, need, in_ns, bg, teardown on exit, link, addr, prefix, sysctls, resolver

build() { # nodes (1 or 2)
  local nodes=$1 n
  teardown
  for n in $NAMESPACES; do
    [ "$n" = "$E2" ] && [ "$nodes" -lt 2 ] && continue
    ip netns add "$n" || die "cannot create namespace $n"
    in_ns "$n" ip link set lo up
  done
  # browsers resolve nothing outside: their resolver is their own loopback (nothing listens)
  for n in $G $C; do mkdir -p "/etc/netns/$n"; echo "nameserver 127.0.0.1" > "/etc/netns/$n/resolv.conf"; done
  # the TURN/TLS name of the Expressway-E, as the guest's public DNS would give it
  printf '127.0.0.1 localhost\n%s %s\n' "$PUB_IP" "$TLS_NAME" > "/etc/netns/$G/hosts"
  # IPv4 only: no IPv6 router solicitations or multicast reports in the captures
  for n in $NAMESPACES; do [ -e "/run/netns/$n" ] && sysctls "$n" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done

  # guest -- external firewall (guest side)
  link $G g0 $X xg
  addr $G g0 "$GUEST_IP/$(prefix "$GUEST_NET")"; in_ns $G ip route add default via "$GUEST_GW"
  addr $X xg "$GUEST_GW/$(prefix "$GUEST_NET")"
  # internet peer -- external firewall (internet side)
  link $P p0 $X xi
  addr $P p0 "$PEER_IP/$(prefix "$INET_NET")"; in_ns $P ip route add default via "$INET_GW"
  addr $X xi "$INET_GW/$(prefix "$INET_NET")"
  # DMZ (Expressway-E LAN2) is a bridge in the external firewall: one port per node
  in_ns $X ip link add xdmz type bridge; addr $X xdmz "$DMZ_GW/$(prefix "$DMZ_NET")"
  # LAN1 is a bridge in the internal firewall
  in_ns $I ip link add ilan1 type bridge; addr $I ilan1 "$LAN1_GW/$(prefix "$LAN1_NET")"
  link $C c0 $I ic
  addr $C c0 "$CMS_IP/$(prefix "$CMS_NET")"; in_ns $C ip route add default via "$CMS_GW"
  addr $I ic "$CMS_GW/$(prefix "$CMS_NET")"
  expe_node $E 1 "$LAN2_IP" "$LAN1_IP"
  [ "$nodes" -ge 2 ] && expe_node $E2 2 "$LAN2_IP_B" "$LAN1_IP_B"

  sysctls $X net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
    net.ipv4.conf.xdmz.send_redirects=0
  sysctls $I net.ipv4.ip_forward=1
  # whatever the firewall has no network for (the public addresses it answers for by NAT only,
  # private addresses of other sites) is dropped silently, as a firewall does, instead of
  # answering with ICMP network unreachable from a missing route
  in_ns $X ip route add blackhole default
  external_firewall "$nodes"
  internal_firewall
}

expe_node() { # ns index lan2-ip lan1-ip: the Expressway-E stand-in, two NICs, no forwarding between them
  local ns=$1 i=$2
  link "$ns" lan2 $X "xd$i"; in_ns $X ip link set "xd$i" master xdmz; in_ns $X ip link set "xd$i" up
  link "$ns" lan1 $I "il$i"; in_ns $I ip link set "il$i" master ilan1; in_ns $I ip link set "il$i" up
  addr "$ns" lan2 "$3/$(prefix "$DMZ_NET")"
  addr "$ns" lan1 "$4/$(prefix "$LAN1_NET")"
  in_ns "$ns" ip route add default via "$DMZ_GW" dev lan2       # the internet is behind LAN2
  in_ns "$ns" ip route add "$CMS_NET" via "$LAN1_GW" dev lan1   # the inside is behind LAN1
  sysctls "$ns" net.ipv4.conf.all.accept_redirects=0
}

# The external firewall: static NAT for each Expressway-E public address, NAT for the guest
# network, a stateful policy (from outside only replies and the published ports get in), and
# NAT reflection (hairpin) for packets from the DMZ to a public address of the DMZ (an
# Expressway-E sending to its own public address, or to its cluster peer's).
REFLECTION=1
xfw_static_nat() { # public private
  in_ns $X iptables -t nat -A PREROUTING -i xg -d "$1" -j DNAT --to-destination "$2"
  in_ns $X iptables -t nat -A PREROUTING -i xi -d "$1" -j DNAT --to-destination "$2"
  # reflection: the same DNAT for packets that come from the DMZ itself
  [ "$REFLECTION" = 1 ] && in_ns $X iptables -t nat -A PREROUTING -i xdmz -d "$1" -j DNAT --to-destination "$2"
  in_ns $X iptables -t nat -A POSTROUTING -s "$2" -j SNAT --to-source "$1"
}
external_firewall() { # nodes
  local t
  in_ns $X iptables -P FORWARD DROP
  in_ns $X iptables -N published
  xfw_static_nat "$PUB_IP" "$LAN2_IP"
  [ "$1" -ge 2 ] && xfw_static_nat "$PUB2_IP" "$LAN2_IP_B"
  in_ns $X iptables -t nat -A POSTROUTING -s "$GUEST_NET" -j SNAT --to-source "$GUEST_PUB"
  in_ns $X iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  # what the Expressway-E publishes on its public address (only through the static NAT)
  for t in udp tcp; do in_ns $X iptables -A published -p $t --dport "$TPORT" -j ACCEPT; done
  in_ns $X iptables -A published -p tcp --dport "$TLS_PORT" -j ACCEPT
  in_ns $X iptables -A published -p udp --dport "$RELAY_MIN:$RELAY_MAX" -j ACCEPT
  in_ns $X iptables -A FORWARD -o xdmz -m conntrack --ctstate DNAT -j published
  # the guest may go out; the DMZ (relays) may go out to the internet
  in_ns $X iptables -A FORWARD -i xg -o xi -j ACCEPT
  in_ns $X iptables -A FORWARD -i xdmz -o xi -j ACCEPT
}
# extra rules go first (-I): they model the misconfigured firewall of a scenario
xfw_block() { in_ns $X iptables -I FORWARD 1 "$@" -j DROP; }
ifw_block() { in_ns $I iptables -I FORWARD 1 "$@" -j DROP; }

# The internal firewall: the CMS may reach the Expressway-E LAN1 TURN port; from LAN1 only replies.
internal_firewall() {
  local t
  in_ns $I iptables -P FORWARD DROP
  in_ns $I iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  for t in udp tcp; do in_ns $I iptables -A FORWARD -i ic -o ilan1 -p $t --dport "$TPORT" -j ACCEPT; done
}

# ---------------------------------------------------------------- servers and clients
TURN_NODES=()    # namespace of each running turnserver
# turn NS LAN2 LAN1 PUB NAME [extra turnserver args]: coturn as the Expressway-E TURN server,
# listening on LAN2 and LAN1, relaying from LAN2 only, advertising the public address.
# coturn 4.6.1 maps a peer at its own public address to its relay address, so relay-to-relay
# traffic between two allocations on one node stays inside the host (over lo, as Expressway
# X12.5.3 and later behave); see lab/README.md for how the lab models the hairpin instead.
# PRIVATE_RELAY=1: no -X at all, the private LAN2 address is advertised.
turn() {
  local ns=$1 lan2=$2 lan1=$3 pub=$4 name=$5; shift 5
  local ext=(-X "$pub/$lan2")
  [ "${PRIVATE_RELAY:-0}" = 1 ] && ext=()
  local tls=(--no-tls)
  [ "${TLS_ON:-0}" = 1 ] && tls=(--tls-listening-port "$TLS_PORT" --cert "$CERT" --pkey "$KEY" --no-tcp)
  bg in_ns "$ns" turnserver -n --no-cli --no-dtls "${tls[@]}" -L "$lan2" -L "$lan1" -p "$TPORT" \
    -E "$lan2" "${ext[@]}" --min-port "$RELAY_MIN" --max-port "$RELAY_MAX" -a -r "$REALM" \
    -u "$TURN_USER:${SERVER_PASS:-$TURN_PASS}" -f --log-file "$D/$name.log" --simple-log \
    --pidfile "$D/$name.pid" "$@" >/dev/null 2>&1
  TURN_NODES+=("$ns")
}
turn_a() { turn $E "$LAN2_IP" "$LAN1_IP" "$PUB_IP" turnserver "$@"; }
turn_b() { turn $E2 "$LAN2_IP_B" "$LAN1_IP_B" "$PUB2_IP" turnserver2 "$@"; }
wait_turn() { # until every turnserver listens (on its TURN port, or on the TLS port)
  local ns i check=(-Hlnu "sport = :$TPORT")
  [ "${TLS_ON:-0}" = 1 ] && check=(-Hlnt "sport = :$TLS_PORT")
  for ns in "${TURN_NODES[@]}"; do
    for i in $(seq 50); do
      in_ns "$ns" ss "${check[@]}" | grep -q . && break
      sleep 0.2
    done
  done
}

captures() { # nodes: tcpdump at the guest, on each Expressway-E (any, LAN2, LAN1), at the CMS
  bg in_ns $G tcpdump -U -s0 -i g0 -w "$D/guest.pcap" 2>/dev/null
  bg in_ns $C tcpdump -U -s0 -i c0 -w "$D/cms.pcap" 2>/dev/null
  local ns pre
  for ns in $E $E2; do
    [ "$ns" = "$E2" ] && [ "$1" -lt 2 ] && continue
    pre=expe; [ "$ns" = "$E2" ] && pre=expe2
    bg in_ns "$ns" tcpdump -U -s0 -i any -w "$D/$pre-any.pcap" 2>/dev/null
    bg in_ns "$ns" tcpdump -U -s0 -i lan2 -w "$D/$pre-lan2.pcap" 2>/dev/null
    bg in_ns "$ns" tcpdump -U -s0 -i lan1 -w "$D/$pre-lan1.pcap" 2>/dev/null
  done
  bg in_ns $P turnutils_peer -L "$PEER_IP" -p "$PEER_PORT" >/dev/null 2>&1
  sleep 1.5   # tcpdump needs a moment before it sees packets
}

# turnutils_uclient from the guest (to the public address) or from the CMS (to LAN1)
uc_guest() { timeout 25 ip netns exec $G turnutils_uclient -p "$TPORT" -e "$PEER_IP" -r "$PEER_PORT" -n "$UC_MSGS" "$@" "$PUB_IP" >>"$D/client.log" 2>&1; }
uc_cms() { timeout 25 ip netns exec $C turnutils_uclient -p "$TPORT" -e "$PEER_IP" -r "$PEER_PORT" -n "$UC_MSGS" "$@" "$LAN1_IP" >>"$D/client.log" 2>&1; }

# The call: Chromium in the CMS namespace (call bridge stand-in, TURN on LAN1) and Chromium in
# the guest namespace (TURN on the public address), signaling through lab/sighelper.py.
# Variables: GUEST_TURN / CMS_TURN (comma-separated ICE server URLs), GUEST_POLICY (all|relay),
# GUEST_USER / GUEST_PASS / CMS_PASS, CMS_DELAY (ms the CMS side waits before answering).
# DUMP=1: the guest Chromium also saves its chrome://webrtc-internals dumps (lab/webrtc-dump.py).
dump_on() { [ "${DUMP:-0}" = 1 ]; }
chromium_in() { # ns role turn-urls pass policy profile-dir [extra query]
  local user=$TURN_USER
  [ "$2" = guest ] && user=${GUEST_USER:-$TURN_USER}
  local url="http://127.0.0.1:$SIG_PORT/call.html?role=$2&turn=$3&user=$user&pass=$4&policy=$5&pings=$PINGS${7:-}"
  local first=$url devtools=()
  if [ "$2" = guest ] && dump_on; then
    # DUMP=1: the browser starts blank with DevTools on the namespace's loopback;
    # webrtc-dump.py opens chrome://webrtc-internals, then the call, and saves the dumps
    # (the page's own download buttons) into the scenario folder before the browser stops.
    first=about:blank devtools=(--remote-debugging-port="$DEVTOOLS_PORT")
    bg in_ns "$1" python3 "$HERE/webrtc-dump.py" "$DEVTOOLS_PORT" "$url" "$D" $((BROWSER_SECS - 3)) 2>>"$D/webrtc-dump.log"
  fi
  timeout "$BROWSER_SECS" ip netns exec "$1" chromium --headless --no-sandbox --disable-gpu --disable-quic \
    --no-first-run --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$6" --disable-features=WebRtcHideLocalIpsWithMdns --ignore-certificate-errors \
    --enable-logging=stderr --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE $TLS_NAME, EXCLUDE $PUB_IP, EXCLUDE $PUB2_IP, EXCLUDE $LAN1_IP, EXCLUDE $LAN1_IP_B" \
    "${devtools[@]}" "$first" 2>&1 \
    | grep -o "state $2 .*" | sed 's/", source.*//' > "$D/browser-$2.log"
}
call() {
  # temporary directories are made here, not in the background subshell, so cleanup sees them
  local sig prof_c prof_g
  sig=$(mktemp -d) prof_c=$(mktemp -d) prof_g=$(mktemp -d); TMPS+=("$sig" "$prof_c" "$prof_g")
  bg in_ns $G python3 "$HERE/sighelper.py" "$HERE" "$sig" "$SIG_PORT"
  bg in_ns $C python3 "$HERE/sighelper.py" "$HERE" "$sig" "$SIG_PORT"
  sleep 0.5
  chromium_in $C cms "${CMS_TURN:-turn:$LAN1_IP:$TPORT?transport=udp}" "${CMS_PASS:-$TURN_PASS}" all "$prof_c" "&delay=${CMS_DELAY:-0}" &
  local cms=$!
  sleep 1
  chromium_in $G guest "${GUEST_TURN:-turn:$PUB_IP:$TPORT?transport=udp}" "${GUEST_PASS:-$TURN_PASS}" "${GUEST_POLICY:-all}" "$prof_g"
  wait $cms
  { tail -1 "$D/browser-guest.log"; echo; tail -1 "$D/browser-cms.log"; echo; } | grep . > "$D/browser-state.txt"
  rm -f "$D/browser-guest.log" "$D/browser-cms.log"
}

make_cert() { # a self-signed certificate for TURN over TLS, made in the lab
  local dir; dir=$(mktemp -d); TMPS+=("$dir")
  CERT=$dir/turn.crt KEY=$dir/turn.key
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$TLS_NAME" -addext "subjectAltName=DNS:$TLS_NAME,IP:$PUB_IP" \
    -keyout "$KEY" -out "$CERT" >/dev/null 2>&1 || die "openssl failed"
}

# ---------------------------------------------------------------- scenarios
truth() { echo "$*" > "$D/truth.txt"; }
expect() { printf '%s\n' "$@" > "$D/expect.txt"; }

scenario() { # name: set up the firewalls and servers, run the clients, write truth and expect
  local nodes=1
  case $1 in cluster-bad-password|alternate-server|reflection-*) nodes=2;; esac
  REFLECTION=1; PRIVATE_RELAY=0; TLS_ON=0; SERVER_PASS=; TURN_NODES=()
  GUEST_TURN=; CMS_TURN=; GUEST_POLICY=; GUEST_USER=; GUEST_PASS=; CMS_PASS=
  case $1 in reflection-missing) REFLECTION=0;; private-relay) PRIVATE_RELAY=1;; ok-tls|tcp-refused) TLS_ON=1;; esac
  build $nodes
  case $1 in
    ok-udp)
      turn_a; wait_turn; captures 1; call
      truth "healthy call over UDP: guest (Chromium, all candidates) allocates a relay on $PUB_IP:$TPORT (static NAT to LAN2 $LAN2_IP), the CMS stand-in allocates on LAN1 $LAN1_IP:$TPORT; both relays are advertised as $PUB_IP; ICE connects and the data channel carries $PINGS pings and pongs. Nothing is wrong on either leg."
      expect flow.healthy "absent: any-error";;
    ok-tcp)
      turn_a; wait_turn; captures 1
      GUEST_TURN="turn:$PUB_IP:$TPORT?transport=tcp" GUEST_POLICY=relay; call
      truth "healthy call with the guest leg on TURN over TCP $TPORT (guest relay-only), CMS leg over UDP to LAN1 $LAN1_IP:$TPORT; ICE connects relay to relay inside the Expressway-E (coturn keeps traffic between its own relays on lo)."
      expect flow.healthy "absent: any-error";;
    ok-tls)
      make_cert; turn_a; wait_turn; captures 1
      GUEST_TURN="turns:$TLS_NAME:$TLS_PORT?transport=tcp" GUEST_POLICY=relay; call
      truth "healthy call with the guest leg on TURN over TLS on TCP $TLS_PORT (guest relay-only; coturn --tls-listening-port $TLS_PORT, self-signed certificate made in the lab, TCP $TPORT not listening as on an Expressway with TURN on 443); CMS leg over UDP to LAN1 $LAN1_IP:$TPORT. The guest leg is encrypted: only the TLS handshake is visible on it."
      expect transport.turn_tls flow.healthy "absent: any-error";;
    tcp-refused)
      make_cert; turn_a; wait_turn; captures 1; uc_guest -t -u "$TURN_USER" -w "$TURN_PASS"
      truth "guest leg: TURN over TCP to $PUB_IP:$TPORT is refused (RST from the Expressway-E LAN2 $LAN2_IP) because TURN listens on TLS $TLS_PORT and no longer on TCP $TPORT; the external firewall lets it through."
      expect reach.tcp_refused "args: --turn-port $TPORT";;  # no STUN in the captures: the port is configuration
    guest-bad-password)
      turn_a; wait_turn; captures 1
      if dump_on; then GUEST_PASS=$BAD_PASS call; else uc_guest -u "$TURN_USER" -w "$BAD_PASS"; fi
      truth "guest leg, credentials: the guest's authenticated Allocate to $PUB_IP:$TPORT (seen on LAN2 $LAN2_IP) is rejected with 401 after the challenge: the guest uses password '$BAD_PASS' for user $TURN_USER, the Expressway-E database holds '$TURN_PASS'."
      expect auth.password_mismatch "absent: auth.server_password_mismatch" "absent: reach.no_response";;
    guest-unknown-user)
      turn_a; wait_turn; captures 1
      if dump_on; then GUEST_USER=$BAD_USER call; else uc_guest -u "$BAD_USER" -w "$TURN_PASS"; fi
      truth "guest leg, credentials: the guest's username '$BAD_USER' is unknown to the Expressway-E: its authenticated Allocate to $PUB_IP:$TPORT (LAN2) gets 401."
      expect auth.unknown_user "absent: auth.password_mismatch";;
    cms-bad-password)
      turn_a; wait_turn; captures 1; uc_cms -u "$TURN_USER" -w "$BAD_PASS"
      truth "CMS leg, credentials: the CMS's authenticated Allocate to LAN1 $LAN1_IP:$TPORT is rejected with 401 after the challenge: the CMS turnServers object holds password '$BAD_PASS', the Expressway-E database '$TURN_PASS'. Nothing on LAN2 toward the guest side."
      expect auth.password_mismatch "absent: auth.server_password_mismatch";;
    cms-unknown-user)
      turn_a; wait_turn; captures 1; uc_cms -u "$BAD_USER" -w "$TURN_PASS"
      truth "CMS leg, credentials: the CMS's username '$BAD_USER' is unknown to the Expressway-E: its authenticated Allocate to LAN1 $LAN1_IP:$TPORT gets 401."
      expect auth.unknown_user;;
    ext-3478-blocked)
      xfw_block -o xdmz -p udp --dport "$TPORT"
      turn_a; wait_turn; captures 1
      if dump_on; then call; else uc_guest -u "$TURN_USER" -w "$TURN_PASS"; fi
      truth "guest leg, external firewall: UDP $TPORT to the public address $PUB_IP is dropped; the guest's Allocate retransmissions never reach LAN2 ($LAN2_IP) of the Expressway-E."
      expect reach.inbound_blocked "absent: reach.server_silent";;
    int-3478-blocked)
      ifw_block -o ilan1 -p udp --dport "$TPORT"
      turn_a; wait_turn; captures 1; uc_cms -u "$TURN_USER" -w "$TURN_PASS"
      truth "CMS leg, internal firewall: UDP $TPORT from the CMS $CMS_IP to the Expressway-E LAN1 $LAN1_IP is dropped; the CMS's Allocate retransmissions never reach LAN1."
      expect reach.inbound_blocked "absent: reach.server_silent";;
    return-blocked)
      xfw_block -i xdmz -p udp --sport "$TPORT"
      turn_a; wait_turn; captures 1
      if dump_on; then call; else uc_guest -u "$TURN_USER" -w "$TURN_PASS"; fi
      truth "guest leg, external firewall, return path: the guest's Allocate reaches LAN2 and the Expressway-E answers (401) from $LAN2_IP:$TPORT, but the external firewall drops UDP from source port $TPORT leaving the DMZ; the guest never gets an answer."
      expect reach.response_lost "absent: reach.inbound_blocked";;
    relay-blocked-in)
      xfw_block -o xdmz -p udp --dport "$RELAY_MIN:$RELAY_MAX"
      turn_a; wait_turn; captures 1; GUEST_TURN="stun:$PUB_IP:$TPORT"; call
      truth "media, external firewall, inbound: UDP to the relay ports $RELAY_MIN-$RELAY_MAX of $PUB_IP is dropped before LAN2. The guest (STUN only, no TURN of its own) sends its ICE checks from its NAT address $GUEST_PUB straight to the CMS's relay $PUB_IP:<relay port>; none reaches LAN2. The CMS leg allocates fine on LAN1; ICE fails."
      expect relay.unreachable ice.check_failed "absent: flow.healthy";;
    relay-blocked-out)
      xfw_block -i xdmz -p udp --sport "$RELAY_MIN:$RELAY_MAX"
      turn_a; wait_turn; captures 1; GUEST_TURN="stun:$PUB_IP:$TPORT"; call
      truth "media, external firewall, outbound: UDP from the relay ports $RELAY_MIN-$RELAY_MAX leaving LAN2 is dropped. The guest (STUN only) sends ICE checks to the CMS's relay $PUB_IP:<relay port>; they reach LAN2 and are relayed to the CMS over LAN1 (Data indications); the CMS's answers leave the relay on LAN2 toward $GUEST_PUB but never reach the guest. The CMS leg allocates fine; ICE fails."
      expect relay.unreachable ice.check_failed "new: relay.return_blocked" "absent: flow.healthy";;
    relay-blocked-both)
      xfw_block -o xdmz -p udp --dport "$RELAY_MIN:$RELAY_MAX"
      xfw_block -i xdmz -p udp --sport "$RELAY_MIN:$RELAY_MAX"
      turn_a; wait_turn; captures 1; GUEST_TURN="stun:$PUB_IP:$TPORT"; call
      truth "media, external firewall, both ways: UDP $RELAY_MIN-$RELAY_MAX to and from the relay on LAN2 is dropped. The guest (STUN only) sends ICE checks to the CMS's relay $PUB_IP:<relay port>; none reaches LAN2, and the relay's own checks toward the guest ($GUEST_PUB) never leave the firewall. The CMS leg allocates fine; ICE fails."
      expect relay.unreachable ice.check_failed "absent: flow.healthy";;
    private-relay)
      turn_a; wait_turn; captures 1; call
      truth "Expressway-E static NAT not configured: the relays are advertised with the LAN2 private address $LAN2_IP (XOR-RELAYED-ADDRESS) although the guest reached $PUB_IP. The guest cannot reach $LAN2_IP; only paths that stay inside the Expressway-E (relay to relay on the same host) can work."
      expect relay.private_address;;
    reflection-present)
      turn_a; turn_b; wait_turn; captures 2
      GUEST_POLICY=relay CMS_TURN="turn:$LAN1_IP_B:$TPORT?transport=udp"; call
      truth "NAT reflection present (hairpin between two Expressway-E in the DMZ): guest relay-only on node 1 ($PUB_IP, LAN2 $LAN2_IP), CMS on node 2 (LAN1 $LAN1_IP_B, relay advertised as $PUB2_IP). Node 1's relay sends ICE checks from $LAN2_IP to $PUB2_IP; the external firewall reflects them into the DMZ (DNAT $PUB2_IP->$LAN2_IP_B, SNAT $LAN2_IP->$PUB_IP), and back. ICE connects relay to relay; healthy."
      expect flow.healthy "absent: nat.reflection_missing" "absent: any-error";;
    reflection-missing)
      turn_a; turn_b; wait_turn; captures 2
      GUEST_POLICY=relay CMS_TURN="turn:$LAN1_IP_B:$TPORT?transport=udp"; call
      truth "NAT reflection missing on the external firewall (hairpin between two Expressway-E in the DMZ): guest relay-only on node 1 ($PUB_IP, LAN2 $LAN2_IP), CMS on node 2 (LAN1 $LAN1_IP_B, relay advertised as $PUB2_IP). Both allocations succeed; node 1's relay sends ICE checks from LAN2 $LAN2_IP to $PUB2_IP and node 2's relay from $LAN2_IP_B to $PUB_IP; the firewall does not NAT packets that come from the DMZ and drops them. ICE fails."
      expect nat.reflection_missing ice.check_failed "absent: flow.healthy";;
    cms-binding-only)
      # the CMS side has the Expressway-E as a STUN server only: Binding, never Allocate
      turn_a; wait_turn; captures 1; CMS_TURN="stun:$LAN1_IP:$TPORT"; call
      truth "CMS leg, version: the CMS (as CMS 2.9.2 and earlier) sends only STUN Binding requests to LAN1 $LAN1_IP:$TPORT and never an Allocate; the Expressway-E answers them. The CMS has no relay; the guest's relay cannot reach the CMS's own address (the internal firewall lets only the TURN port through); ICE fails."
      expect version.cms_binding_only ice.check_failed "absent: reach.server_silent";;
    cms-binding-ignored)
      turn_a --no-stun; wait_turn; captures 1; CMS_TURN="stun:$LAN1_IP:$TPORT"; call
      truth "CMS leg, version: the CMS sends only STUN Binding requests to LAN1 $LAN1_IP:$TPORT, and the Expressway-E (as X12.6.1 and later; coturn --no-stun) ignores them: they arrive on LAN1 and are never answered. No Allocate, no relay for the CMS; ICE fails. The guest leg (Binding and Allocate on LAN2) is answered."
      expect version.cms_binding_only ice.check_failed "absent: reach.server_silent";;  # the ignored Bindings are the version finding, no reachability error
    cluster-bad-password)
      turn_a; SERVER_PASS=$BAD_PASS turn_b; wait_turn; captures 2
      GUEST_TURN="turn:$PUB_IP:$TPORT?transport=udp,turn:$PUB2_IP:$TPORT?transport=udp"
      CMS_TURN="turn:$LAN1_IP:$TPORT?transport=udp,turn:$LAN1_IP_B:$TPORT?transport=udp"; call
      truth "cluster of two Expressway-E: node 1 ($PUB_IP / LAN2 $LAN2_IP / LAN1 $LAN1_IP) healthy; node 2 ($PUB2_IP / LAN2 $LAN2_IP_B / LAN1 $LAN1_IP_B) holds another password for $TURN_USER ('$BAD_PASS'), so the guest's and the CMS's authenticated Allocates to node 2 get 401 while the clients use the right password ('$TURN_PASS'). The call connects through node 1."
      expect auth.server_password_mismatch flow.healthy "absent: auth.password_mismatch";;
    quota-486)
      turn_a --user-quota 1; wait_turn; captures 1; uc_guest -m 3 -u "$TURN_USER" -w "$TURN_PASS"
      truth "capacity, guest leg: per-user quota 1 (coturn --user-quota 1); the guest opens 3 sessions; the second user's allocations are refused with 486 Allocation Quota Reached."
      expect capacity.quota_reached;;
    capacity-508)
      # two relay ports only: the later sessions find no free relay port (like exhausted relays)
      turn_a --max-port $((RELAY_MIN + 1)); wait_turn; captures 1; uc_guest -m 3 -u "$TURN_USER" -w "$TURN_PASS"
      truth "capacity, guest leg: the relay range is exhausted (coturn relay ports $RELAY_MIN-$((RELAY_MIN + 1)) only, like an Expressway-E out of TURN relays); the guest opens 3 sessions (each an RTP and an RTCP allocation); once the ports are taken, Allocates are refused with 508 Insufficient Capacity."
      expect capacity.insufficient;;
    alternate-server)
      turn_a --alternate-server "$PUB2_IP:$TPORT"; turn_b; wait_turn; captures 2
      uc_guest -u "$TURN_USER" -w "$TURN_PASS"
      truth "cluster redirection: node 1 ($PUB_IP) answers the guest's Allocate with 300 Try Alternate and ALTERNATE-SERVER $PUB2_IP:$TPORT; the guest allocates on node 2 (LAN2 $LAN2_IP_B) through its static NAT. Not a failure."
      expect capacity.alternate_server "absent: any-error";;
    stale-nonce)
      # the guest's CreatePermission comes after the CMS's answer, seconds after its Allocate
      turn_a --stale-nonce=3; wait_turn; captures 1; CMS_DELAY=5000 call
      truth "nonce expiry: the nonce lives 3 s (coturn --stale-nonce=3); the browsers' later requests (CreatePermission, ChannelBind) get 438 Stale Nonce and are retried with the new nonce successfully; the call connects. Healthy."
      expect auth.stale_nonce "absent: auth.stale_nonce_unhandled" "absent: any-error";;
    *) echo "unknown scenario $1" >&2; return 1;;
  esac
}

# ---------------------------------------------------------------- main
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for t in ip iptables tcpdump turnserver turnutils_uclient turnutils_peer chromium python3 openssl timeout; do need $t; done
dump_on && { python3 -c 'import websocket' 2>/dev/null || die "DUMP=1 needs the websocket-client Python package (pip install websocket-client, or Debian python3-websocket)"; }
mkdir -p "$OUT"
for s in $SCEN; do
  D="$OUT/$s"; rm -rf "$D"; mkdir -p "$D"
  scenario "$s" || continue
  sleep 1; stop_pids; teardown
  rm -f "$D"/*.pid
  printf '%s:' "$s"; for f in "$D"/*.pcap; do printf ' %s=%s' "$(basename "$f" .pcap)" "$(stat -c %s "$f")"; done; echo
done
