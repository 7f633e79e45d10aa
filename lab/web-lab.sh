#!/usr/bin/env bash
# The guides' other failures (not TURN) with real software, in network namespaces: external and
# internal DNS (dnsmasq), the Expressway-E's web side (nginx: HTTPS on 443 with lab-made
# certificates, port 80 redirecting), the web bridge (openssl s_server asking for the call
# bridge's certificate), a guest (headless Chromium) and a CMS call bridge stand-in (dig,
# openssl s_client, turnutils_uclient), with tcpdump at the guest, on the Expressway-E and at the
# CMS. See lab/README.md ("web-lab.sh") for the diagram, the variables and the scenarios.
#
#   usage: lab/web-lab.sh OUTDIR [SCENARIO...]        (root; default: every scenario)
#
# Each scenario writes OUTDIR/SCENARIO/: guest.pcap, expe-any.pcap, cms.pcap, truth.txt,
# expect.txt (finding ids a correct analyzer raises; "absent: ID" must not appear, "args: ..."
# are analyze arguments), and the logs of the programs (*.log, not meant for the fixtures).
set -u

HERE=$(cd "$(dirname "$0")" && pwd)

# ---------------------------------------------------------------- settings (environment)
NS=${NS_PREFIX:-wl}                 # namespaces: wlguest wlxfw wlxdns wlexpe wlifw wlcms wlwb wlidns
DOMAIN=${DOMAIN:-example.com}       # the call bridge domain (XMPP) and the external domain
JOIN=${JOIN:-join.$DOMAIN}          # the web bridge join URL (Guest account client URI)
EXPE_NAME=${EXPE_NAME:-vcse.$DOMAIN}  # the Expressway-E's own name (a SAN that is not the join URL)
TURN_NAME=${TURN_NAME:-turn.$DOMAIN}  # the TURN server's name (turn-name-unresolved)
TPORT=${TPORT:-3478}                # TURN port
TURN_USER=${TURN_USER:-turnuser}; TURN_PASS=${TURN_PASS:-cisco}; REALM=${REALM:-TANDBERG}
GUEST_NET=${GUEST_NET:-192.168.1.0/24}; GUEST_IP=${GUEST_IP:-192.168.1.10}; GUEST_GW=${GUEST_GW:-192.168.1.1}
GUEST_PUB=${GUEST_PUB:-203.0.113.10}          # the guest's address after the external firewall's NAT
INET_NET=${INET_NET:-192.0.2.0/24}; INET_GW=${INET_GW:-192.0.2.1}
XDNS_IP=${XDNS_IP:-192.0.2.53}                # external (public) DNS
PUB_IP=${PUB_IP:-198.51.100.10}               # Expressway-E public address (static NAT to LAN2)
DMZ_NET=${DMZ_NET:-172.16.245.0/24}; DMZ_GW=${DMZ_GW:-172.16.245.1}; LAN2_IP=${LAN2_IP:-172.16.245.61}
LAN1_NET=${LAN1_NET:-172.16.85.0/24}; LAN1_GW=${LAN1_GW:-172.16.85.1}; LAN1_IP=${LAN1_IP:-172.16.85.168}
CMS_NET=${CMS_NET:-172.16.86.0/24}; CMS_GW=${CMS_GW:-172.16.86.1}
CMS_IP=${CMS_IP:-172.16.86.180}               # call bridge
WB_IP=${WB_IP:-172.16.86.181}                 # web bridge
IDNS_IP=${IDNS_IP:-172.16.86.53}              # internal DNS
BROWSER_SECS=${BROWSER_SECS:-12}    # how long a Chromium run may take

ALL="web-ok join-nxdomain join-private san-missing self-signed expired not-yet-valid tls13 tcp443-dropped
tcp443-rejected xmpp-srv-missing webbridge-unresolved wb-distrusts-cb turn-name-unresolved"

OUT=${1:?usage: web-lab.sh OUTDIR [SCENARIO...]}; shift
SCEN=${*:-$ALL}

G=${NS}guest X=${NS}xfw XD=${NS}xdns E=${NS}expe I=${NS}ifw C=${NS}cms W=${NS}wb ID=${NS}idns
NAMESPACES="$G $X $XD $E $I $C $W $ID"

LAB_NAME=web-lab
. "$HERE/lib.sh"   # die, need, in_ns, bg, teardown on exit, link, addr, prefix, sysctls, resolver

build() {
  local n
  teardown
  for n in $NAMESPACES; do
    ip netns add "$n" || die "cannot create namespace $n"
    in_ns "$n" ip link set lo up
    sysctls "$n" net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  resolver $G "$XDNS_IP"; resolver $C "$IDNS_IP"
  # guest -- external firewall -- "internet" (external DNS)
  link $G g0 $X xg; addr $G g0 "$GUEST_IP/$(prefix "$GUEST_NET")"; in_ns $G ip route add default via "$GUEST_GW"
  addr $X xg "$GUEST_GW/$(prefix "$GUEST_NET")"
  link $XD d0 $X xi; addr $XD d0 "$XDNS_IP/$(prefix "$INET_NET")"; in_ns $XD ip route add default via "$INET_GW"
  addr $X xi "$INET_GW/$(prefix "$INET_NET")"
  # Expressway-E: LAN2 in the DMZ behind the external firewall, LAN1 inside
  link $E lan2 $X xd; addr $E lan2 "$LAN2_IP/$(prefix "$DMZ_NET")"; addr $X xd "$DMZ_GW/$(prefix "$DMZ_NET")"
  link $E lan1 $I il; addr $E lan1 "$LAN1_IP/$(prefix "$LAN1_NET")"; addr $I il "$LAN1_GW/$(prefix "$LAN1_NET")"
  in_ns $E ip route add default via "$DMZ_GW" dev lan2
  in_ns $E ip route add "$CMS_NET" via "$LAN1_GW" dev lan1
  # the CMS network is a bridge in the internal firewall: call bridge, web bridge, internal DNS
  in_ns $I ip link add icms type bridge; addr $I icms "$CMS_GW/$(prefix "$CMS_NET")"
  local ns ip i=0
  for ns in $C $W $ID; do
    ip=$CMS_IP; [ "$ns" = "$W" ] && ip=$WB_IP; [ "$ns" = "$ID" ] && ip=$IDNS_IP
    i=$((i + 1))
    link "$ns" c0 $I "ic$i"; in_ns $I ip link set "ic$i" master icms; in_ns $I ip link set "ic$i" up
    addr "$ns" c0 "$ip/$(prefix "$CMS_NET")"; in_ns "$ns" ip route add default via "$CMS_GW"
  done
  sysctls $X net.ipv4.ip_forward=1; sysctls $I net.ipv4.ip_forward=1
  # what the external firewall has no network for is dropped silently, as a firewall does
  in_ns $X ip route add blackhole default
  external_firewall
}

# Static NAT of the Expressway-E's public address to LAN2, NAT of the guest network, and a
# stateful policy: from outside only replies and what the Expressway-E publishes get in.
external_firewall() {
  in_ns $X iptables -P FORWARD DROP
  in_ns $X iptables -t nat -A PREROUTING -d "$PUB_IP" -j DNAT --to-destination "$LAN2_IP"
  in_ns $X iptables -t nat -A POSTROUTING -s "$LAN2_IP" -j SNAT --to-source "$PUB_IP"
  in_ns $X iptables -t nat -A POSTROUTING -s "$GUEST_NET" -o xi -j SNAT --to-source "$GUEST_PUB"
  in_ns $X iptables -t nat -A POSTROUTING -s "$GUEST_NET" -o xd -j SNAT --to-source "$GUEST_PUB"
  in_ns $X iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  in_ns $X iptables -N published
  in_ns $X iptables -A published -p tcp -m multiport --dports 80,443 -j ACCEPT
  in_ns $X iptables -A published -p udp --dport "$TPORT" -j ACCEPT
  in_ns $X iptables -A FORWARD -o xd -m conntrack --ctstate DNAT -j published
  in_ns $X iptables -A FORWARD -i xg -o xi -j ACCEPT
}
# extra rules go first (-I): the misconfigured firewall of a scenario
xfw_rule() { in_ns $X iptables -I FORWARD 1 "$@"; }

# ---------------------------------------------------------------- certificates (made here)
CA_CNF= CA_DIR=
ca_init() {
  CA_DIR=$(mktemp -d); TMPS+=("$CA_DIR")
  CA_CNF=$CA_DIR/ca.cnf
  cat > "$CA_CNF" <<CNF
[ca]
default_ca = lab
[lab]
dir = $CA_DIR
database = $CA_DIR/index.txt
new_certs_dir = $CA_DIR
serial = $CA_DIR/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
CNF
  : > "$CA_DIR/index.txt"; echo 1000 > "$CA_DIR/serial"
  # the lab CA (a stand-in for a third-party CA), and a second one nobody trusts
  local c
  for c in ca otherca; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CA_DIR/$c.key" \
      -subj "/CN=Lab $c" -addext "basicConstraints=critical,CA:true" -out "$CA_DIR/$c.csr" 2>/dev/null
    openssl ca -batch -selfsign -config "$CA_CNF" -keyfile "$CA_DIR/$c.key" -days 3650 \
      -in "$CA_DIR/$c.csr" -out "$CA_DIR/$c.pem" 2>/dev/null || die "openssl ca failed"
  done
}
# cert NAME SANS [START END] [ISSUER]: a certificate signed by the lab CA (or ISSUER), SANs
# comma-separated DNS names, dates as openssl ca -startdate/-enddate (default: valid now)
cert() {
  local name=$1 sans=$2 start=${3:-} end=${4:-} issuer=${5:-ca} dates=(-days 30)
  [ -n "$start" ] && dates=(-startdate "$start" -enddate "$end")
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CA_DIR/$name.key" \
    -subj "/CN=${sans%%,*}" -addext "subjectAltName=$(echo "$sans" | sed 's/\([^,]*\)/DNS:\1/g')" \
    -out "$CA_DIR/$name.csr" 2>/dev/null
  openssl ca -batch -config "$CA_CNF" -cert "$CA_DIR/$issuer.pem" -keyfile "$CA_DIR/$issuer.key" \
    "${dates[@]}" -in "$CA_DIR/$name.csr" -out "$CA_DIR/$name.pem" 2>/dev/null || die "openssl ca failed"
}
selfsigned() { # NAME SAN: issuer = subject
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -keyout "$CA_DIR/$1.key" -subj "/CN=$2" -addext "subjectAltName=DNS:$2" -out "$CA_DIR/$1.pem" 2>/dev/null
}

# ---------------------------------------------------------------- servers
# dnsmasq NS ADDRESS NAME [dnsmasq options]: authoritative for DOMAIN (unknown names there are
# NXDOMAIN), nothing upstream, logging queries
dns() {
  local ns=$1 ip=$2 name=$3; shift 3
  bg in_ns "$ns" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --no-poll --bind-interfaces \
    --listen-address="$ip" --local="/$DOMAIN/" --auth-ttl=60 --log-queries --log-facility="$D/$name.log" \
    --pid-file= --user=root "$@"
}
xdns() { dns $XD "$XDNS_IP" dns-external "$@"; }
idns() { dns $ID "$IDNS_IP" dns-internal "$@"; }

# The Expressway-E's web side on LAN2: nginx, HTTPS on 443 with CERT (TLS version TLS), port 80
# redirecting to HTTPS (PORT80=0: nothing listens on 80)
web() {
  local cert=$1 tls=${2:-TLSv1.2} dir; dir=$(mktemp -d); TMPS+=("$dir")
  mkdir -p "$dir/tmp"
  local http=""
  [ "${PORT80:-1}" = 1 ] && http="server { listen $LAN2_IP:80; return 301 https://\$host\$request_uri; }"
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $D/nginx.log;
daemon off;
events { worker_connections 64; }
http {
  access_log $D/nginx-access.log;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  $http
  server {
    listen $LAN2_IP:443 ssl;
    ssl_certificate $CA_DIR/$cert.pem; ssl_certificate_key $CA_DIR/$cert.key;
    ssl_protocols $tls;
    location / { default_type text/html; return 200 "<html><body>Meeting web app</body></html>"; }
  }
}
CONF
  bg in_ns $E nginx -p "$dir" -c "$dir/nginx.conf"
}

# The web bridge: openssl s_server on 443 (TLS 1.2), asking for the call bridge's certificate and
# verifying it against TRUST (the web bridge's trust bundle)
webbridge() {
  local trust=$1
  bg in_ns $W timeout 30 openssl s_server -quiet -accept "$WB_IP:443" -tls1_2 \
    -cert "$CA_DIR/wb.pem" -key "$CA_DIR/wb.key" -Verify 1 -verify_return_error -CAfile "$CA_DIR/$trust.pem" \
    -www >"$D/webbridge.log" 2>&1
}

turn() {
  bg in_ns $E turnserver -n --no-cli --no-dtls --no-tls -L "$LAN2_IP" -L "$LAN1_IP" -p "$TPORT" \
    -E "$LAN2_IP" -X "$PUB_IP/$LAN2_IP" -a -r "$REALM" -u "$TURN_USER:$TURN_PASS" -f \
    --log-file "$D/turnserver.log" --simple-log --pidfile "$D/turnserver.pid" >/dev/null 2>&1
}

wait_port() { # NS PROTO PORT: until something listens
  local i
  for i in $(seq 50); do in_ns "$1" ss -Hln"$2" "sport = :$3" | grep -q . && return 0; sleep 0.2; done
  echo "web-lab: nothing listens on $3/$2 in $1" >&2
}

captures() {
  bg in_ns $G tcpdump -U -s0 -i g0 -w "$D/guest.pcap" 2>/dev/null
  bg in_ns $E tcpdump -U -s0 -i any -w "$D/expe-any.pcap" 2>/dev/null
  bg in_ns $C tcpdump -U -s0 -i c0 -w "$D/cms.pcap" 2>/dev/null
  sleep 1.5   # tcpdump needs a moment before it sees packets
}

# ---------------------------------------------------------------- clients
# browse URL...: headless Chromium in the guest namespace, its own profile and NSS database
# trusting the lab CA (a guest's browser trusts the third-party CAs); what it gets goes to the log
browse() {
  local home; home=$(mktemp -d); TMPS+=("$home")
  mkdir -p "$home/.pki/nssdb"
  certutil -d "sql:$home/.pki/nssdb" -N --empty-password
  certutil -d "sql:$home/.pki/nssdb" -A -t "C,," -n labca -i "$CA_DIR/ca.pem"
  local url
  for url in "$@"; do
    HOME=$home timeout "$BROWSER_SECS" ip netns exec $G chromium --headless --no-sandbox --disable-gpu \
      --disable-quic --no-first-run --disable-background-networking --disable-component-update \
      --disable-sync --disable-features=DnsOverHttps,AsyncDns,HttpsUpgrades --user-data-dir="$home/profile" \
      --dump-dom "$url" >>"$D/browser.log" 2>&1
    echo "== $url: exit $?" >>"$D/browser.log"
  done
}
# cms_lookup NAME TYPE: what the call bridge asks its DNS (dig, as the CMS resolver does; over
# TCP when DIG_TCP=1)
cms_lookup() {
  local tcp=(); [ "${DIG_TCP:-0}" = 1 ] && tcp=(+tcp)
  timeout 10 ip netns exec $C dig "${tcp[@]}" +tries=2 +time=2 "$1" "$2" >>"$D/cms.log" 2>&1
}
# the call bridge looks up its XMPP server and the web bridge, then connects to the web bridge
# with its certificate
callbridge() {
  cms_lookup "_xmpp-client._tcp.$DOMAIN" SRV
  cms_lookup "$JOIN" A
  cms_lookup "$JOIN" AAAA
  [ "${CB_CONNECT:-0}" = 1 ] || return 0
  echo | timeout 10 ip netns exec $C openssl s_client -connect "$JOIN:443" -servername "$JOIN" \
    -tls1_2 -cert "$CA_DIR/cb.pem" -key "$CA_DIR/cb.key" -CAfile "$CA_DIR/ca.pem" >>"$D/cms.log" 2>&1
}

# ---------------------------------------------------------------- scenarios
truth() { echo "$*" > "$D/truth.txt"; }
expect() { printf '%s\n' "$@" > "$D/expect.txt"; }

JOIN_OK="--host-record=$JOIN,$PUB_IP --host-record=$EXPE_NAME,$PUB_IP"
SRV_OK="--srv-host=_xmpp-client._tcp.$DOMAIN,xmpp.$DOMAIN,5222 --host-record=xmpp.$DOMAIN,$CMS_IP"

scenario() {
  PORT80=1; CB_CONNECT=0
  build; ca_init
  case $1 in
    web-ok)
      cert good "$JOIN,$EXPE_NAME"; web good; xdns $JOIN_OK; wait_port $E t 443; captures
      browse "http://$JOIN/"
      truth "healthy: the external DNS ($XDNS_IP) resolves the join URL $JOIN to the Expressway-E's public address $PUB_IP (static NAT to LAN2 $LAN2_IP); port 80 redirects to https://$JOIN/; HTTPS on 443 (TLS 1.2) presents a certificate from the lab CA (trusted by the browser) with $JOIN as SAN; the page loads."
      expect web.http_redirect "absent: any-error" "absent: tls.san_mismatch" "absent: tls.certificate_rejected" "absent: transport.turn_tls";;
    join-nxdomain)
      cert good "$JOIN,$EXPE_NAME"; web good; xdns --host-record="$EXPE_NAME,$PUB_IP"; wait_port $E t 443; captures
      browse "https://$JOIN/"
      truth "external DNS: no record for the join URL $JOIN (the external DNS server $XDNS_IP answers NXDOMAIN); the browser never connects. Everything behind it works."
      expect "args: --join-url $JOIN" dns.join_url_unresolved "absent: dns.webbridge_unresolved";;
    join-private)
      cert good "$JOIN,$EXPE_NAME"; web good; xdns --host-record="$JOIN,$WB_IP"; wait_port $E t 443; captures
      browse "https://$JOIN/"
      truth "external DNS: the join URL $JOIN resolves to the web bridge's private address $WB_IP (the internal record published outside) instead of the Expressway-E's public address $PUB_IP; the guest's SYNs to $WB_IP:443 go nowhere (the external firewall has no route to it)."
      expect dns.join_url_private web.tcp443_unanswered;;
    san-missing)
      cert nosan "$EXPE_NAME"; web nosan; xdns $JOIN_OK; wait_port $E t 443; captures
      browse "https://$JOIN/"
      truth "certificate: the Expressway-E's certificate (lab CA, TLS 1.2) names only $EXPE_NAME, not the join URL $JOIN; the browser refuses it (insecure connection)."
      expect tls.san_mismatch tls.certificate_rejected "absent: tls.self_signed";;
    self-signed)
      selfsigned self "$JOIN"; web self; xdns $JOIN_OK; wait_port $E t 443; captures
      browse "https://$JOIN/"
      truth "certificate: the Expressway-E's certificate for $JOIN is self-signed (TLS 1.2); the browser does not trust it (insecure connection)."
      expect tls.self_signed tls.certificate_rejected "absent: tls.san_mismatch";;
    expired)
      cert old "$JOIN,$EXPE_NAME" 20230101000000Z 20240101000000Z; web old; xdns $JOIN_OK; wait_port $E t 443; captures
      browse "https://$JOIN/"
      truth "certificate: the Expressway-E's certificate for $JOIN (lab CA, TLS 1.2) expired on 2024-01-01; the browser refuses it."
      expect tls.certificate_expired tls.certificate_rejected "absent: tls.san_mismatch";;
    not-yet-valid)
      cert early "$JOIN,$EXPE_NAME" 20350101000000Z 20360101000000Z; web early; xdns $JOIN_OK; wait_port $E t 443; captures
      browse "https://$JOIN/"
      truth "certificate: the Expressway-E's certificate for $JOIN (lab CA, TLS 1.2) is not valid before 2035-01-01 (a clock or a renewal gone wrong); the browser refuses it."
      expect tls.certificate_not_yet_valid tls.certificate_rejected "absent: tls.certificate_expired";;
    tls13)
      cert good "$JOIN,$EXPE_NAME"; web good TLSv1.3; xdns $JOIN_OK; wait_port $E t 443; captures
      browse "https://$JOIN/"
      truth "healthy, TLS 1.3: the page loads; the certificate (good) travels encrypted, so the capture cannot show it."
      expect tls.certificate_hidden "absent: any-error";;
    tcp443-dropped)
      cert good "$JOIN,$EXPE_NAME"; web good; xdns $JOIN_OK; wait_port $E t 443
      xfw_rule -o xd -p tcp -m multiport --dports 80,443 -j DROP; captures
      browse "https://$JOIN/"
      truth "external firewall: TCP 443 (and 80) to the Expressway-E's public address $PUB_IP is dropped; the guest's SYNs are never answered, nothing reaches LAN2."
      expect web.tcp443_unanswered;;
    tcp443-rejected)
      cert good "$JOIN,$EXPE_NAME"; PORT80=0; web good; xdns $JOIN_OK; wait_port $E t 443
      xfw_rule -o xd -p tcp --dport 443 -j REJECT --reject-with tcp-reset; captures
      browse "http://$JOIN/" "https://$JOIN/"
      truth "external firewall rejects TCP 443 to the Expressway-E with a reset; port 80 reaches the Expressway-E but nothing listens there (no HTTP to HTTPS redirect): reset by its kernel."
      expect web.tcp443_refused web.http_no_redirect;;
    xmpp-srv-missing)
      cert wb "$JOIN"; webbridge ca; idns --host-record="$JOIN,$WB_IP"; wait_port $W t 443; captures
      callbridge; DIG_TCP=1 callbridge
      truth "internal DNS ($IDNS_IP): no _xmpp-client._tcp.$DOMAIN SRV record; the call bridge $CMS_IP looks it up twice, over UDP then over TCP, NXDOMAIN both times (the guest would see 'Unable to connect - try again later'). The join URL resolves to the web bridge $WB_IP."
      expect dns.xmpp_srv_unresolved "absent: dns.webbridge_unresolved";;
    webbridge-unresolved)
      cert good "$JOIN,$EXPE_NAME"; web good; xdns $JOIN_OK; idns $SRV_OK; wait_port $E t 443; captures
      browse "https://$JOIN/"; callbridge
      truth "internal DNS ($IDNS_IP): no record for the join URL $JOIN; the call bridge $CMS_IP finds its XMPP SRV record but cannot resolve the web bridge (Web bridge connection to \"$JOIN\" failed (DNS failure); no Join call button). The guest's side is healthy: the page loads from the Expressway-E."
      expect dns.webbridge_unresolved "absent: dns.join_url_unresolved" "absent: dns.xmpp_srv_unresolved";;
    wb-distrusts-cb)
      cert wb "$JOIN"; cert cb "cb.$DOMAIN"; webbridge otherca; idns $SRV_OK --host-record="$JOIN,$WB_IP"
      wait_port $W t 443; captures
      CB_CONNECT=1 callbridge
      truth "web bridge trust: the web bridge $WB_IP asks the call bridge for its certificate and checks it against a trust bundle that does not hold the call bridge's (nor its CA): it answers the call bridge's certificate with a fatal alert (TLS 1.2, in clear)."
      expect tls.client_certificate_rejected "absent: tls.certificate_rejected";;
    turn-name-unresolved)
      turn; xdns $JOIN_OK; idns $SRV_OK --host-record="$TURN_NAME,$LAN1_IP"; wait_port $E u "$TPORT"; captures
      timeout 15 ip netns exec $C turnutils_uclient -p "$TPORT" -u "$TURN_USER" -w "$TURN_PASS" -n 2 -e "$CMS_IP" -r 3480 "$TURN_NAME" >>"$D/client.log" 2>&1
      timeout 15 ip netns exec $G turnutils_uclient -p "$TPORT" -u "$TURN_USER" -w "$TURN_PASS" -n 2 -e "$GUEST_IP" -r 3480 "$TURN_NAME" >>"$D/client.log" 2>&1
      truth "DNS: the TURN server's name $TURN_NAME resolves inside (internal DNS: LAN1 $LAN1_IP, where the CMS allocates) but not outside: the external DNS $XDNS_IP answers NXDOMAIN to the guest, which never reaches the TURN server."
      expect dns.turn_unresolved;;
    *) echo "unknown scenario $1" >&2; return 1;;
  esac
}

# ---------------------------------------------------------------- main
[ "$(id -u)" = 0 ] || die "needs root (network namespaces)"
for t in ip iptables tcpdump dnsmasq nginx openssl certutil dig chromium turnserver turnutils_uclient timeout ss; do need $t; done
mkdir -p "$OUT"
for s in $SCEN; do
  D="$OUT/$s"; rm -rf "$D"; mkdir -p "$D"
  scenario "$s" || continue
  sleep 1; stop_pids; teardown
  rm -f "$D"/*.pid
  printf '%s:' "$s"; for f in "$D"/*.pcap; do printf ' %s=%s' "$(basename "$f" .pcap)" "$(stat -c %s "$f")"; done; echo
done
