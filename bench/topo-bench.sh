#!/usr/bin/env bash
# Topology benchmark: bring-up and tear-down of rings of network-namespace nodes on emulated
# NICs (N nodes, N links, 2N link ends; by default N = 32, 64 and 128, the last 256 link ends),
# against the sum of the same number (2N) of single vfwire ADDs and DELs, each into its own
# namespace, measured in the same run. Prints figures; never fails on timing.
#
# usage: bench/topo-bench.sh [ROUNDS]   (default 3; VFWIRE_BIN_DIR as in bench.sh)
#   VFWIRE_TOPO_SIZES   node counts (default "32 64 128")
#
# An emulated PF has at most 128 VFs (EmulatedNIC.maxVFs, what large real NICs offer), so the
# benchmark makes ceil(2N / 128) PFs and lists them all in the topology's `pf:` (256 ends: two
# PFs). It checks no traffic: this is the control path only.
#
# Moves against everything else: after the timed rounds, one more `up` and one more series of
# single ADDs run under `perf trace -a -e sendmsg` (when perf is installed). In each vfwire
# process the longest sendmsg is the netns move (an RCU grace period under rtnl; bench/
# add-timeline.sh shows it is); their sum, and for `up` the time during which at least one
# vfwire sendmsg of 2 ms or more was in flight (moves, and requests queued on rtnl behind
# them), split the wall time into moves and everything else.
set -euo pipefail
export LC_ALL=C
REPO=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
ROUNDS=${1:-3}
SIZES=${VFWIRE_TOPO_SIZES:-"32 64 128"}
[ "$(id -u)" = 0 ] || { echo "topo-bench: run as root" >&2; exit 1; }
BIN=${VFWIRE_BIN_DIR:-$("$REPO/install.sh" --build-only)}
CTL=$BIN/vfwirectl
VFW=$BIN/vfwire
CNI=/usr/lib/cni
SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
MAX=0; for n in $SIZES; do (( n > MAX )) && MAX=$n; done
ENDS_MAX=$(( 2 * MAX ))
NPF=$(( (ENDS_MAX + 127) / 128 ))
PFS=(); for p in $(seq 0 $(( NPF - 1 ))); do PFS+=("vtb$SUF$p"); done
TMP=$(mktemp -d)
PERF_PID=
export VFWIRE_TOPO_STATE=$TMP/state VFWIRE_CNI_PATH=$BIN:$CNI
cleanup() {
  [ -n "$PERF_PID" ] && kill "$PERF_PID" 2>/dev/null
  for n in $SIZES; do [ -e "$TMP/topo$n.yaml" ] && "$CTL" topo down "$TMP/topo$n.yaml" >/dev/null 2>&1; done
  for i in $(seq 0 $(( ENDS_MAX - 1 ))); do
    [ -e "/run/netns/vtbs$SUF-$i" ] || continue
    single DEL "$i" >/dev/null 2>&1 || true
    ip netns del "vtbs$SUF-$i" 2>/dev/null || true
  done
  for p in "${PFS[@]}"; do "$CTL" sim destroy "$p" >/dev/null 2>&1 || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
for p in "${PFS[@]}"; do "$CTL" sim create "$p" --vfs 128 >/dev/null; done
PFLIST=$(IFS=,; echo "${PFS[*]}")
PFJSON=$(printf '"%s",' "${PFS[@]}"); PFJSON="[${PFJSON%,}]"

for n in $SIZES; do
  {
    echo "name: tb$SUF$n"
    echo "defaults: {pf: [$PFLIST], vlans: 100-999, addresses: 198.18.0.0/16}"
    echo "nodes:"
    for i in $(seq 0 $(( n - 1 ))); do echo "  n$i: {}"; done
    echo "links:"
    for i in $(seq 0 $(( n - 1 ))); do echo "  - endpoints: [\"n$i:r0\", \"n$(( (i + 1) % n )):r1\"]"; done
  } > "$TMP/topo$n.yaml"
done

ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }
conf() { printf '{"cniVersion":"1.0.0","name":"tb","type":"vfwire","pf":%s,"vlan":%d,"ipam":{"type":"static","addresses":[{"address":"198.18.%d.%d/30"}]}}' "$PFJSON" $((100 + $1 / 2)) $(( 100 + $1 / 64 )) $(( ($1 % 64) * 4 + 1 )); }
single() {  # single ADD|DEL I
  conf "$2" | CNI_COMMAND=$1 CNI_CONTAINERID="tb$SUF-$2" CNI_NETNS="/run/netns/vtbs$SUF-$2" CNI_IFNAME=eth1 CNI_PATH=$CNI "$VFW" >/dev/null
}
# singles ADD|DEL ENDS: the sum of ENDS single calls, each timed alone (ms).
singles() {
  local i s sum=0
  for (( i = 0; i < $2; i++ )); do
    s=$EPOCHREALTIME; single "$1" "$i"
    sum=$(( sum + ${EPOCHREALTIME/./} - ${s/./} ))
  done
  awk -v s="$sum" 'BEGIN { printf "%.1f", s / 1000 }'
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# traced OUT CMD...: runs CMD under a system-wide perf trace of sendmsg calls of 2 ms or more.
traced() {
  local out=$1; shift
  perf trace -a -m 2048 -e sendmsg --duration 2 -o "$out" 2>/dev/null & PERF_PID=$!
  sleep 2
  "$@"
  sleep 0.2; kill -INT "$PERF_PID" 2>/dev/null; wait "$PERF_PID" 2>/dev/null || true; PERF_PID=
}
# moves TRACE: "sum-of-moves-ms union-of-slow-sendmsg-ms count" over vfwire processes.
moves() {
  awk '/vfwire\/[0-9]+ .*sendmsg/ && /\( *[0-9.]+ ms\)/ {
         match($0, /\( *[0-9.]+ ms\)/); d = substr($0, RSTART + 1, RLENGTH - 5) + 0
         match($0, /vfwire\/[0-9]+/); p = substr($0, RSTART, RLENGTH); s = $1 + 0
         # perf prints "?" for a call whose start it lost, and a wrapped unsigned duration for
         # some calls it saw only half of (under load it drops events): those are left out.
         if ($1 !~ /^[0-9.]+$/ || d > 10000) next
         if (d > best[p]) best[p] = d
         n++; st[n] = s; en[n] = s + d }
       END { for (p in best) { sum += best[p]; c++ }
             # union of [st, en] intervals
             for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (st[j] < st[i]) { t = st[i]; st[i] = st[j]; st[j] = t; t = en[i]; en[i] = en[j]; en[j] = t }
             u = 0; cs = -1; ce = -1
             for (i = 1; i <= n; i++) { if (st[i] > ce) { if (ce > cs) u += ce - cs; cs = st[i]; ce = en[i] } else if (en[i] > ce) ce = en[i] }
             if (ce > cs) u += ce - cs
             printf "%.1f %.1f %d\n", sum, u, c }' "$1"
}

declare -A UPM DOWNM ADDM DELM MOVE_UP UNION_UP MOVE_ADD NMOVE_UP NMOVE_ADD
for n in $SIZES; do
  ends=$(( 2 * n ))
  UP=() DOWN=() SADD=() SDEL=()
  for i in $(seq 0 $(( ends - 1 ))); do ip netns add "vtbs$SUF-$i"; done
  for r in $(seq "$ROUNDS"); do
    # Alternate which goes first, so neither always runs on a warmer page cache.
    for what in $( (( r % 2 )) && echo "topo singles" || echo "singles topo"); do
      if [ "$what" = topo ]; then
        t0=$EPOCHREALTIME; "$CTL" topo up "$TMP/topo$n.yaml" >/dev/null; t1=$EPOCHREALTIME
        "$CTL" topo down "$TMP/topo$n.yaml" >/dev/null; t2=$EPOCHREALTIME
        UP+=("$(ms "$t0" "$t1")"); DOWN+=("$(ms "$t1" "$t2")")
      else
        SADD+=("$(singles ADD "$ends")"); SDEL+=("$(singles DEL "$ends")")
      fi
    done
    echo "$n nodes, round $r: up ${UP[-1]} ms, down ${DOWN[-1]} ms; $ends single ADDs ${SADD[-1]} ms, DELs ${SDEL[-1]} ms" >&2
  done
  UPM[$n]=$(median "${UP[@]}"); DOWNM[$n]=$(median "${DOWN[@]}"); ADDM[$n]=$(median "${SADD[@]}"); DELM[$n]=$(median "${SDEL[@]}")
  if command -v perf >/dev/null; then
    traced "$TMP/up$n.trace" "$CTL" topo up "$TMP/topo$n.yaml" >/dev/null
    "$CTL" topo down "$TMP/topo$n.yaml" >/dev/null
    traced "$TMP/add$n.trace" singles ADD "$ends" >/dev/null
    singles DEL "$ends" >/dev/null
    read -r MOVE_UP[$n] UNION_UP[$n] NMOVE_UP[$n] < <(moves "$TMP/up$n.trace")
    read -r MOVE_ADD[$n] _ NMOVE_ADD[$n] < <(moves "$TMP/add$n.trace")
  fi
  for i in $(seq 0 $(( ends - 1 ))); do ip netns del "vtbs$SUF-$i"; done
done

x() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "vfwire topology benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $ROUNDS rounds, medians"
echo "  rings of netns nodes (N nodes, N links, 2N link ends) on $NPF emulated PF(s) of 128 VFs: ${PFS[*]}"
echo "  the single ADDs and DELs are of the same 2N VFs, one process at a time, each into its own namespace"
printf '  %5s %5s  %9s %9s %7s  %9s %9s %7s  %8s %8s\n' nodes ends "up ms" "ADDs ms" "up/sum" "down ms" "DELs ms" "dn/sum" "up/end" "ADD/end"
for n in $SIZES; do
  e=$(( 2 * n ))
  printf '  %5d %5d  %9.1f %9.1f %6.2fx  %9.1f %9.1f %6.2fx  %8.2f %8.2f\n' "$n" "$e" "${UPM[$n]}" "${ADDM[$n]}" "$(x "${UPM[$n]}" "${ADDM[$n]}")" \
    "${DOWNM[$n]}" "${DELM[$n]}" "$(x "${DOWNM[$n]}" "${DELM[$n]}")" "$(x "${UPM[$n]}" "$e")" "$(x "${ADDM[$n]}" "$e")"
done
echo "  goal: up / sum of single ADDs <= 0.80x at 128 nodes (256 ends)"
if [ -n "${MOVE_UP[$MAX]:-}" ]; then
  echo
  echo "  moves against everything else (one traced up, one traced series of single ADDs per size):"
  printf '  %5s  %14s %14s %16s   %14s %16s\n' nodes "up: moves ms" "rtnl busy ms" "up: else ms" "ADDs: moves" "ADDs: else ms"
  for n in $SIZES; do
    printf '  %5d  %9.1f (%3d) %14.1f %16.1f   %9.1f (%3d) %16.1f\n' "$n" "${MOVE_UP[$n]}" "${NMOVE_UP[$n]}" "${UNION_UP[$n]}" \
      "$(awk -v u="${UPM[$n]}" -v m="${UNION_UP[$n]}" 'BEGIN { print u - m }')" "${MOVE_ADD[$n]}" "${NMOVE_ADD[$n]}" \
      "$(awk -v u="${ADDM[$n]}" -v m="${MOVE_ADD[$n]}" 'BEGIN { print u - m }')"
  done
  echo "  (up: else = median up - rtnl busy; ADDs: else = median sum - sum of moves; (n) = vfwire processes"
  echo "   perf trace saw whole; when n is below the ends, perf dropped events and moves are undercounted)"
fi
first=${SIZES%% *}
if [ "$first" != "$MAX" ]; then
  echo
  printf '  growth %d -> %d nodes (x%.1f ends): up x%.2f, sum of ADDs x%.2f, down x%.2f, sum of DELs x%.2f; linear is x%.1f\n' \
    "$first" "$MAX" "$(x "$MAX" "$first")" "$(x "${UPM[$MAX]}" "${UPM[$first]}")" "$(x "${ADDM[$MAX]}" "${ADDM[$first]}")" \
    "$(x "${DOWNM[$MAX]}" "${DOWNM[$first]}")" "$(x "${DELM[$MAX]}" "${DELM[$first]}")" "$(x "$MAX" "$first")"
fi
printf 'SUMMARY: %d nodes, %d ends: up %.1f ms = %sx the sum of single ADDs (%.1f ms); down %.1f ms = %sx the DELs (%.1f ms)\n' \
  "$MAX" "$ENDS_MAX" "${UPM[$MAX]}" "$(x "${UPM[$MAX]}" "${ADDM[$MAX]}")" "${ADDM[$MAX]}" "${DOWNM[$MAX]}" "$(x "${DOWNM[$MAX]}" "${DELM[$MAX]}")" "${DELM[$MAX]}"
