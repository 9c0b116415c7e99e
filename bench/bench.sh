#!/usr/bin/env bash
# vfwire benchmark: what a container runtime pays per attachment, against the reference
# host-device plugin and the bare kernel move, on the same work (one netdev into a fresh
# network namespace, static IPAM, ADD then DEL).
#
# It prints figures; it never fails on timing. It exits non-zero only when it cannot measure
# (missing tools, not root, a plugin call that fails).
#
# usage: bench/bench.sh [-h] [ROUNDS]
#
# Every round, in an order rotated from round to round so machine noise hits all alike:
#   vfwire       ADD, DEL       an emulated PF with one VF (`vfwirectl sim create`), with static
#                               IPAM and again without (vfwire runs IPAM during the move, so its
#                               own overhead shows only without it)
#   host-device  ADD, DEL       the reference plugin, on a plain veth made for it
#   bare move    in, out        `ip link set dev X netns NS name net1` and back with `ip -n NS`
#   start-up     VERSION of vfwire and host-device; /bin/true (the cost of starting any process
#                from here); the static IPAM plugin's ADD alone (both plugins run it on ADD)
# Each in its own netns, created before the round's timing and deleted after it. Each figure
# includes process start-up: a runtime pays it too.
#
# Environment:
#   VFWIRE_BENCH_ROUNDS       rounds (default 60; the ROUNDS argument wins)
#   VFWIRE_BENCH_WARMUP       untimed rounds first (default 3)
#   VFWIRE_BIN_DIR            directory holding vfwire and vfwirectl; when set, nothing is built.
#                             Unset: the release build install.sh makes (./install.sh --build-only),
#                             which is what users install.
#   VFWIRE_BENCH_CNI_DIR      reference plugins (default /usr/lib/cni: host-device, static)
#   VFWIRE_BENCH_RAW          also write every sample here as CSV: round,subject,microseconds
#
# Needs root, bash >= 5 (EPOCHREALTIME), iproute2, and Debian's containernetworking-plugins.
# Addresses come from 198.18.0.0/15 only, on netdevs inside namespaces this script makes; it
# sends no traffic of its own.

set -uo pipefail
export LC_ALL=C   # EPOCHREALTIME and printf use the locale's decimal point

usage() { sed -n '/^# usage:/,/^# Needs root/{s/^# \{0,1\}//;p}' "$0"; }

die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

ROUNDS=${VFWIRE_BENCH_ROUNDS:-60}
WARMUP=${VFWIRE_BENCH_WARMUP:-3}
CNI_DIR=${VFWIRE_BENCH_CNI_DIR:-/usr/lib/cni}
RAW=${VFWIRE_BENCH_RAW:-}
case "${1:-}" in
    -h|--help) usage; exit 0 ;;
    '') ;;
    *) ROUNDS=$1 ;;
esac
[ $# -le 1 ] || { usage >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "VFWIRE_BENCH_WARMUP must be a non-negative integer"
(( ROUNDS >= 50 )) || printf 'bench: %d rounds: p10/p90 are rough below 50\n' "$ROUNDS" >&2

(( BASH_VERSINFO[0] >= 5 )) || die "needs bash >= 5 for EPOCHREALTIME"
(( EUID == 0 )) || die "must run as root (it creates network namespaces and moves netdevs)"
IP=$(command -v ip) || die "iproute2's ip is not installed"
TRUE=$(command -v true) ; [[ $TRUE == /* ]] || TRUE=/bin/true
HOSTDEV=$CNI_DIR/host-device
for p in "$HOSTDEV" "$CNI_DIR/static"; do
    [ -x "$p" ] || die "$p not found: install containernetworking-plugins or set VFWIRE_BENCH_CNI_DIR"
done

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# ---------------------------------------------------------------------------------------------
# The binaries

if [ -n "${VFWIRE_BIN_DIR:-}" ]; then
    BIN_DIR=$VFWIRE_BIN_DIR
    BUILT="given by VFWIRE_BIN_DIR, not built"
else
    BIN_DIR=$("$REPO/install.sh" --build-only) || die "install.sh --build-only failed"
    BUILT="built by install.sh --build-only"
fi
VFWIRE=$BIN_DIR/vfwire
VFWIRECTL=$BIN_DIR/vfwirectl
for p in "$VFWIRE" "$VFWIRECTL"; do [ -x "$p" ] || die "$p is not an executable"; done

# ---------------------------------------------------------------------------------------------
# Names, state and cleanup

SUF=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
PF=vfb$SUF                 # the emulated PF (sim names: at most 10 bytes, no '_' or '.')
HD_DEV=vbh$SUF             # host-device's veth; its peer is ${HD_DEV}p
BK_DEV=vbk$SUF             # the bare move's veth; its peer is ${BK_DEV}p
IFNAME=net1                # the name inside the namespace, for all three
HOST_NS=/proc/$$/ns/net    # where the netdevs come home to: this script's namespace
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vfwire-bench.XXXXXX") || die "mktemp failed"
OUT=$TMP/out ERR=$TMP/err

declare -A LIVE_NS=()      # netns names to delete
SIM_MADE=0 HD_MADE=0 BK_MADE=0
VF_NS="" VF_CID=""          # an ADD not yet undone, for cleanup
HD_NS="" HD_CID=""
BK_NS=""
CLEANED=0

cni_env() {  # cni_env COMMAND CONTAINERID NETNS_PATH
    export CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=$3 CNI_IFNAME=$IFNAME CNI_PATH=$CNI_DIR
}
unset CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH CNI_ARGS

cleanup() {
    (( CLEANED )) && return
    CLEANED=1
    trap '' INT TERM HUP
    # Undo outstanding ADDs through the plugins, so vfwire's records and the VF table go too.
    if [ -n "$VF_NS" ]; then cni_env DEL "$VF_CID" "/run/netns/$VF_NS"; "$VFWIRE" <"$TMP/vfwire.json" >/dev/null 2>&1; fi
    if [ -n "$HD_NS" ]; then cni_env DEL "$HD_CID" "/run/netns/$HD_NS"; "$HOSTDEV" <"$TMP/hostdev.json" >/dev/null 2>&1; fi
    if [ -n "$BK_NS" ]; then "$IP" -n "$BK_NS" link set dev "$IFNAME" netns "$HOST_NS" name "$BK_DEV" 2>/dev/null; fi
    unset CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
    local ns
    for ns in "${!LIVE_NS[@]}"; do "$IP" netns del "$ns" 2>/dev/null; done
    # A veth inside a deleted namespace dies with it; either end takes the pair along.
    (( HD_MADE )) && { "$IP" link del "$HD_DEV" 2>/dev/null || "$IP" link del "${HD_DEV}p" 2>/dev/null; }
    (( BK_MADE )) && { "$IP" link del "$BK_DEV" 2>/dev/null || "$IP" link del "${BK_DEV}p" 2>/dev/null; }
    if (( SIM_MADE )) && ! "$VFWIRECTL" sim destroy "$PF" >/dev/null 2>&1 && [ -e "/sys/class/net/$PF" ]; then
        printf 'bench: could not destroy sim PF %s: run %s sim destroy %s\n' "$PF" "$VFWIRECTL" "$PF" >&2
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'printf "\nbench: interrupted, cleaning up\n" >&2; exit 130' INT
trap 'exit 143' TERM HUP

# ---------------------------------------------------------------------------------------------
# Setup (untimed)

for n in "$PF" "$HD_DEV" "${HD_DEV}p" "$BK_DEV" "${BK_DEV}p"; do
    [ ! -e "/sys/class/net/$n" ] || die "a netdev named $n exists already; run again"
done
# Each flag goes up before its make, so a signal in between still cleans up.
SIM_MADE=1
"$VFWIRECTL" sim create "$PF" --vfs 1 >"$OUT" 2>"$ERR" || die "vfwirectl sim create $PF failed: $(cat "$ERR")"
VF_DEV=$("$VFWIRECTL" vf show "$PF" | awk '$1 == "vf" && $2 == 0 { print $4 }')
[ -n "$VF_DEV" ] && [ "$VF_DEV" != - ] || die "cannot find the sim PF's VF netdev"
HD_MADE=1
"$IP" link add "$HD_DEV" type veth peer name "${HD_DEV}p" || die "cannot create veth $HD_DEV"
BK_MADE=1
"$IP" link add "$BK_DEV" type veth peer name "${BK_DEV}p" || die "cannot create veth $BK_DEV"

IPAM='"ipam":{"type":"static","addresses":[{"address":"198.18.200.1/24"}]}'
printf '{"cniVersion":"1.0.0","name":"bench","type":"vfwire","pf":"%s",%s}\n' "$PF" "$IPAM" >"$TMP/vfwire.json"
# vfwire runs IPAM during the netns move, so its own overhead is measured without IPAM.
printf '{"cniVersion":"1.0.0","name":"bench","type":"vfwire","pf":"%s"}\n' "$PF" >"$TMP/vfwire-noipam.json"
printf '{"cniVersion":"1.0.0","name":"bench","type":"host-device","device":"%s",%s}\n' "$HD_DEV" "$IPAM" >"$TMP/hostdev.json"
printf '{"cniVersion":"1.0.0"}\n' >"$TMP/version.json"

# ---------------------------------------------------------------------------------------------
# Measurement

declare -A SAMPLES=()      # subject -> space-separated microseconds
RECORD=0                   # 0 during warm-up
ROUND=0
[ -n "$RAW" ] && { printf 'round,subject,us\n' >"$RAW" || die "cannot write $RAW"; }

# timed SUBJECT STDIN CMD ARGS...: runs CMD once; wall time from fork to exit, in microseconds.
timed() {
    local subject=$1 in=$2 t0 t1 rc=0 us
    shift 2
    t0=$EPOCHREALTIME
    "$@" <"$in" >"$OUT" 2>"$ERR" || rc=$?
    t1=$EPOCHREALTIME
    us=$(( ${t1/./} - ${t0/./} ))
    if (( rc != 0 )); then
        printf '\nbench: %s failed (exit %d) in round %d:\n' "$subject" "$rc" "$ROUND" >&2
        cat "$OUT" "$ERR" >&2; echo >&2
        exit 1
    fi
    if (( RECORD )); then
        SAMPLES[$subject]+=" $us"
        [ -n "$RAW" ] && printf '%d,%s,%d\n' "$ROUND" "$subject" "$us" >>"$RAW"
    fi
    return 0
}

check() { "$@" >/dev/null 2>&1 || die "round $ROUND: sanity check failed: $*"; }
has_addr() { [[ $("$IP" -n "$1" -o addr show dev "$IFNAME" 2>/dev/null) == *" 198.18.200.1/24 "* ]]; }

run_vfwire() {
    local ns=$1 cid=bench-$SUF-$ROUND
    cni_env ADD "$cid" "/run/netns/$ns"
    VF_NS=$ns VF_CID=$cid
    timed vfwire_add "$TMP/vfwire.json" "$VFWIRE"
    check has_addr "$ns"
    check test ! -e "/sys/class/net/$VF_DEV"
    cni_env DEL "$cid" "/run/netns/$ns"
    timed vfwire_del "$TMP/vfwire.json" "$VFWIRE"
    VF_NS=""
    check "$IP" link show dev "$VF_DEV"
    check test -z "$("$IP" -n "$ns" -o link show dev "$IFNAME" 2>/dev/null)"
    cni_env ADD "$cid" "/run/netns/$ns"
    VF_NS=$ns
    timed vfwire_add_noipam "$TMP/vfwire-noipam.json" "$VFWIRE"
    check "$IP" -n "$ns" link show dev "$IFNAME"
    cni_env DEL "$cid" "/run/netns/$ns"
    timed vfwire_del_noipam "$TMP/vfwire-noipam.json" "$VFWIRE"
    VF_NS=""
    check "$IP" link show dev "$VF_DEV"
}

run_hostdev() {
    local ns=$1 cid=bench-$SUF-$ROUND
    cni_env ADD "$cid" "/run/netns/$ns"
    HD_NS=$ns HD_CID=$cid
    timed hostdev_add "$TMP/hostdev.json" "$HOSTDEV"
    check has_addr "$ns"
    cni_env DEL "$cid" "/run/netns/$ns"
    timed hostdev_del "$TMP/hostdev.json" "$HOSTDEV"
    HD_NS=""
    check "$IP" link show dev "$HD_DEV"
}

run_bare() {
    local ns=$1
    BK_NS=$ns
    timed move_in /dev/null "$IP" link set dev "$BK_DEV" netns "$ns" name "$IFNAME"
    timed move_out /dev/null "$IP" -n "$ns" link set dev "$IFNAME" netns "$HOST_NS" name "$BK_DEV"
    BK_NS=""
    check "$IP" link show dev "$BK_DEV"
}

# Process start-up alone: both plugins' VERSION, /bin/true, and the static IPAM plugin's ADD
# (which both plugins run as a child on ADD; it touches no namespace).
run_spawn() {
    local order=(vfwire hostdev floor ipam) i
    for (( i = 0; i < 4; i++ )); do
        unset CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
        export CNI_COMMAND=VERSION
        case ${order[(i + ROUND) % 4]} in
            vfwire)  timed vfwire_version  "$TMP/version.json" "$VFWIRE" ;;
            hostdev) timed hostdev_version "$TMP/version.json" "$HOSTDEV" ;;
            floor)   timed exec_floor      "$TMP/version.json" "$TRUE" ;;
            ipam)    cni_env ADD "bench-$SUF-$ROUND" "/run/netns/$1"
                     timed ipam_add "$TMP/vfwire.json" "$CNI_DIR/static" ;;
        esac
    done
    unset CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
}

one_round() {
    local base=vfb-$SUF-$ROUND ns_vf ns_hd ns_bk i k
    ns_vf=$base-vf ns_hd=$base-hd ns_bk=$base-bk
    for k in "$ns_vf" "$ns_hd" "$ns_bk"; do
        LIVE_NS[$k]=1      # first: a signal may land right after the add
        "$IP" netns add "$k" || die "ip netns add $k failed"
    done
    local order=(vfwire hostdev bare spawn)
    for (( i = 0; i < 4; i++ )); do
        case ${order[(i + ROUND) % 4]} in
            vfwire)  run_vfwire "$ns_vf" ;;
            hostdev) run_hostdev "$ns_hd" ;;
            bare)    run_bare "$ns_bk" ;;
            spawn)   run_spawn "$ns_vf" ;;
        esac
    done
    for k in "$ns_vf" "$ns_hd" "$ns_bk"; do
        "$IP" netns del "$k" 2>/dev/null
        unset "LIVE_NS[$k]"
    done
}

calc() { awk "BEGIN { printf \"$1\", $2 }"; }

progress() {
    if [ -t 2 ]; then printf '\rbench: %s %d/%d ' "$1" "$2" "$3" >&2
    elif (( $2 == $3 || $2 % 10 == 0 )); then printf 'bench: %s %d/%d\n' "$1" "$2" "$3" >&2; fi
}

# Machine noise: load, and CPU time taken by others (steal, on a VM) over the run.
cpu_jiffies() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6, $9 }' /proc/stat; }
records() { local n=(/run/vfwire/alloc/*); [ -e "${n[0]}" ] && echo ${#n[@]} || echo 0; }
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
read -r CPU_T0 CPU_I0 CPU_S0 < <(cpu_jiffies)
RECORDS_BEFORE=$(records)
START=$EPOCHREALTIME
for (( ROUND = 1; ROUND <= WARMUP; ROUND++ )); do one_round; progress warm-up "$ROUND" "$WARMUP"; done
RECORD=1
for (( ROUND = 1; ROUND <= ROUNDS; ROUND++ )); do one_round; progress round "$ROUND" "$ROUNDS"; done
[ -t 2 ] && printf '\n' >&2
ELAPSED=$(( (${EPOCHREALTIME/./} - ${START/./}) / 1000 ))
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
read -r CPU_T1 CPU_I1 CPU_S1 < <(cpu_jiffies)
RECORDS_AFTER=$(records)
CPU_BUSY=$(calc "%.0f" "100 * (1 - ($CPU_I1 - $CPU_I0) / ($CPU_T1 - $CPU_T0 + 0.001))" 2>/dev/null)
CPU_STEAL=$(calc "%.0f" "100 * ($CPU_S1 - $CPU_S0) / ($CPU_T1 - $CPU_T0 + 0.001)" 2>/dev/null)

# ---------------------------------------------------------------------------------------------
# Figures

declare -A MED=() P10=() P90=()
for s in "${!SAMPLES[@]}"; do
    read -r "MED[$s]" "P10[$s]" "P90[$s]" < <(
        printf '%s\n' ${SAMPLES[$s]} | sort -n | awk '
            { v[NR] = $1 / 1000 }
            function q(p,   pos, lo) { pos = (NR - 1) * p + 1; lo = int(pos)
                                      return lo >= NR ? v[NR] : v[lo] + (pos - lo) * (v[lo + 1] - v[lo]) }
            END { printf "%.3f %.3f %.3f\n", q(0.5), q(0.1), q(0.9) }')
done

# Median of per-round differences A - B (both measured in the same round).
paired() {
    local a=($1) b=($2) i
    for (( i = 0; i < ${#a[@]}; i++ )); do echo $(( a[i] - b[i] )); done | sort -n | awk '
        { v[NR] = $1 / 1000 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%+.2f\n", m }'
}
human_size() { calc "%.1f" "$1 / 1048576"; }
describe() {  # describe PATH
    local size sum
    size=$(stat -c %s "$1"); sum=$(sha256sum "$1" | cut -c1-12)
    printf '%s  (%s bytes, %s MiB, sha256 %s)' "$1" "$size" "$(human_size "$size")" "$sum"
}

row() { printf '  %-28s %9.2f %9.2f %9.2f\n' "$1" "${MED[$2]}" "${P10[$2]}" "${P90[$2]}"; }

ADD_RATIO=$(calc "%.2f" "${MED[vfwire_add]} / ${MED[hostdev_add]}")
DEL_RATIO=$(calc "%.2f" "${MED[vfwire_del]} / ${MED[hostdev_del]}")
VER_RATIO=$(calc "%.2f" "${MED[vfwire_version]} / ${MED[hostdev_version]}")
OVERHEAD=$(calc "%+.2f" "${MED[vfwire_add]} - ${MED[move_in]}")
HD_OVERHEAD=$(calc "%+.2f" "${MED[hostdev_add]} - ${MED[move_in]}")
DEL_OVERHEAD=$(calc "%+.2f" "${MED[vfwire_del]} - ${MED[move_out]}")
HD_DEL_OVERHEAD=$(calc "%+.2f" "${MED[hostdev_del]} - ${MED[move_out]}")
OWN=$(calc "%+.2f" "${MED[vfwire_add_noipam]} - ${MED[move_in]}")
OWN_DEL=$(calc "%+.2f" "${MED[vfwire_del_noipam]} - ${MED[move_out]}")
HD_OWN=$(calc "%+.2f" "${MED[hostdev_add]} - ${MED[move_in]} - ${MED[ipam_add]}")

swift_linkage() {
    if ldd "$1" 2>/dev/null | grep -q 'libswift'; then echo "Swift runtime: shared"; else echo "Swift runtime: static"; fi
}
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit+="+dirty"

echo "vfwire benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  host         $(uname -r), $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "  run          $ROUNDS rounds + $WARMUP warm-up in $(calc "%.1f" "$ELAPSED / 1000") s; load $LOAD_BEFORE before, $LOAD_AFTER after"
echo "               all CPUs ${CPU_BUSY}% busy during the run (this included), ${CPU_STEAL}% stolen by the hypervisor"
echo "  vfwire state $RECORDS_BEFORE allocation records in /run/vfwire/alloc before, $RECORDS_AFTER after (others' attachments; ADD reads them)"
echo "  vfwire       $(describe "$VFWIRE")"
echo "               $(swift_linkage "$VFWIRE"); $BUILT; repo $commit"
echo "  host-device  $(describe "$HOSTDEV")"
echo "               containernetworking-plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo '?')"
echo "  ip           $(describe "$(readlink -f "$IP")")  ($("$IP" -V 2>/dev/null | head -1))"
echo "  clock        bash EPOCHREALTIME around fork+exec+wait; every figure includes process start-up"
echo
printf '  %-28s %9s %9s %9s   (ms, n=%d each)\n' "" median p10 p90 "$ROUNDS"
row "vfwire ADD"                 vfwire_add
row "host-device ADD"            hostdev_add
row "bare move in  (ip link)"    move_in
row "vfwire ADD, no IPAM"        vfwire_add_noipam
row "vfwire DEL"                 vfwire_del
row "vfwire DEL, no IPAM"        vfwire_del_noipam
row "host-device DEL"            hostdev_del
row "bare move out (ip -n link)" move_out
row "vfwire VERSION"             vfwire_version
row "host-device VERSION"        hostdev_version
row "exec floor (/bin/true)"     exec_floor
row "static IPAM ADD alone"      ipam_add
echo
fig() { printf '  %-42s %s\n' "$1" "$2"; }
fig "vfwire ADD / host-device ADD"          "${ADD_RATIO}x"
fig "vfwire DEL / host-device DEL"          "${DEL_RATIO}x"
fig "vfwire VERSION / host-device VERSION"  "${VER_RATIO}x"
fig "vfwire ADD - bare move in"             "${OVERHEAD} ms   (goal <= 3 ms; median of per-round differences $(paired "${SAMPLES[vfwire_add]}" "${SAMPLES[move_in]}") ms)"
fig "host-device ADD - bare move in"        "${HD_OVERHEAD} ms"
fig "vfwire ADD, no IPAM - bare move in"    "${OWN} ms   (vfwire's own overhead: it runs IPAM during the move)"
fig "vfwire DEL, no IPAM - bare move out"   "${OWN_DEL} ms"
fig "host-device ADD - bare move in - static" "${HD_OWN} ms   (host-device runs IPAM before the move)"
fig "vfwire DEL - bare move out"            "${DEL_OVERHEAD} ms"
fig "host-device DEL - bare move out"       "${HD_DEL_OVERHEAD} ms"
[ -n "$RAW" ] && fig "raw samples" "$RAW"
echo
printf 'SUMMARY: %d rounds; vfwire ADD %.2f ms (%sx host-device), DEL %.2f ms (%sx); ADD over bare move-in %s ms, without IPAM %s ms (goal <= 3); VERSION %sx; vfwire binary %s MiB\n' \
    "$ROUNDS" "${MED[vfwire_add]}" "$ADD_RATIO" "${MED[vfwire_del]}" "$DEL_RATIO" "$OVERHEAD" "$OWN" "$VER_RATIO" \
    "$(human_size "$(stat -c %s "$VFWIRE")")"
