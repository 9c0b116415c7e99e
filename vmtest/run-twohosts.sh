#!/bin/bash
# Two hosts on one wire, from the host: boots two VMs at once (VM_SMP=1 each), whose extra igb PFs
# are joined by a QEMU socket netdev (one listens on a free port of 127.0.0.1, the other
# connects), and runs vmtest/twohosts.sh as h1 in one and h2 in the other. Prints both outputs,
# checks that both hosts planned the file alike, and how long the two-VM run took.
# Usage: vmtest/run-twohosts.sh BIN_DIR. Exits non-zero if either host failed.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bin=${1:?usage: run-twohosts.sh BIN_DIR}
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
start=$SECONDS
vm() { # HOST WIRE MAC
  VM_SMP=1 VM_TIMEOUT=${VM_TIMEOUT:-400} VM_EXTRA_NICS="$2@$3" vmtest/run-in-vm.sh bash vmtest/twohosts.sh "$bin" "$PWD" "$1" "$3" >"$out/$1" 2>&1
}
vm h1 listen:$port 52:54:00:76:01:01 &
p1=$!
# The connecting QEMU fails at once without a listener, and the first VM may build the initrd.
until ss -Hltn "sport = :$port" | grep -q .; do kill -0 $p1 2>/dev/null || break; sleep 0.2; done
vm h2 connect:$port 52:54:00:76:01:02 &
p2=$!
rc1=0 rc2=0
wait $p1 || rc1=$?
wait $p2 || rc2=$?
for h in h1 h2; do sed "s/^/$h| /" "$out/$h"; done
plan1=$(grep '^plan sha256' "$out/h1") plan2=$(grep '^plan sha256' "$out/h2")
if [ -n "$plan1" ] && [ "$plan1" = "$plan2" ]; then echo "ok   both hosts planned the file alike"; else echo "FAIL the hosts' plans differ"; rc1=1; fi
echo "two-host run: $((SECONDS - start)) s (two VMs, TCG, VM_SMP=1 each)"
[ $rc1 = 0 ] && [ $rc2 = 0 ]
