#!/usr/bin/env bash
# An evaluation a researcher can rerun: the same probe between the same two nodes over every
# link kind this machine offers, with every node runtime it has, written into a directory as one
# table and one CDF plot per comparison, with the machine it ran on.
#
# usage: bench/evaluate.sh [-h] OUTDIR
#
# Link kinds: vf (two VFs of one PF on one VLAN: the first real SR-IOV PF named by
# VFWIRE_EVAL_PF, or else an emulated one made for the run, whose VFs are the bridge data path),
# veth, ebpf, mirred, bridge and macvlan (`vfwirectl link`). Node runtimes: netns (bare network
# namespaces), and podman and docker containers (busybox, `--network none`) whose namespaces get
# the same VFs and links, moved in by this script, not attached through the plugin: what differs
# is only who made the namespace. A runtime that cannot run here is skipped with the reason.
# Each kind and runtime gets VFWIRE_EVAL_ROUNDS probe runs, interleaved.
#
# OUTDIR gets: machine.txt (kernel, CPU, load before and after, virtualisation: TCG, KVM or
# none, whether the VFs are real, the runtimes), results.md (per comparison, kinds on netns nodes
# and runtimes per kind: medians over rounds of p50, p90, p99, p99.9, max and loss, and ratios to
# the vf's and to netns nodes'), cdf.svg (kinds) and cdf-runtimes.svg (vf and veth per runtime),
# and .png of both when matplotlib is there, with the last round of each, and
# RUNTIME-KIND-ROUND.{csv,json,hgrm}.
#
# Environment:
#   VFWIRE_EVAL_ROUNDS   probe runs per kind and runtime (default 5)
#   VFWIRE_EVAL_COUNT    probes per run (default 5000), VFWIRE_EVAL_RATE per second (default 5000)
#   VFWIRE_EVAL_PF       a real PF to take VFs from, two per runtime (default: an emulated PF)
#   VFWIRE_EVAL_RUNTIMES container runtimes besides netns (default "podman docker"; "" for none)
#   VFWIRE_EVAL_CPU      SENDER,REFLECTOR CPUs to pin the probe to (default: not pinned)
#   VFWIRE_BENCH_LOCK    a file to flock while measuring
#   VFWIRE_BIN_DIR       directory holding vfwirectl; unset: ./install.sh --build-only
#
# Needs root, iproute2, jq, clang with libbpf-dev's headers; busybox-static, and podman 4 or
# docker.io (dockerd, containerd) for their rows. Addresses from 198.18.0.0/15 only;
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
RUNTIMES=(netns)
WANT=(${VFWIRE_EVAL_RUNTIMES-podman docker})
for rt in "${WANT[@]}"; do
    case $rt in podman | docker) ;; *) die "VFWIRE_EVAL_RUNTIMES: unknown runtime '$rt' (podman, docker or both)" ;; esac
done
for t in ip jq clang; do command -v $t >/dev/null || die "needs $t"; done
REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN_DIR=${VFWIRE_BIN_DIR:-$("$REPO/install.sh" --build-only)} || die "install.sh --build-only failed"
CTL=$BIN_DIR/vfwirectl
mkdir -p "$OUT" || die "cannot make $OUT"


. "$REPO/bench/links-lib.sh"
. "$REPO/bench/node-runtimes.sh"
SIM= VFHOME=()
links_extra_cleanup() {
    local v
    # A container's namespace dies with it, and a VF's netdev would die (emulated) or come home
    # under its borrowed name (real): bring each home first, as it was.
    for v in "${VFHOME[@]}"; do
        read -r ns dev i <<<"$v"
        ip -n "$ns" link set vf0 down 2>/dev/null
        ip -n "$ns" link set vf0 netns $$ name "$dev" 2>/dev/null
        "$CTL" vf set "$PF" "$i" vlan=0 >/dev/null 2>&1
    done
    runtimes_cleanup
    [ -n "$SIM" ] && "$CTL" sim destroy "$SIM" >/dev/null 2>&1
}
links_begin eval
PF=${VFWIRE_EVAL_PF:-}
if [ -z "$PF" ]; then
    SIM=vfe$$; PF=$SIM
    "$CTL" sim create "$SIM" --vfs $((2 * (1 + ${#WANT[@]}))) >/dev/null || die "cannot make an emulated PF"
    VFKIND="emulated (vfwirectl sim: veths on a Linux bridge per VLAN)"
else
    VFKIND="real SR-IOV PF $PF ($(basename "$(readlink "/sys/class/net/$PF/device/driver")"))"
fi
LINKS=(veth ebpf mirred bridge macvlan)
KINDS=(vf "${LINKS[@]}")
declare -A NODEA NODEB PADDR
NODEA[netns]=$A NODEB[netns]=$B
SKIPPED=()
for rt in "${WANT[@]}"; do
    if runtime_node "$rt" "vfwev-$rt-a-$$" >"$WORK/why" && runtime_node "$rt" "vfwev-$rt-b-$$" >"$WORK/why"; then
        RUNTIMES+=("$rt"); NODEA[$rt]=vfwev-$rt-a-$$ NODEB[$rt]=vfwev-$rt-b-$$
    else
        SKIPPED+=("$rt: $(cat "$WORK/why")"); echo "evaluate: no $rt nodes: $(cat "$WORK/why")" >&2
    fi
done

# Runtime number n gets VFs 2n and 2n+1, on VLAN 310 + n, and its /30s from 198.19.(200 + 8n).0.
for ((n = 0; n < ${#RUNTIMES[@]}; n++)); do
    rt=${RUNTIMES[$n]} A=${NODEA[${RUNTIMES[$n]}]} B=${NODEB[${RUNTIMES[$n]}]} net=$((200 + 8 * n))
    for i in $((2 * n)) $((2 * n + 1)); do
        ns=$([ $((i % 2)) = 0 ] && echo "$A" || echo "$B")
        dev=$(ls "/sys/class/net/$PF/device/virtfn$i/net" 2>/dev/null) || true
        [ -z "$dev" ] && [ -n "$SIM" ] && dev=$("$CTL" vf show "$PF" | awk -v i=$i '$1 == "vf" && $2 == i {print $4}')
        [ -n "$dev" ] || die "no netdev for VF $i of $PF (${#RUNTIMES[@]} runtimes need $((2 * ${#RUNTIMES[@]})) VFs on their kernel driver)"
        "$CTL" vf set "$PF" $i vlan=$((310 + n)) >/dev/null || die "cannot set VF $i's VLAN"
        ip link set "$dev" netns "$ns" name vf0 && VFHOME+=("$ns $dev $i") \
            && ip -n "$ns" addr add 198.19.$net.$((i % 2 + 1))/30 dev vf0 && ip -n "$ns" link set vf0 up \
            || die "cannot move VF $i into $ns"
    done
    PADDR["$rt vf"]=198.19.$net.2
    links_add $((net + 1)) "${LINKS[@]}"
    for k in "${LINKS[@]}"; do PADDR["$rt $k"]=${ADDR[$k]}; done
done
A=${NODEA[netns]} B=${NODEB[netns]}
PAIRS=()
for rt in "${RUNTIMES[@]}"; do for k in "${KINDS[@]}"; do PAIRS+=("$rt $k"); done; done

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
    echo "runtimes: ${RUNTIMES[*]} (container nodes: busybox sleep, --network none; the script moves the VFs and link ends into their namespaces, no CNI plugin)"
    for r in "${SKIPPED[@]}"; do echo "runtime skipped: $r"; done
    [ -n "${RT_READY[podman]:-}" ] && echo "podman: $(podman --version | cut -d' ' -f3), runc, vfs storage"
    [ -n "${RT_READY[docker]:-}" ] && echo "docker: $(rt_docker version --format '{{.Server.Version}}'), containerd, vfs storage"
    echo "probe: $ROUNDS runs of $COUNT probes at $RATE/s per kind and runtime, interleaved, pinned to ${VFWIRE_EVAL_CPU:-no CPU}"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/machine.txt"

for ((r = 0; r < ROUNDS; r++)); do
    for ((j = 0; j < ${#PAIRS[@]}; j++)); do
        p=${PAIRS[$(((j + r) % ${#PAIRS[@]}))]} rt=${PAIRS[$(((j + r) % ${#PAIRS[@]}))]% *}
        "$CTL" probe --from "${NODEA[$rt]}" --to "${NODEB[$rt]}:${PADDR[$p]}" --count "$COUNT" --rate "$RATE" --json --no-ping \
            --label "$p" --hist "$OUT/${p/ /-}-$r" "${CPU[@]}" >>"$WORK/${p/ /-}.json" || die "probe over $p failed"
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/machine.txt"

med() { jq -r ".$2" "$WORK/$1.json" | median; }
# row NAME FILE REF50 REF99: a table row of FILE's medians and their ratios to REF's p50 and p99.
row() {
    awk -v k="$1" -v a="$(med "$2" p50_us)" -v b="$(med "$2" p90_us)" -v c="$(med "$2" p99_us)" -v d="$(med "$2" p999_us)" \
        -v e="$(med "$2" max_us)" -v l="$(med "$2" loss_pct)" -v r50="$3" -v r99="$4" \
        'BEGIN {printf "| %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f |\n", k, a, b, c, d, e, l, a / r50, c / r99}'
}
{
    echo "# Link kinds: netns nodes, one link each kind ($(uname -r), $virt)"
    echo
    echo "| kind | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | loss % | p50 / vf | p99 / vf |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for k in "${KINDS[@]}"; do row "$k" "netns-$k" "$(med netns-vf p50_us)" "$(med netns-vf p99_us)"; done
    if [ ${#RUNTIMES[@]} -gt 1 ]; then
        echo
        echo "# Node runtimes: the same links with container nodes (ratios to netns nodes on the same kind)"
        echo
        echo "| runtime, kind | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | loss % | p50 / netns | p99 / netns |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        for k in "${KINDS[@]}"; do
            for rt in "${RUNTIMES[@]}"; do row "$rt $k" "$rt-$k" "$(med "netns-$k" p50_us)" "$(med "netns-$k" p99_us)"; done
        done
    fi
    for s in "${SKIPPED[@]}"; do echo; echo "No $s"; done
    echo
    sed 's/^/    /' "$OUT/machine.txt"
} >"$OUT/results.md"
# plot NAME FILE...: NAME.svg, and NAME.png when matplotlib is there, of the last round of each.
plot() {
    local name=$1 f; shift
    "$CTL" probe plot $(for f in "$@"; do echo "$OUT/$f-$((ROUNDS - 1)).json"; done) --out "$OUT/$name.svg" || die "cannot plot $name"
    "$CTL" probe plot $(for f in "$@"; do echo "$OUT/$f-$((ROUNDS - 1)).json"; done) --out "$OUT/$name.png" 2>/dev/null \
        || echo "evaluate: no $name.png (python3-matplotlib missing); $name.svg has the plot" >&2
}
plot cdf $(for k in "${KINDS[@]}"; do echo "netns-$k"; done)
[ ${#RUNTIMES[@]} -gt 1 ] && plot cdf-runtimes $(for k in vf veth; do for rt in "${RUNTIMES[@]}"; do echo "$rt-$k"; done; done)
cat "$OUT/results.md"
