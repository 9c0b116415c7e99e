#!/bin/bash
# The VM tier's cable: runs inside a VM of run-in-vm.sh with two extra igb PFs cabled back to back
# by a QEMU hub (run.sh: VM_EXTRA_NICS="hub:7@52:54:00:76:00:01 hub:7@52:54:00:76:00:02"), as a
# testbed's two NICs whose ports are joined by a cable. A link whose two VFs sit on different PFs
# can only be carried by that cable. Usage: wire.sh BIN_DIR [REPO]. Ends with "N passed, M failed".
set -u
BIN=${1:?usage: wire.sh BIN_DIR [REPO]}
REPO=${2:-$(dirname "$(readlink -f "$0")")/..}
. "$REPO/vmtest/lib.sh"
P1=vwpf1 P2=vwpf2
pf_up 52:54:00:76:00:01 $P1 3 && pf_up 52:54:00:76:00:02 $P2 3 || { bad "the cabled PFs come up"; finish; exit; }
tables() { for p in $P1 $P2; do vftable $p | sed "s/^/$p /"; done; }
# Everything that must be as it was after each part: both VF tables, the links, the claims.
snapshot() { tables; ip -br link | grep -v '^lo ' | sort; ls /run/vfwire/alloc 2>/dev/null; }
before=$(snapshot)
echo "$before"
# on_vlan PF VLAN: the VFs of PF whose table entry carries VLAN.
on_vlan() { vftable "$1" | awk -v v="$2" '$5 == v {print $2}' | tr '\n' ' '; }

section "a VF of each PF on VLAN 100: the cable carries them, VLAN 200 stops them"
ip netns add vwa; ip netns add vwb
PF=$P1 expect "ADD a on $P1, VLAN 100" link_add vwa 100 198.18.61.1
PF=$P2 expect "ADD b on $P2, VLAN 100" link_add vwb 100 198.18.61.2
same "VLAN 100 is on one VF of each PF, so only the cable joins them" "$(on_vlan $P1 100)/$(on_vlan $P2 100)" "0 /0 "
expect "a reaches b across the cable" reach vwa 198.18.61.2
expect "the probe works: a to b" probe vwa 198.18.61.2
expect "b's VF moves to VLAN 200" "$CTL" vf set $P2 0 vlan=200
if probe vwa 198.18.61.2; then bad "a must not reach b on VLAN 200"; else ok "a cannot reach b on VLAN 200"; fi
expect "b's VF back on VLAN 100" "$CTL" vf set $P2 0 vlan=100
expect "a reaches b again" reach vwa 198.18.61.2
for h in a b; do cni DEL vw$h "$(PF=$P1 conf)" >/dev/null; ip netns del vw$h; done
same "DELs restore both PFs" "$(snapshot)" "$before"

section "a 3-node line whose links are placed on the wire"
cat > /tmp/vwline.yaml <<YAML
name: vwline
defaults:
  pf: [$P1, $P2]
  pairs: [[$P1, $P2]]
  vlans: 600-699
  addresses: 198.18.91.0/24
nodes:
  a: {}
  b: {}
  c: {}
links:
  - endpoints: ["a:eth1", "b:eth1"]
    placement: wire
  - endpoints: ["b:eth2", "c:eth1"]
    placement: wire
YAML
plan=$(topo plan /tmp/vwline.yaml --json)
same "plan: both links on the wire, each from $P1 to $P2" \
  "$(echo "$plan" | jq -c '[.links[] | [.path, .endpoints[].pf]]')" "[[\"wire\",\"$P1\",\"$P2\"],[\"wire\",\"$P1\",\"$P2\"]]"
expect "topo up" topo up /tmp/vwline.yaml
ns() { echo "vfw-vwline-$1"; }
expect "a reaches b (link 1)" reach "$(ns a)" 198.18.91.2
expect "b reaches c (link 2)" reach "$(ns b)" 198.18.91.6
expect "a reaches c through b" reach "$(ns a)" 198.18.91.6
live=$(topo inspect /tmp/vwline.yaml --json)
same "inspect: each link's ends took VFs of different PFs" \
  "$(echo "$live" | jq -c '[.links[] | [.endpoints[].pf]]')" "[[\"$P1\",\"$P2\"],[\"$P1\",\"$P2\"]]"
same "VLAN 600 is on one VF of each PF" "$(on_vlan $P1 600 | wc -w)/$(on_vlan $P2 600 | wc -w)" "1/1"
same "VLAN 601 is on one VF of each PF" "$(on_vlan $P1 601 | wc -w)/$(on_vlan $P2 601 | wc -w)" "1/1"
tables
# The counters of both ends of link 1 around 20 pings: what a's VF (on $P1) sends, b's VF (on
# $P2) receives. igb's per-VF counters in the PF's table are printed after; QEMU's 82576 leaves
# them at zero, so the VF netdevs' own counters are what is checked.
tx0=$(packets "$(ns a)" eth1 tx) rx0=$(packets "$(ns b)" eth1 rx)
has "20 pings from a to b" "$(ip netns exec "$(ns a)" busybox ping -c 20 -i 0.2 -W 1 198.18.91.2)" "20 packets received"
tx1=$(packets "$(ns a)" eth1 tx) rx1=$(packets "$(ns b)" eth1 rx)
echo "a:eth1 ($P1) sent $((tx1 - tx0)), b:eth1 ($P2) received $((rx1 - rx0))"
expect "a's VF on $P1 sent at least 20" test $((tx1 - tx0)) -ge 20
expect "b's VF on $P2 received at least 20" test $((rx1 - rx0)) -ge 20
echo "igb's per-VF counters:"; vfstats $P1 | sed "s/^/$P1 /"; vfstats $P2 | sed "s/^/$P2 /"
# Links are isolated from each other. a takes link 2's subnet as on-link, so its ARP goes out on
# link 1's VLAN: b answers for its own link-2 address there (Linux answers ARP for any address of
# its own), while c, on link 2's VLAN, must not hear it, neither through $P1's switch (b:eth2's VF
# shares $P1 with a's) nor across the cable.
ip -n "$(ns a)" route replace 198.18.91.4/30 dev eth1
expect "a reaches b's link-2 address on-link (the isolation probe works)" reach "$(ns a)" 198.18.91.5
expect "the probe works: a to b's link-2 address" probe "$(ns a)" 198.18.91.5
if probe "$(ns a)" 198.18.91.6; then bad "a must not reach c on link 2's VLAN"; else ok "a cannot reach c on link 2's VLAN"; fi
expect "topo down" topo down /tmp/vwline.yaml
same "down restores both PFs' VF tables and the host" "$(snapshot)" "$before"

finish
