#!/usr/bin/env bash
# Link kinds measured against each other with `vfwirectl probe`: the Linux bridge (what an
# emulated VF is today), a direct veth pair, two veth pairs stitched by a tc program calling
# bpf_redirect_peer (ebpf), the same stitched by tc mirred, and macvlan in bridge mode.
#
# It prints figures; it never fails on timing. It exits non-zero only when it cannot measure.
#
# usage: bench/links.sh [-h] [ROUNDS]
#
# All five links join the same two namespaces, each on its own /30 from 198.19.200.0/21. Every
# round, in an order rotated from round to round so machine noise hits all alike, each kind gets:
#   latency  `vfwirectl probe --count N --rate R` (UDP request/response, kernel timestamps):
#            p50, p99 and p99.9 of the round trip
#   rate     `vfwirectl probe --flood`: 64-byte frames (18-byte UDP payloads) from one socket,
#            bounded by count and time; packets per second received in the far namespace
# Reported: the median over rounds of each figure, per kind; ebpf/bridge ratios against the goal
# (p50 and p99 at most 0.8x the bridge's, packet rate at least 1.3x); and once per kind the probe
# against `ping -c N -i 0` on the same link, the probe's own cost.
#
# Environment:
#   VFWIRE_BENCH_ROUNDS   rounds (default 10; the ROUNDS argument wins)
#   VFWIRE_BENCH_COUNT    probes per latency run (default 2000)
#   VFWIRE_BENCH_RATE     probes per second (default 5000)
#   VFWIRE_BENCH_FLOOD    datagrams per rate run (default 300000; at most 3 s each)
#   VFWIRE_BENCH_CPU      SENDER,REFLECTOR CPUs to pin to (default: not pinned)
#   VFWIRE_BENCH_LOCK     a file to flock for the measured part only (not for the build)
#   VFWIRE_BIN_DIR        directory holding vfwirectl; when set, nothing is built. Unset: the
#                         release build install.sh makes (./install.sh --build-only)
#
# Needs root, bash, iproute2, jq, and clang with libbpf-dev's headers for bpf/redirect_peer.c.
# Addresses come from 198.18.0.0/15 only; all traffic stays inside namespaces this script makes.

set -uo pipefail
export LC_ALL=C

usage() { sed -n '/^# usage:/,/^# Needs root/{s/^# \{0,1\}//;p}' "$0"; }
die() { printf 'links: %s\n' "$*" >&2; exit 1; }

[ "${1:-}" = -h ] && { usage; exit 0; }
ROUNDS=${1:-${VFWIRE_BENCH_ROUNDS:-10}}
COUNT=${VFWIRE_BENCH_COUNT:-2000}
RATE=${VFWIRE_BENCH_RATE:-5000}
FLOOD=${VFWIRE_BENCH_FLOOD:-300000}
CPU=()
[ -n "${VFWIRE_BENCH_CPU:-}" ] && CPU=(--cpu "$VFWIRE_BENCH_CPU")
[ "$(id -u)" = 0 ] || die "run as root (it makes namespaces and links)"
for t in ip tc jq clang; do command -v $t >/dev/null || die "needs $t"; done

REPO=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${VFWIRE_BIN_DIR:-}" ]; then
    BIN_DIR=$VFWIRE_BIN_DIR; BUILT="given by VFWIRE_BIN_DIR, not built"
else
    BIN_DIR=$("$REPO/install.sh" --build-only) || die "install.sh --build-only failed"
    BUILT="built by install.sh --build-only"
fi
CTL=$BIN_DIR/vfwirectl
[ -x "$CTL" ] || die "no vfwirectl in $BIN_DIR"

. "$REPO/bench/links-lib.sh"
KINDS=(bridge veth ebpf mirred macvlan)
links_begin links
links_add 200 "${KINDS[@]}"

load() { cut -d' ' -f1-3 /proc/loadavg; }

printf 'links: %s rounds, %s probes at %s/s and %s-datagram floods per kind and round; vfwirectl %s\n' \
    "$ROUNDS" "$COUNT" "$RATE" "$FLOOD" "$BUILT"
printf 'machine: %s, %s CPUs (%s), load before %s\n' "$(uname -r)" "$(nproc)" \
    "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" "$(load)"

for ((r = 0; r < ROUNDS; r++)); do
    for ((j = 0; j < ${#KINDS[@]}; j++)); do
        k=${KINDS[$(((j + r) % ${#KINDS[@]}))]}
        out=$("$CTL" probe --from "$A" --to "$B:${ADDR[$k]}" --count "$COUNT" --rate "$RATE" --json --no-ping "${CPU[@]}") \
            || die "probe over $k failed"
        jq -r '[.p50_us, .p99_us, .p999_us, .received, .sent] | @tsv' <<<"$out" >>"$WORK/$k.lat"
        out=$("$CTL" probe --flood --from "$A" --to "$B:${ADDR[$k]}" --count "$FLOOD" --duration 3 --json "${CPU[@]}") \
            || die "flood over $k failed"
        jq -r '.pps' <<<"$out" >>"$WORK/$k.pps"
    done
done

declare -A P50 P99 P999 PPS
printf '\n%-8s %10s %10s %10s %12s %8s\n' kind p50_us p99_us p99.9_us packets/s lost
for k in "${KINDS[@]}"; do
    P50[$k]=$(cut -f1 "$WORK/$k.lat" | median); P99[$k]=$(cut -f2 "$WORK/$k.lat" | median)
    P999[$k]=$(cut -f3 "$WORK/$k.lat" | median); PPS[$k]=$(median <"$WORK/$k.pps")
    lost=$(awk '{l += $5 - $4} END {print l}' "$WORK/$k.lat")
    printf '%-8s %10.1f %10.1f %10.1f %12.0f %8s\n' "$k" "${P50[$k]}" "${P99[$k]}" "${P999[$k]}" "${PPS[$k]}" "$lost"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
r50=$(ratio "${P50[ebpf]}" "${P50[bridge]}"); r99=$(ratio "${P99[ebpf]}" "${P99[bridge]}")
rpps=$(ratio "${PPS[ebpf]}" "${PPS[bridge]}")
verdict() { awk -v v="$1" -v goal="$2" -v op="$3" 'BEGIN {print ((op == "le" ? v <= goal : v >= goal) ? "meets" : "misses")}'; }
printf '\nebpf/bridge: p50 %sx (goal <= 0.8: %s), p99 %sx (goal <= 0.8: %s), packet rate %sx (goal >= 1.3: %s)\n' \
    "$r50" "$(verdict "$r50" 0.8 le)" "$r99" "$(verdict "$r99" 0.8 le)" "$rpps" "$(verdict "$rpps" 1.3 ge)"
for k in veth mirred macvlan; do
    printf '%s/bridge: p50 %sx, p99 %sx, packet rate %sx\n' "$k" "$(ratio "${P50[$k]}" "${P50[bridge]}")" \
        "$(ratio "${P99[$k]}" "${P99[bridge]}")" "$(ratio "${PPS[$k]}" "${PPS[bridge]}")"
done

printf '\nthe probe against ping -c %s -i 0 on the same link (mean and min, us):\n' "$COUNT"
for k in "${KINDS[@]}"; do
    "$CTL" probe --from "$A" --to "$B:${ADDR[$k]}" --count "$COUNT" --rate "$RATE" --json "${CPU[@]}" |
        jq -r --arg k "$k" '"\($k): probe mean \(.mean_us) min \(.min_us); ping avg \(.ping_avg_us) min \(.ping_min_us); probe - ping (mean) \((.mean_us - .ping_avg_us) * 10 | round / 10)"'
done
printf 'load after %s\n' "$(load)"
