#!/usr/bin/env bash
# Topology benchmark: bring-up and tear-down of a 32-node, 64-link topology (a ring of 32 plus
# 32 chords) with network-namespace nodes on an emulated NIC with 128 VFs, against the sum of
# the same number (128) of single vfwire ADDs and DELs, each into its own namespace, measured
# in the same run. Prints figures; never fails on timing.
# usage: bench/topo-bench.sh [ROUNDS]   (default 3; VFWIRE_BIN_DIR as in bench.sh)
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ROUNDS=${1:-3}
[ "$(id -u)" = 0 ] || { echo "topo-bench: run as root" >&2; exit 1; }
BIN=${VFWIRE_BIN_DIR:-$("$REPO/install.sh" --build-only)}
CTL=$BIN/vfwirectl
VFW=$BIN/vfwire
CNI=/usr/lib/cni
SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
PF=vtb$SUF
NAME=tb$SUF
TMP=$(mktemp -d)
export VFWIRE_TOPO_STATE=$TMP/state VFWIRE_CNI_PATH=$BIN:$CNI
cleanup() {
  "$CTL" topo down "$TMP/topo.yaml" >/dev/null 2>&1 || true
  for i in $(seq 0 127); do ip netns del "vtbs$SUF-$i" 2>/dev/null || true; done
  "$CTL" sim destroy "$PF" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
"$CTL" sim create "$PF" --vfs 128 >/dev/null

{
  echo "name: $NAME"
  echo "defaults: {pf: $PF, vlans: 100-299, addresses: 198.18.0.0/16}"
  echo "nodes:"
  for i in $(seq 0 31); do echo "  n$i: {}"; done
  echo "links:"
  for i in $(seq 0 31); do echo "  - endpoints: [\"n$i:r0\", \"n$(( (i + 1) % 32 )):r1\"]"; done
  for i in $(seq 0 31); do echo "  - endpoints: [\"n$i:c0\", \"n$(( (i + 7) % 32 )):c1\"]"; done
} > "$TMP/topo.yaml"

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
conf() { printf '{"cniVersion":"1.0.0","name":"tb","type":"vfwire","pf":"%s","vlan":%d,"ipam":{"type":"static","addresses":[{"address":"198.18.%d.%d/30"}]}}' "$PF" $((100 + $1 / 2)) $(( $1 / 64 )) $(( ($1 % 64) * 4 + 1 )); }
declare -a UP DOWN SADD SDEL NSADD NSDEL
for r in $(seq "$ROUNDS"); do
  t0=$EPOCHREALTIME; "$CTL" topo up "$TMP/topo.yaml" >/dev/null; t1=$EPOCHREALTIME
  "$CTL" topo down "$TMP/topo.yaml" >/dev/null; t2=$EPOCHREALTIME
  UP+=("$(ms "$t0" "$t1")"); DOWN+=("$(ms "$t1" "$t2")")
  # The same 128 attachments, one ADD at a time; namespaces are made outside the timing.
  add=0 del=0
  for i in $(seq 0 127); do ip netns add "vtbs$SUF-$i"; done
  for i in $(seq 0 127); do
    s=$EPOCHREALTIME
    conf "$i" | CNI_COMMAND=ADD CNI_CONTAINERID="tb$SUF-$i" CNI_NETNS="/run/netns/vtbs$SUF-$i" CNI_IFNAME=eth1 CNI_PATH=$CNI "$VFW" >/dev/null
    add=$(awk -v a="$add" -v d="$(ms "$s" "$EPOCHREALTIME")" 'BEGIN { print a + d }')
  done
  for i in $(seq 0 127); do
    s=$EPOCHREALTIME
    conf "$i" | CNI_COMMAND=DEL CNI_CONTAINERID="tb$SUF-$i" CNI_NETNS="/run/netns/vtbs$SUF-$i" CNI_IFNAME=eth1 CNI_PATH=$CNI "$VFW" >/dev/null
    del=$(awk -v a="$del" -v d="$(ms "$s" "$EPOCHREALTIME")" 'BEGIN { print a + d }')
  done
  for i in $(seq 0 127); do ip netns del "vtbs$SUF-$i"; done
  SADD+=("$add"); SDEL+=("$del")
  # What up also does and the single ADDs do not: make (and down: delete) 32 namespaces.
  s=$EPOCHREALTIME; for i in $(seq 0 31); do ip netns add "vtbs$SUF-$i"; done; m=$EPOCHREALTIME
  for i in $(seq 0 31); do ip netns del "vtbs$SUF-$i"; done; e=$EPOCHREALTIME
  NSADD+=("$(ms "$s" "$m")"); NSDEL+=("$(ms "$m" "$e")")
  echo "round $r: up ${UP[-1]} ms, down ${DOWN[-1]} ms; 128 single ADDs ${add} ms, DELs ${del} ms" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
U=$(median "${UP[@]}"); D=$(median "${DOWN[@]}"); A=$(median "${SADD[@]}"); E=$(median "${SDEL[@]}")
NA=$(median "${NSADD[@]}"); ND=$(median "${NSDEL[@]}")
echo "vfwire topology benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $ROUNDS rounds, medians"
echo "  32 nodes, 64 links (128 VFs of one emulated PF), network-namespace nodes"
printf '  topo up                  %8.1f ms\n' "$U"
printf '  sum of 128 single ADDs   %8.1f ms   up / sum = %.2fx (goal <= 1.2x)\n' "$A" "$(awk -v u="$U" -v a="$A" 'BEGIN { print u / a }')"
printf '  topo down                %8.1f ms\n' "$D"
printf '  sum of 128 single DELs   %8.1f ms   down / sum = %.2fx\n' "$E" "$(awk -v u="$D" -v a="$E" 'BEGIN { print u / a }')"
printf '  32 ip netns add / del    %8.1f / %.1f ms (nodes; in up/down, not in the sums)\n' "$NA" "$ND"
printf '  up / (sum + netns add)   %8.2fx   down / (sum + netns del) = %.2fx\n' \
  "$(awk -v u="$U" -v a="$A" -v n="$NA" 'BEGIN { print u / (a + n) }')" "$(awk -v u="$D" -v a="$E" -v n="$ND" 'BEGIN { print u / (a + n) }')"
