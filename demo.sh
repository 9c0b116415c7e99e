#!/bin/bash
# The main job on a machine without an SR-IOV NIC: an emulated PF with three VFs, three test
# hosts (network namespaces), two on VLAN 100 and one on VLAN 200, attached by the installed
# vfwire plugin exactly as a runtime would. The two on VLAN 100 talk; the third cannot reach
# them. Everything is torn down again at the end. Pass a PF name to use a real SR-IOV PF.
set -euo pipefail
PLUGIN=${VFWIRE_PLUGIN:-/opt/cni/bin/vfwire}
CTL=${VFWIRECTL:-/usr/local/sbin/vfwirectl}
pf=${1:-vfdemo0}
made_pf=0
hosts=(vfdemo-a vfdemo-b vfdemo-c)
vlans=(100 100 200)
addrs=(198.18.50.1/24 198.18.50.2/24 198.18.50.3/24)

# Everything the demo needs, each with the fix, checked before anything is set up.
die() { echo "demo.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it creates network namespaces and an emulated PF)"
for tool in ip:iproute2 jq:jq ping:iputils-ping; do
  command -v "${tool%%:*}" >/dev/null || die "${tool%%:*} not found: apt-get install ${tool#*:} (./install.sh installs it)"
done
[ -x "$PLUGIN" ] || die "$PLUGIN not found: run ./install.sh (or set VFWIRE_PLUGIN)"
[ -x "$CTL" ] || die "$CTL not found: run ./install.sh (or set VFWIRECTL)"
[ -x /opt/cni/bin/static ] || [ -x /usr/lib/cni/static ] ||
  die "the static IPAM plugin is not in /opt/cni/bin or /usr/lib/cni: apt-get install containernetworking-plugins (./install.sh installs it)"

conf() {
  printf '{"cniVersion":"1.1.0","name":"vfdemo","type":"vfwire","pf":"%s","vlan":%s,"ipam":{"type":"static","addresses":[{"address":"%s"}]}}' "$pf" "$1" "$2"
}
cni() { # COMMAND HOST INDEX
  conf "${vlans[$3]}" "${addrs[$3]}" | CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/$2 \
    CNI_IFNAME=eth1 CNI_PATH=/opt/cni/bin:/usr/lib/cni "$PLUGIN"
}
cleanup() {
  for i in 0 1 2; do cni DEL "${hosts[$i]}" $i >/dev/null 2>&1 || true; ip netns del "${hosts[$i]}" 2>/dev/null || true; done
  [ $made_pf = 1 ] && "$CTL" sim destroy "$pf"
  return 0
}
trap cleanup EXIT

if [ -z "${1:-}" ]; then
  "$CTL" sim destroy "$pf" 2>/dev/null || true
  "$CTL" sim create "$pf" --vfs 3 >/dev/null
  made_pf=1
  echo "emulated SR-IOV PF $pf with 3 VFs"
fi
for i in 0 1 2; do
  ip netns del "${hosts[$i]}" 2>/dev/null || true
  ip netns add "${hosts[$i]}"
  printf '%s  VLAN %s  %s  ' "${hosts[$i]}" "${vlans[$i]}" "${addrs[$i]}"
  cni ADD "${hosts[$i]}" $i | jq -c '{vf: .interfaces[0].pciID, mac: .interfaces[0].mac}'
done
"$CTL" vf show "$pf" 2>/dev/null || true

ping1() { ip netns exec "$1" ping -c 3 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }
# The isolation check means something only once the same probe (ping from vfdemo-a) gets an
# answer where it must, and vfdemo-c holds the address it is probed on.
ok=1
if ping1 vfdemo-a 198.18.50.2; then
  echo "vfdemo-a -> vfdemo-b (same VLAN):  reachable"
  c_addrs=$(ip -n vfdemo-c -o addr show dev eth1 2>&1 || true)
  if [[ $c_addrs != *"inet ${addrs[2]} "* ]]; then
    echo "vfdemo-a -> vfdemo-c (other VLAN): NOT CHECKED: vfdemo-c has no ${addrs[2]} on eth1"; ok=0
  elif ping1 vfdemo-a 198.18.50.3; then
    echo "vfdemo-a -> vfdemo-c (other VLAN): REACHABLE (wrong)"; ok=0
  else
    echo "vfdemo-a -> vfdemo-c (other VLAN): isolated"
  fi
else
  echo "vfdemo-a -> vfdemo-b (same VLAN):  UNREACHABLE (wrong); isolation of vfdemo-c not checked"; ok=0
fi
[ $ok = 1 ] && echo "demo: OK" || { echo "demo: FAILED"; exit 1; }
