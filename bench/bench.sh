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
# Every round runs eight units, in an order that changes every round (see Measurement):
#   vfwire          ADD, DEL    an emulated PF with one VF (`vfwirectl sim create`), static IPAM
#   vfwire_noipam   ADD, DEL    the same without IPAM (vfwire runs IPAM during the move, so its
#                               own overhead shows only without it)
#   hostdev         ADD, DEL    the reference plugin, on a veth made for it
#   bare            in, out     `ip link set dev X netns NS name net1 up`, one request as vfwire's
#                               move is, and back with `ip -n NS`
# The three move netdevs of one shape, so they pay the kernel the same: an emulated VF is a
# veth whose peer is up in the PF's bridge, and the veths of hostdev and bare have their peers
# up in a bridge of their own. (With peers down, host-device's ADD and DEL skip the carrier
# change and the bridge port's state change that vfwire's pay.)
#   vfwire_version, hostdev_version, floor (/bin/true: the cost of starting any process from
#   here), ipam (the static IPAM plugin's ADD alone; both plugins run it on ADD)
# Each in its own netns, created before the round's timing and deleted after it. Each figure
# includes process start-up: a runtime pays it too.
#
# It prints every subject's median with a 95% confidence interval, and the issue's goals as
# medians of per-round paired ratios or differences, each with its interval and a verdict:
# met, MISSED, or STRADDLES (the interval holds the goal, so this run cannot tell).
#
# Environment:
#   VFWIRE_BENCH_ROUNDS       rounds (default 96, a multiple of 32 so the order balances; ROUNDS wins)
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

ROUNDS=${VFWIRE_BENCH_ROUNDS:-96}
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
(( ROUNDS >= 32 )) || printf 'bench: %d rounds: below 32 the order is not balanced and intervals are wide\n' "$ROUNDS" >&2

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
BR=vbb$SUF                 # holds both peers, up, as the emulated PF's bridge holds its VFs' peers
IFNAME=net1                # the name inside the namespace, for all three
HOST_NS=/proc/$$/ns/net    # where the netdevs come home to: this script's namespace
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vfwire-bench.XXXXXX") || die "mktemp failed"
OUT=$TMP/out ERR=$TMP/err

declare -A LIVE_NS=()      # netns names to delete
SIM_MADE=0 HD_MADE=0 BK_MADE=0 BR_MADE=0
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
    (( BR_MADE )) && "$IP" link del "$BR" 2>/dev/null
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

for n in "$PF" "$HD_DEV" "${HD_DEV}p" "$BK_DEV" "${BK_DEV}p" "$BR"; do
    [ ! -e "/sys/class/net/$n" ] || die "a netdev named $n exists already; run again"
done
# Each flag goes up before its make, so a signal in between still cleans up.
SIM_MADE=1
"$VFWIRECTL" sim create "$PF" --vfs 1 >"$OUT" 2>"$ERR" || die "vfwirectl sim create $PF failed: $(cat "$ERR")"
VF_DEV=$("$VFWIRECTL" vf show "$PF" | awk '$1 == "vf" && $2 == 0 { print $4 }')
[ -n "$VF_DEV" ] && [ "$VF_DEV" != - ] || die "cannot find the sim PF's VF netdev"
BR_MADE=1
{ "$IP" link add "$BR" type bridge && "$IP" link set "$BR" up; } || die "cannot create bridge $BR"
HD_MADE=1
"$IP" link add "$HD_DEV" type veth peer name "${HD_DEV}p" || die "cannot create veth $HD_DEV"
"$IP" link set "${HD_DEV}p" master "$BR" up || die "cannot attach ${HD_DEV}p to $BR"
BK_MADE=1
"$IP" link add "$BK_DEV" type veth peer name "${BK_DEV}p" || die "cannot create veth $BK_DEV"
"$IP" link set "${BK_DEV}p" master "$BR" up || die "cannot attach ${BK_DEV}p to $BR"

IPAM='"ipam":{"type":"static","addresses":[{"address":"198.18.200.1/24"}]}'
printf '{"cniVersion":"1.0.0","name":"bench","type":"vfwire","pf":"%s",%s}\n' "$PF" "$IPAM" >"$TMP/vfwire.json"
# vfwire runs IPAM during the netns move, so its own overhead is measured without IPAM.
printf '{"cniVersion":"1.0.0","name":"bench","type":"vfwire","pf":"%s"}\n' "$PF" >"$TMP/vfwire-noipam.json"
printf '{"cniVersion":"1.0.0","name":"bench","type":"host-device","device":"%s",%s}\n' "$HD_DEV" "$IPAM" >"$TMP/hostdev.json"
printf '{"cniVersion":"1.0.0"}\n' >"$TMP/version.json"

# ---------------------------------------------------------------------------------------------
# Measurement
#
# Eight units, each one or two timed calls that must run together (an ADD and the DEL that
# undoes it). Every round runs all eight in an order that changes every round: position p of
# round r runs unit (p * step + r) mod 8, with step 1, 3, 5, 7 in turn every 8 rounds. So over
# 32 rounds every unit runs in every position 4 times, and after a different neighbour each
# time: a unit that heats the page cache, the CPU or the kernel's RCU state for the next one
# does not always help (or hurt) the same one.

UNITS=(vfwire vfwire_noipam hostdev bare vfwire_version hostdev_version floor ipam)
NUNITS=${#UNITS[@]}
STEPS=(1 3 5 7)

declare -A SAMPLES=()      # subject -> space-separated microseconds, one per round, in round order
RECORD=0                   # 0 during warm-up
ROUND=0
POS=0
[ -n "$RAW" ] && { printf 'round,position,subject,us\n' >"$RAW" || die "cannot write $RAW"; }

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
        [ -n "$RAW" ] && printf '%d,%d,%s,%d\n' "$ROUND" "$POS" "$subject" "$us" >>"$RAW"
    fi
    return 0
}

check() { "$@" >/dev/null 2>&1 || die "round $ROUND: sanity check failed: $*"; }
has_addr() { [[ $("$IP" -n "$1" -o addr show dev "$IFNAME" 2>/dev/null) == *" 198.18.200.1/24 "* ]]; }

run_vfwire() {  # run_vfwire NS CONF SUFFIX: an ADD and its DEL, with or without IPAM
    local ns=$1 conf=$2 sfx=$3 cid=bench-$SUF-$ROUND
    cni_env ADD "$cid" "/run/netns/$ns"
    VF_NS=$ns VF_CID=$cid
    timed "vfwire_add$sfx" "$conf" "$VFWIRE"
    if [ -z "$sfx" ]; then check has_addr "$ns"; else check "$IP" -n "$ns" link show dev "$IFNAME"; fi
    check test ! -e "/sys/class/net/$VF_DEV"
    cni_env DEL "$cid" "/run/netns/$ns"
    timed "vfwire_del$sfx" "$conf" "$VFWIRE"
    VF_NS=""
    check "$IP" link show dev "$VF_DEV"
    check test -z "$("$IP" -n "$ns" -o link show dev "$IFNAME" 2>/dev/null)"
    unset CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
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
    unset CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
}

run_bare() {
    local ns=$1
    BK_NS=$ns
    timed move_in /dev/null "$IP" link set dev "$BK_DEV" netns "$ns" name "$IFNAME" up
    timed move_out /dev/null "$IP" -n "$ns" link set dev "$IFNAME" netns "$HOST_NS" name "$BK_DEV"
    BK_NS=""
    check "$IP" link show dev "$BK_DEV"
}

# Process start-up alone: each plugin's VERSION, /bin/true, and the static IPAM plugin's ADD
# (which both plugins run as a child on ADD; it touches no namespace).
run_version() {  # run_version SUBJECT EXE
    export CNI_COMMAND=VERSION
    timed "$1" "$TMP/version.json" "$2"
    unset CNI_COMMAND
}
run_ipam() {
    cni_env ADD "bench-$SUF-$ROUND" "/run/netns/$1"
    timed ipam_add "$TMP/vfwire.json" "$CNI_DIR/static"
    unset CNI_COMMAND CNI_CONTAINERID CNI_NETNS CNI_IFNAME CNI_PATH
}

unit_order() {  # unit_order ROUND: the units' indices in this round's order
    local r=$1 step p
    step=${STEPS[$(( (r / NUNITS) % ${#STEPS[@]} ))]}
    for (( p = 0; p < NUNITS; p++ )); do printf '%d ' $(( (p * step + r) % NUNITS )); done
}

one_round() {
    local base=vfb-$SUF-$ROUND ns_vf ns_hd ns_bk u k
    ns_vf=$base-vf ns_hd=$base-hd ns_bk=$base-bk
    for k in "$ns_vf" "$ns_hd" "$ns_bk"; do
        LIVE_NS[$k]=1      # first: a signal may land right after the add
        "$IP" netns add "$k" || die "ip netns add $k failed"
    done
    POS=0
    for u in $(unit_order "$ROUND"); do
        case ${UNITS[$u]} in
            vfwire)          run_vfwire "$ns_vf" "$TMP/vfwire.json" "" ;;
            vfwire_noipam)   run_vfwire "$ns_vf" "$TMP/vfwire-noipam.json" _noipam ;;
            hostdev)         run_hostdev "$ns_hd" ;;
            bare)            run_bare "$ns_bk" ;;
            vfwire_version)  run_version vfwire_version "$VFWIRE" ;;
            hostdev_version) run_version hostdev_version "$HOSTDEV" ;;
            floor)           run_version exec_floor "$TRUE" ;;
            ipam)            run_ipam "$ns_vf" ;;
        esac
        POS=$(( POS + 1 ))
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
#
# Every figure is a median with a 95% confidence interval that assumes nothing about the
# distribution: the order statistics of ranks n/2 -/+ 0.98 sqrt(n) (the binomial interval for
# the median). A comparison (a ratio, a difference) is the median of the per-round values,
# each computed from the two subjects of one round, so noise that lasts a round cancels.

# stats: reads numbers, one a line; prints "median lo hi".
stats() {
    sort -g | awk '{ v[NR] = $1 }
        function q(p,   pos, lo) { pos = (NR - 1) * p + 1; lo = int(pos)
                                  return lo >= NR ? v[NR] : v[lo] + (pos - lo) * (v[lo + 1] - v[lo]) }
        END { h = 0.98 * sqrt(NR); lo = int(NR / 2 - h); hi = int(NR / 2 + 1 + h + 0.999)
              if (lo < 1) lo = 1; if (hi > NR) hi = NR
              printf "%.4f %.4f %.4f\n", q(0.5), v[lo], v[hi] }'
}
# paired OP A B: per-round A - B (ms) or A / B; prints "median lo hi".
paired() {
    local a=(${SAMPLES[$2]}) b=(${SAMPLES[$3]}) i
    for (( i = 0; i < ${#a[@]}; i++ )); do echo "${a[i]} ${b[i]}"; done |
        awk -v op="$1" '{ print (op == "-" ? ($1 - $2) / 1000 : $1 / $2) }' | stats
}
declare -A MED=() LO=() HI=()
for s in "${!SAMPLES[@]}"; do
    read -r "MED[$s]" "LO[$s]" "HI[$s]" < <(printf '%s\n' ${SAMPLES[$s]} | awk '{ print $1 / 1000 }' | stats)
done

human_size() { calc "%.1f" "$1 / 1048576"; }
describe() {  # describe PATH
    local size sum
    size=$(stat -c %s "$1"); sum=$(sha256sum "$1" | cut -c1-12)
    printf '%s  (%s bytes, %s MiB, sha256 %s)' "$1" "$size" "$(human_size "$size")" "$sum"
}
swift_linkage() {
    if ldd "$1" 2>/dev/null | grep -q 'libswift'; then echo "Swift runtime: shared"; else echo "Swift runtime: static"; fi
}
commit=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(git -C "$REPO" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit+="+dirty"
# The plugin as install.sh installs it: stripped.
STRIPPED=$TMP/vfwire.stripped
strip -o "$STRIPPED" "$VFWIRE" 2>/dev/null || cp "$VFWIRE" "$STRIPPED"
STRIPPED_SIZE=$(stat -c %s "$STRIPPED")

echo "vfwire benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "  host         $(uname -r), $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
echo "  run          $ROUNDS rounds + $WARMUP warm-up in $(calc "%.1f" "$ELAPSED / 1000") s; load $LOAD_BEFORE before, $LOAD_AFTER after"
echo "               all CPUs ${CPU_BUSY}% busy during the run (this included), ${CPU_STEAL}% stolen by the hypervisor"
echo "               $NUNITS units, order rotated every round (each unit in each position equally often every 32 rounds)"
echo "  vfwire state $RECORDS_BEFORE allocation records in /run/vfwire/alloc before, $RECORDS_AFTER after (others' attachments; ADD reads them)"
echo "  vfwire       $(describe "$VFWIRE")"
echo "               stripped $STRIPPED_SIZE bytes, $(human_size "$STRIPPED_SIZE") MiB; $(swift_linkage "$VFWIRE"); $BUILT; repo $commit"
echo "  host-device  $(describe "$HOSTDEV")"
echo "               containernetworking-plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo '?')"
echo "  ip           $(describe "$(readlink -f "$IP")")  ($("$IP" -V 2>/dev/null | head -1))"
echo "  clock        bash EPOCHREALTIME around fork+exec+wait; every figure includes process start-up"
echo
printf '  %-30s %9s   %-19s  (ms, n=%d each)\n' "" median "95% CI" "$ROUNDS"
row() { printf '  %-30s %9.2f   [%7.2f, %7.2f]\n' "$1" "${MED[$2]}" "${LO[$2]}" "${HI[$2]}"; }
row "vfwire ADD"                 vfwire_add
row "vfwire ADD, no IPAM"        vfwire_add_noipam
row "host-device ADD"            hostdev_add
row "bare move in  (ip link)"    move_in
row "vfwire DEL"                 vfwire_del
row "vfwire DEL, no IPAM"        vfwire_del_noipam
row "host-device DEL"            hostdev_del
row "bare move out (ip -n link)" move_out
row "vfwire VERSION"             vfwire_version
row "host-device VERSION"        hostdev_version
row "exec floor (/bin/true)"     exec_floor
row "static IPAM ADD alone"      ipam_add
echo

# goal NAME UNIT GOAL "median lo hi" [NOTE]: the figure, its interval and the verdict against
# "<= GOAL": met (the whole interval is at or below it), MISSED (the whole interval is above
# it), or STRADDLES (the interval holds the goal: this run cannot tell).
NMET=0 NMISS=0 NSTRAD=0
goal() {
    local name=$1 unit=$2 g=$3 m lo hi verdict fmt
    read -r m lo hi <<<"$4"
    if awk -v h="$hi" -v g="$g" 'BEGIN { exit !(h <= g) }'; then verdict=met; NMET=$((NMET + 1))
    elif awk -v l="$lo" -v g="$g" 'BEGIN { exit !(l > g) }'; then verdict=MISSED; NMISS=$((NMISS + 1))
    else verdict=STRADDLES; NSTRAD=$((NSTRAD + 1)); fi
    if [ "$unit" = x ]; then fmt='  %-44s %7.3fx  [%6.3f, %6.3f]  goal <= %s%s  %s\n'
    else fmt='  %-44s %+7.2f   [%+6.2f, %+6.2f]  goal <= %s%s  %s\n'; fi
    printf "$fmt" "$name" "$m" "$lo" "$hi" "$g" "$unit" "$verdict"
    [ -n "${5:-}" ] && printf '  %-44s %s\n' "" "$5"
    return 0
}
info() {  # info NAME UNIT "median lo hi"
    local m lo hi
    read -r m lo hi <<<"$3"
    if [ "$2" = x ]; then printf '  %-44s %7.3fx  [%6.3f, %6.3f]\n' "$1" "$m" "$lo" "$hi"
    else printf '  %-44s %+7.2f   [%+6.2f, %+6.2f]\n' "$1" "$m" "$lo" "$hi"; fi
}
echo "  Goals (per-round paired medians, 95% CI):"
ADD_R=$(paired / vfwire_add hostdev_add)
IPAM_D=$(paired - vfwire_add vfwire_add_noipam)
OWN_D=$(paired - vfwire_add_noipam move_in)
DEL_R=$(paired / vfwire_del hostdev_del)
VER_D=$(paired - vfwire_version exec_floor)
goal "vfwire ADD / host-device ADD"            x   0.85 "$ADD_R"
goal "vfwire ADD - ADD without IPAM"           " ms" 1  "$IPAM_D" "(IPAM inside ADD; static IPAM alone: $(calc "%.2f" "${MED[ipam_add]}") ms)"
goal "vfwire ADD without IPAM - bare move in"  " ms" 1  "$OWN_D"  "(vfwire's own overhead)"
goal "vfwire DEL / host-device DEL"            x   1.0  "$DEL_R"
goal "vfwire VERSION - exec floor"             " ms" 0.5 "$VER_D"
SIZE_MIB=$(calc "%.2f" "$STRIPPED_SIZE / 1048576")
if (( STRIPPED_SIZE <= 8 * 1048576 )); then SV=met; NMET=$((NMET + 1)); else SV=MISSED; NMISS=$((NMISS + 1)); fi
printf '  %-44s %7.2f MiB                  goal <= 8 MiB  %s\n' "vfwire binary, stripped" "$SIZE_MIB" "$SV"
echo
echo "  Context (per-round paired medians, 95% CI):"
info "vfwire ADD - bare move in"               " ms" "$(paired - vfwire_add move_in)"
info "host-device ADD - bare move in"          " ms" "$(paired - hostdev_add move_in)"
info "vfwire ADD - host-device ADD"            " ms" "$(paired - vfwire_add hostdev_add)"
info "vfwire DEL - host-device DEL"            " ms" "$(paired - vfwire_del hostdev_del)"
info "vfwire DEL - bare move out"              " ms" "$(paired - vfwire_del move_out)"
info "vfwire DEL without IPAM - bare move out" " ms" "$(paired - vfwire_del_noipam move_out)"
info "host-device DEL - bare move out"         " ms" "$(paired - hostdev_del move_out)"
info "static IPAM ADD - exec floor"            " ms" "$(paired - ipam_add exec_floor)"
info "host-device VERSION - exec floor"        " ms" "$(paired - hostdev_version exec_floor)"
info "vfwire VERSION / host-device VERSION"    x     "$(paired / vfwire_version hostdev_version)"
[ -n "$RAW" ] && printf '  %-44s %s\n' "raw samples" "$RAW"
echo
fmt3() { local m lo hi; read -r m lo hi <<<"$2"; printf "$1 [$1, $1]" "$m" "$lo" "$hi"; }
printf 'SUMMARY: %d rounds, load %s; ADD %sx host-device; IPAM inside ADD %s ms; own overhead %s ms; DEL %sx; VERSION - floor %s ms; stripped %s MiB; goals: %d met, %d straddle, %d missed\n' \
    "$ROUNDS" "$LOAD_BEFORE" "$(fmt3 %.3f "$ADD_R")" "$(fmt3 %+.2f "$IPAM_D")" "$(fmt3 %+.2f "$OWN_D")" "$(fmt3 %.3f "$DEL_R")" \
    "$(fmt3 %+.2f "$VER_D")" "$SIZE_MIB" "$NMET" "$NSTRAD" "$NMISS"
