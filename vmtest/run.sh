#!/bin/bash
# The VM tier, from the host: boots throwaway VMs with real SR-IOV drivers (igb, igbvf, vfio-pci
# under VT-d, netdevsim; see run-in-vm.sh) and runs the tier's scripts in them against the vfwire
# binaries built here. A VM shares the host's root filesystem read-only, so the binaries, the
# reference CNI plugins, runc and DPDK installed here run inside unchanged. Three runs:
# - tests.sh, with what DPDK's check needs: a CPU model with SSE4.2 (-cpu max), 1536 MB of
#   memory of which 512 MB are hugepages;
# - wire.sh, in a VM with two more igb PFs cabled back to back (a QEMU hub);
# - run-twohosts.sh: two VMs at once, one igb PF each on a QEMU socket between them.
# Usage: vmtest/run.sh [BIN_DIR]   (default: swift build's debug products)
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  for p in vfwire vfwirectl vfwire-hook; do swift build --product $p >/dev/null || exit 1; done
  bin=$(swift build --show-bin-path)
fi
rc=0
# timed WHAT COMMAND...: runs one VM run and says how long it took.
timed() { local what=$1 t=$SECONDS; shift; "$@" || rc=1; echo "== VM tier: $what took $((SECONDS - t)) s"; }
timed tests.sh env VM_TIMEOUT=${VM_TIMEOUT:-900} VM_CPU=${VM_CPU:-max} VM_MEM=${VM_MEM:-1536} VM_HUGEPAGES=${VM_HUGEPAGES:-256} \
  vmtest/run-in-vm.sh bash vmtest/tests.sh "$bin" "$PWD"
timed wire.sh env VM_EXTRA_NICS="hub:7@52:54:00:76:00:01 hub:7@52:54:00:76:00:02" \
  vmtest/run-in-vm.sh bash vmtest/wire.sh "$bin" "$PWD"
timed "two hosts" vmtest/run-twohosts.sh "$bin"
exit $rc
