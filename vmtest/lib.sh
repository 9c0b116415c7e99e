# Shared by the VM tier's scripts (tests.sh, wire.sh, twohosts.sh), sourced after they set BIN:
# the pass/fail tally, checks, probes, and the CNI plugin run by hand on the PF named by $PF.
VFW=$BIN/vfwire
CTL=$BIN/vfwirectl
CNI_DIR=/usr/lib/cni
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
# section TITLE: a header with the seconds since the start, to see where the tier's time goes.
section() { echo "== $* (at ${SECONDS}s)"; }
# expect WHAT COMMAND...: the command must succeed.
expect() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# same WHAT A B: two strings must be equal.
same() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1"; printf '  got:  %s\n  want: %s\n' "$2" "$3"; fi; }
has() { case "$2" in *"$3"*) ok "$1" ;; *) bad "$1: '$3' not in: $2" ;; esac; }
# finish: the plain closing line "N passed, M failed", and the status to exit with.
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; }
# reach NETNS ADDRESS [TRIES]: pings until one answers, for up to TRIES (20) s. Under TCG a VF's link
# can take seconds to come up after its move, and the first ARP may go unanswered.
reach() { local _; for _ in $(seq "${3:-20}"); do ip netns exec "$1" busybox ping -c 1 -W 1 "$2" >/dev/null 2>&1 && return 0; done; return 1; }
# probe NETNS ADDRESS: one try of 2 pings. A negative check uses it only after it succeeded elsewhere.
probe() { ip netns exec "$1" busybox ping -c 2 -W 1 "$2" >/dev/null 2>&1; }
carrier() { for _ in $(seq 100); do [ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" = 1 ] && return 0; sleep 0.1; done; return 1; }

cni() { # COMMAND NETNS CONF [IFNAME] [CONTAINERID]
  echo "$3" | CNI_COMMAND=$1 CNI_CONTAINERID=${5:-c-$2} CNI_NETNS=${2:+/run/netns/$2} CNI_IFNAME=${4:-net1} \
    CNI_PATH=$CNI_DIR "$VFW"
}
conf() { printf '{"cniVersion":"1.1.0","name":"vm","type":"vfwire","pf":"%s"%s}' "$PF" "${1:+,$1}"; }
# link_add NETNS VLAN ADDRESS: a kernel-mode VF on VLAN with ADDRESS/24; fails unless ADD gave it
# that address (so that a later "cannot reach" means isolation, not a missing attachment).
link_add() {
  local r; r=$(cni ADD "$1" "$(conf "\"vlan\":$2,\"ipam\":{\"type\":\"static\",\"addresses\":[{\"address\":\"$3/24\"}]}")") || { echo "$r"; return 1; }
  [ "$(echo "$r" | jq -r '.ips[0].address')" = "$3/24" ] || { echo "$r"; return 1; }
}
# topo ARGS...: vfwirectl topo with the binaries under test and the reference plugins.
topo() { VFWIRE_CNI_PATH=$BIN:$CNI_DIR VFWIRE_TOPO_STATE=/tmp/topo "$CTL" topo "$@"; }

# pf_up MAC NAME VFS: the igb PF with MAC (an extra NIC of run-in-vm.sh's VM_EXTRA_NICS) renamed to
# NAME, so a topology file names it the same on every VM, up with VFS VFs. Each VF netdev is
# brought up once: igb's table then lists the MAC igbvf programmed, as it does after a DEL, so a
# table read now compares with one read after teardown.
pf_up() {
  local d dev i
  for d in /sys/class/net/*; do [ "$(cat "$d/address")" = "$1" ] && dev=$(basename "$d"); done
  [ -n "${dev:-}" ] || { echo "no NIC with MAC $1"; return 1; }
  ip link set "$dev" down && ip link set "$dev" name "$2" && ip link set "$2" up && carrier "$2" || return 1
  echo "$3" > "/sys/class/net/$2/device/sriov_numvfs"
  sleep 0.5
  carrier "$2" || { echo "$2 has no carrier"; return 1; }
  for i in $(seq 0 $(($3 - 1))); do
    for _ in $(seq 50); do dev=$(ls "/sys/class/net/$2/device/virtfn$i/net" 2>/dev/null) && [ -n "$dev" ] && break; sleep 0.1; done
    ip link set "$dev" up && ip link set "$dev" down || return 1
  done
}
# vftable PF: the VF table as `ip link show PF` lists it, one VF a line: MAC and VLAN (0 = none).
vftable() { ip -j link show "$1" | jq -r '.[0].vfinfo_list[] | "vf \(.vf) \(.address) vlan \(.vlan_list[0].vlan // 0)"'; }
# vfstats PF: the per-VF counters igb reports through the PF (IFLA_VF_STATS).
vfstats() { ip -j -s link show "$1" | jq -r '.[0].vfinfo_list[] | "vf \(.vf) rx \(.stats.rx.packets) tx \(.stats.tx.tx_packets)"'; }
# packets NETNS IFNAME rx|tx: a netdev's packet counter.
packets() { ip -n "$1" -j -s link show "$2" | jq -r ".[0].stats64.$3.packets"; }
