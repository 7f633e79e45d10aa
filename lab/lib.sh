# Shared by the lab scripts (deploy-lab.sh, web-lab.sh): errors, process and namespace
# bookkeeping, and the veth topology helpers. Sourced, never run.
#
# The sourcing script sets, before sourcing:
#   LAB_NAME    prefix of error messages ("deploy-lab")
#   NAMESPACES  the network namespaces it creates (removed with everything inside on exit)

die() { echo "$LAB_NAME: $*" >&2; exit 2; }
need() { command -v "$1" >/dev/null || die "missing $1"; }
in_ns() { ip netns exec "$@"; }

# ---------------------------------------------------------------- process bookkeeping
PIDS=()          # every background process the lab started, stopped by id
TMPS=()          # temporary directories
bg() { "$@" & PIDS+=($!); }
stop_pids() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  PIDS=()
}
teardown() {
  stop_pids
  local n
  for n in $NAMESPACES; do
    # anything still running inside our namespaces was started by the lab
    ip netns pids "$n" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$n" 2>/dev/null
    rm -rf "/etc/netns/$n"
  done
  true
}
cleanup() { teardown; rm -rf "${TMPS[@]}" 2>/dev/null; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- topology
# veth pair straight into two namespaces (no names on the host, so nothing collides there)
link() { ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"; }
addr() { in_ns "$1" ip addr add "$3" dev "$2"; in_ns "$1" ip link set "$2" up; }
prefix() { echo "${1#*/}"; }
sysctls() { local ns=$1; shift; local s; for s in "$@"; do in_ns "$ns" sysctl -qw "$s"; done; }
# a namespace's own resolv.conf and hosts (ip netns exec bind-mounts /etc/netns/NS/*)
resolver() { mkdir -p "/etc/netns/$1"; echo "nameserver $2" > "/etc/netns/$1/resolv.conf"; printf '127.0.0.1 localhost\n' > "/etc/netns/$1/hosts"; }
