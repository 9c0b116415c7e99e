#!/usr/bin/env bash
# An evaluation a researcher can rerun: the same probe between the same two nodes over every
# link kind this machine offers, written into a directory as one table and one CDF plot, with
# the machine it ran on.
#
# usage: bench/evaluate.sh [-h] OUTDIR
#
# Link kinds: vf (two VFs of one PF on one VLAN: the first real SR-IOV PF named by
# VFWIRE_EVAL_PF, or else an emulated one made for the run, whose VFs are the bridge data path),
# veth, ebpf, mirred, bridge and macvlan (`vfwirectl link`). Node runtime: netns (bare network
# namespaces). Each kind gets VFWIRE_EVAL_ROUNDS probe runs, interleaved.
#
# OUTDIR gets: machine.txt (kernel, CPU, load before and after, virtualisation: TCG, KVM or
# none, and whether the VFs are real), results.md (medians over rounds of p50, p90, p99, p99.9,
# max and loss, and the ratio of each kind's p50 and p99 to the vf's), cdf.svg (and cdf.png
# when matplotlib is there) with the last round of each kind, and KIND-ROUND.{csv,json,hgrm}.
#
# Environment:
#   VFWIRE_EVAL_ROUNDS   probe runs per kind (default 5)
#   VFWIRE_EVAL_COUNT    probes per run (default 5000), VFWIRE_EVAL_RATE per second (default 5000)
#   VFWIRE_EVAL_PF       a real PF to take two VFs from (default: an emulated PF)
#   VFWIRE_EVAL_CPU      SENDER,REFLECTOR CPUs to pin the probe to (default: not pinned)
#   VFWIRE_BENCH_LOCK    a file to flock while measuring
#   VFWIRE_BIN_DIR       directory holding vfwirectl; unset: ./install.sh --build-only
#
# Needs root, iproute2, jq, clang with libbpf-dev's headers. Addresses from 198.18.0.0/15 only;
# all traffic stays inside namespaces this script makes.

set -uo pipefail
export LC_ALL=C
usage() { sed -n '/^# usage:/,/^# Needs root/{s/^# \{0,1\}//;p}' "$0"; }
die() { printf 'evaluate: %s\n' "$*" >&2; exit 1; }
[ "${1:-}" = -h ] && { usage; exit 0; }
OUT=${1:?$(usage)}
ROUNDS=${VFWIRE_EVAL_ROUNDS:-5} COUNT=${VFWIRE_EVAL_COUNT:-5000} RATE=${VFWIRE_EVAL_RATE:-5000}
CPU=()
[ -n "${VFWIRE_EVAL_CPU:-}" ] && CPU=(--cpu "$VFWIRE_EVAL_CPU")
[ "$(id -u)" = 0 ] || die "run as root"
for t in ip jq clang; do command -v $t >/dev/null || die "needs $t"; done
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${VFWIRE_BIN_DIR:-$("$REPO/install.sh" --build-only)} || die "install.sh --build-only failed"
CTL=$BIN_DIR/vfwirectl
mkdir -p "$OUT" || die "cannot make $OUT"

. "$REPO/bench/links-lib.sh"
SIM=
links_extra_cleanup() { [ -n "$SIM" ] && "$CTL" sim destroy "$SIM" >/dev/null 2>&1; }
links_begin eval
PF=${VFWIRE_EVAL_PF:-}
if [ -z "$PF" ]; then
    SIM=vfe$$; PF=$SIM
    "$CTL" sim create "$SIM" --vfs 2 >/dev/null || die "cannot make an emulated PF"
    VFKIND="emulated (vfwirectl sim: veths on a Linux bridge per VLAN)"
else
    VFKIND="real SR-IOV PF $PF ($(basename "$(readlink "/sys/class/net/$PF/device/driver")"))"
fi
for i in 0 1; do
    ns=$([ $i = 0 ] && echo "$A" || echo "$B")
    dev=$(ls "/sys/class/net/$PF/device/virtfn$i/net" 2>/dev/null) || true
    [ -z "$dev" ] && [ -n "$SIM" ] && dev=$("$CTL" vf show "$PF" | awk -v i=$i '$1 == "vf" && $2 == i {print $4}')
    [ -n "$dev" ] || die "no netdev for VF $i of $PF"
    "$CTL" vf set "$PF" $i vlan=310 >/dev/null || die "cannot set VF $i's VLAN"
    ip link set "$dev" netns "$ns" name vf0 && ip -n "$ns" addr add 198.19.210.$((i + 1))/30 dev vf0 \
        && ip -n "$ns" link set vf0 up || die "cannot move VF $i into $ns"
done
ADDR[vf]=198.19.210.2
LINKS=(veth ebpf mirred bridge macvlan)
links_add 211 "${LINKS[@]}"
KINDS=(vf "${LINKS[@]}")

# A VM first (TCG or not is what matters for latency), then a container around us.
virt=$(systemd-detect-virt --vm 2>/dev/null) || virt=none
case "$virt" in
    qemu) virt="qemu VM, TCG (no hardware virtualisation)" ;;
    kvm) virt="KVM VM (hardware-assisted, not TCG)" ;;
    none) grep -qw hypervisor /proc/cpuinfo && virt="a hypervisor systemd-detect-virt does not name (CPU flag), not TCG-detected" ;;
    *) virt="$virt VM" ;;
esac
container=$(systemd-detect-virt --container 2>/dev/null) && virt="$virt, in a $container container"
{
    echo "kernel: $(uname -r)"
    echo "cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "virtualisation: $virt"
    echo "vf: $VFKIND"
    echo "runtime: netns"
    echo "probe: $ROUNDS runs of $COUNT probes at $RATE/s per kind, interleaved, pinned to ${VFWIRE_EVAL_CPU:-no CPU}"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

for ((r = 0; r < ROUNDS; r++)); do
    for ((j = 0; j < ${#KINDS[@]}; j++)); do
        k=${KINDS[$(((j + r) % ${#KINDS[@]}))]}
        "$CTL" probe --from "$A" --to "$B:${ADDR[$k]}" --count "$COUNT" --rate "$RATE" --json --no-ping --label "$k" --hist "$OUT/$k-$r" "${CPU[@]}" \
            >>"$WORK/$k.json" || die "probe over $k failed"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

med() { jq -r ".$2" "$WORK/$1.json" | median; }
{
    echo "# netns nodes, one link each kind ($(uname -r), $virt)"
    echo
    echo "| kind | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | loss % | p50 / vf | p99 / vf |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    vf50=$(med vf p50_us) vf99=$(med vf p99_us)
    for k in "${KINDS[@]}"; do
        p50=$(med "$k" p50_us) p99=$(med "$k" p99_us)
        awk -v k="$k" -v a="$p50" -v b="$(med "$k" p90_us)" -v c="$p99" -v d="$(med "$k" p999_us)" -v e="$(med "$k" max_us)" \
            -v l="$(med "$k" loss_pct)" -v r50="$vf50" -v r99="$vf99" \
            'BEGIN {printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |\n", k, a, b, c, d, e, l, a / r50, c / r99}'
    done
    echo
    sed 's/^/    /' "$OUT/machine.txt"
} >"$OUT/results.md"
last=$((ROUNDS - 1))
"$CTL" probe plot $(for k in "${KINDS[@]}"; do echo "$OUT/$k-$last.json"; done) --out "$OUT/cdf.svg" || die "cannot plot"
"$CTL" probe plot $(for k in "${KINDS[@]}"; do echo "$OUT/$k-$last.json"; done) --out "$OUT/cdf.png" 2>/dev/null \
    || echo "evaluate: no PNG (python3-matplotlib missing); cdf.svg has the plot" >&2
cat "$OUT/results.md"
