#!/bin/sh
# Writes the seed corpus: inputs the tests use, each behind the byte that picks its parser
# (0 netconf, 1 allocation record, 2 topology, 3 OCI state; see Sources/Fuzz/Fuzz.swift).
set -e
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus"
mkdir -p "$out"
seed() { { printf "\\$(printf %03o "$1")"; cat; } > "$out/$2"; }
n=0
for f in "$here"/../cni-conf/*.conf "$here"/../cni-conf/*/*.conf; do
    [ -f "$f" ] && { n=$((n + 1)); seed 0 "netconf-$n" < "$f"; }
done
# The plugins of each conflist, one netconf each.
for f in "$here"/../cni-conf/*.conflist "$here"/../cni-conf/*/*.conflist; do
    [ -f "$f" ] || continue
    python3 -c 'import json,sys; [print(json.dumps(dict(p, cniVersion="1.1.0", name="x"))) for p in json.load(open(sys.argv[1]))["plugins"]]' "$f" |
    while read -r line; do n=$((n + 1)); printf '%s' "$line" | seed 0 "netconf-$(basename "$f")-$n"; done
done
seed 1 record-kernel <<'R'
{"key":{"network":"n","containerID":"c1","ifname":"net1"},"vf":"0000:3b:02.1","pf":"0000:3b:00.0","vfIndex":1,"sysfsRoot":"/sys","netns":"/run/netns/x","netnsID":{"dev":4,"ino":4026532000},"mode":"kernel","original":{"mac":"00:00:00:00:00:00","vlan":0,"qos":0,"vlanProto":"802.1Q","spoofchk":true,"trust":false,"minTxRate":0,"maxTxRate":0,"linkState":"auto"},"netdev":{"name":"ens1v1","mac":"02:fe:fe:01:00:01","mtu":1500,"up":false,"ifindex":42},"originalDriver":"igbvf","applied":{"vlan":{"vlan":100,"qos":0,"proto":"802.1Q"}}}
R
sed -n '/let line = """/,/^    """/p' "$here"/../Tests/VFWireUnitTests/PlanTests.swift | sed '1d;$d;s/^    //' | seed 2 topology-line
seed 2 topology-shaped <<'T'
name: s
defaults: {pf: ens1, vlans: 100-199}
nodes: {a: {}, b: {}}
links:
  - endpoints: ["a:eth1", "b:eth1"]
    delay: [2ms, ~]
    jitter: [100us, 0]
    loss: 1.5%
    rate: 100mbit
    corruption: [0.1, ~]
    max_tx_rate: [100, 0]
T
seed 3 oci-state <<'S'
{"ociVersion":"1.0.2","id":"c1","status":"creating","pid":4242,"bundle":"/run/bundle","annotations":{"vfwire.io/networks":"a:eth1,b:eth2;mac=02:00:00:00:00:01;vlan=7"}}
S
ls "$out" | wc -l
