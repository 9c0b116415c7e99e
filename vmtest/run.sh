#!/bin/bash
# The VM tier, from the host: boots a throwaway VM with real SR-IOV drivers (igb, igbvf,
# vfio-pci under VT-d, netdevsim; see run-in-vm.sh) and runs tests.sh in it against the
# vfwire binaries built here. The VM shares the host's root filesystem read-only, so the
# binaries, the reference CNI plugins, runc and DPDK installed here run inside unchanged.
# One boot runs everything, with what DPDK's check needs: a CPU model with SSE4.2 (-cpu max),
# 1536 MB of memory of which 512 MB are hugepages.
# Usage: vmtest/run.sh [BIN_DIR]   (default: swift build's debug products)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  for p in vfwire vfwirectl vfwire-hook; do swift build --product $p >/dev/null; done
  bin=$(swift build --show-bin-path)
fi
export VM_TIMEOUT=${VM_TIMEOUT:-900} VM_CPU=${VM_CPU:-max} VM_MEM=${VM_MEM:-1536} VM_HUGEPAGES=${VM_HUGEPAGES:-256}
exec vmtest/run-in-vm.sh bash vmtest/tests.sh "$bin" "$PWD"
