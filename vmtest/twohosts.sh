#!/bin/bash
# One of two hosts: runs inside one of the two VMs that run-twohosts.sh boots, whose extra igb PFs
# share a QEMU socket as the wire between two servers (the switch trunk of a real testbed). Both
# bring up vmtest/twohosts.yaml, each its own nodes, and meet over the links they share.
# Usage: twohosts.sh BIN_DIR REPO HOST TRUNK_MAC (HOST is h1 or h2). Ends with "N passed, M failed".
set -u
BIN=${1:?usage: twohosts.sh BIN_DIR REPO HOST TRUNK_MAC}
REPO=$2 ME=$3 MAC=$4
. "$REPO/vmtest/lib.sh"
FILE=$REPO/vmtest/twohosts.yaml
PF=vwtrunk
pf_up "$MAC" $PF 4 || { bad "the trunk PF comes up"; finish; exit; }
snapshot() { vftable $PF; ip -br link | grep -v '^lo ' | sort; ls /run/vfwire/alloc 2>/dev/null; }
before=$(snapshot)
ns() { echo "vfw-vw2h-$1"; }
# This host's view of the line a(h1) - b(h2) - c(h1) - d(h2): its end of link 1 (which also
# carries the hosts' "done" messages) and the other host's address there; its end of the line,
# the address at the line's other end, and for the isolation check a link-2 address that the
# other host answers for on this end's link, and this host's own link-2 address, on another VLAN
# of the same PF.
case $ME in
  h1) near=a peer=198.18.92.2 end=a faraddr=198.18.92.10 answered=198.18.92.5 unheard=198.18.92.6 ;;
  h2) near=b peer=198.18.92.1 end=d faraddr=198.18.92.1 answered=198.18.92.6 unheard=198.18.92.5 ;;
  *) echo "HOST is h1 or h2"; exit 2 ;;
esac
# The host runner compares the hashes: the same file plans the same everywhere, with no
# coordination. Without --host, plan would count the other host's ends against this host's PF.
if plan=$(topo plan "$FILE" --host $ME --json); then
  ok "topo plan --host $ME"; echo "plan sha256 $(echo "$plan" | sha256sum | cut -d' ' -f1)"
else bad "topo plan --host $ME"; fi

section "$ME: topo up --host $ME"
expect "topo up --host $ME" topo up "$FILE" --host $ME
live=$(topo inspect "$FILE" --host $ME --json)
same "inspect: this host's ends are attached, the other host's are not here" \
  "$(echo "$live" | jq -c '[.links[].endpoints[] | [.node, .state]]')" \
  "$(case $ME in h1) echo '[["a","attached"],["b",null],["b",null],["c","attached"],["c","attached"],["d",null]]' ;;
                 h2) echo '[["a",null],["b","attached"],["b","attached"],["c",null],["c",null],["d","attached"]]' ;; esac)"
vftable $PF
# The other VM boots, and brings its side up, at its own pace: wait for it on link 1.
ip netns exec "$(ns $near)" busybox nc -l -p 7001 > /tmp/peer-done &
listener=$!

section "$ME: cross-host links"
expect "$near reaches the other host on link 1" reach "$(ns $near)" $peer 60
expect "$end reaches $faraddr at the line's other end (across the wire three times)" reach "$(ns $end)" $faraddr 30
has "... and 10 pings return" "$(ip netns exec "$(ns $end)" busybox ping -c 10 -i 0.2 -W 1 $faraddr)" "10 packets received"

section "$ME: a node on another link's VLAN is isolated"
# $end takes link 2's subnet as on-link, so its ARP leaves on its own link's VLAN: the other host's
# node answers there for its link-2 address (Linux answers ARP for any address of its own); this
# host's own link-2 end, a VF of the same PF on link 2's VLAN, must not hear it.
ip -n "$(ns $end)" route replace 198.18.92.4/30 dev eth1
expect "$end reaches $answered on-link (the isolation probe works)" reach "$(ns $end)" $answered 30
expect "the probe works: $end to $answered" probe "$(ns $end)" $answered
if probe "$(ns $end)" $unheard; then bad "$end must not reach $unheard on link 2's VLAN"; else ok "$end cannot reach $unheard on link 2's VLAN"; fi

section "$ME: both hosts done, then down"
# Each host tells the other it is done over link 1 and goes down only once the other said so,
# so neither takes its ends away while the other still probes them.
sent=no
for _ in $(seq 60); do echo "$ME done" | ip netns exec "$(ns $near)" busybox nc -w 2 $peer 7001 2>/dev/null && { sent=yes; break; }; sleep 1; done
same "told the other host" $sent yes
for _ in $(seq 120); do grep -q done /tmp/peer-done && break; sleep 1; done
has "the other host is done" "$(cat /tmp/peer-done)" done
kill $listener 2>/dev/null; wait $listener 2>/dev/null
expect "topo down --host $ME" topo down "$FILE" --host $ME
same "down restores the host (the VF table, links, claims)" "$(snapshot)" "$before"

finish
