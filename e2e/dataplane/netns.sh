#!/usr/bin/env bash
# The pods' network: `netns.sh up RUN_DIR` makes a network namespace that holds a block of pod
# addresses from the benchmarking range 198.18.0.0/15, joined to the host by a veth pair with a
# host route for the block, and writes RUN_DIR/netns.env (NETNS, POD_CIDR). `netns.sh down
# RUN_DIR` kills what still runs in the namespace and removes it, with its veth and route.
# Traffic stays on this machine, between the host and addresses the harness made; nothing here
# uses the private ranges (10/8, 172.16/12, 192.168/16). Needs root (CAP_NET_ADMIN).
set -euo pipefail
CONTROLPLANE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../controlplane" && pwd)
. "$CONTROLPLANE_DIR/lib.sh"

action=${1:-}; RUN=${2:-}
[ -n "$action" ] && [ -n "$RUN" ] || { echo "usage: $0 up|down RUN_DIR" >&2; exit 2; }

down() {
  [ -f "$RUN/netns.env" ] || return 0
  # shellcheck source=/dev/null
  . "$RUN/netns.env"
  if ip netns list 2>/dev/null | grep -qw "$NETNS"; then
    pids=$(ip netns pids "$NETNS" 2>/dev/null || true)
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
    # Deleting the namespace deletes its veth end, which takes the host end and route with it.
    ip netns delete "$NETNS"
  fi
  rm -f "$RUN/netns.env"
}

up() {
  command -v ip >/dev/null || die "the ip command (iproute2) is needed for the pods' network namespace"
  down
  mkdir -p "$CACHE_ROOT"
  exec 8>"$CACHE_ROOT/.netns.lock"
  flock 8
  # Sixteen /20 blocks in 198.18.0.0/16, one per local cluster on this machine; the veth pair of
  # block N is 198.19.255.(4N+1) on the host and (4N+2) in the namespace.
  local n cidr
  for n in $(seq 0 15); do
    cidr=198.18.$((n * 16)).0/20
    ip route show "$cidr" | grep -q . || ip netns list | grep -qw "modeldeploy-$n" || break
    cidr=""
  done
  [ -n "$cidr" ] || die "all 16 pod address blocks in 198.18.0.0/16 are taken by other local clusters"
  local ns=modeldeploy-$n host=mdh$n peer=mdn$n
  local host_ip=198.19.255.$((4 * n + 1)) ns_ip=198.19.255.$((4 * n + 2))
  ip netns add "$ns" 2>"$RUN/netns.err" || die "cannot create a network namespace ($(cat "$RUN/netns.err")); the local cluster's pods need root or CAP_NET_ADMIN"
  {
    ip link add "$host" type veth peer name "$peer"
    ip link set "$peer" netns "$ns"
    ip addr add "$host_ip/30" dev "$host"
    ip link set "$host" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$ns_ip/30" dev "$peer"
    ip -n "$ns" link set "$peer" up
    ip -n "$ns" route add default via "$host_ip"
    # Every address of the block is local inside the namespace, so a server can bind any pod IP
    # without the address being added first.
    ip -n "$ns" route add local "$cidr" dev lo
    ip route add "$cidr" via "$ns_ip" dev "$host"
  } 2>"$RUN/netns.err" || { ip netns delete "$ns" 2>/dev/null; die "cannot set up the pods' network: $(cat "$RUN/netns.err")"; }
  printf 'NETNS=%s\nPOD_CIDR=%s\nHOST_IP=%s\n' "$ns" "$cidr" "$host_ip" > "$RUN/netns.env"
  log "pod network: $cidr in network namespace $ns"
}

case "$action" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down RUN_DIR" >&2; exit 2 ;;
esac
