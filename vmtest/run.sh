#!/bin/bash
# The VM tier, from the host: boots a throwaway VM with real SR-IOV drivers (igb, igbvf,
# vfio-pci under VT-d, netdevsim; see run-in-vm.sh) and runs tests.sh in it against the
# vfwire binaries built here. The VM shares the host's root filesystem read-only, so the
# binaries and the reference CNI plugins installed here run inside unchanged.
# Usage: vmtest/run.sh [BIN_DIR]   (default: swift build's debug products)
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
bin=${1:-}
if [ -z "$bin" ]; then
  swift build --product vfwire >/dev/null
  swift build --product vfwirectl >/dev/null
  bin=$(swift build --show-bin-path)
fi
VM_TIMEOUT=${VM_TIMEOUT:-900} exec vmtest/run-in-vm.sh bash vmtest/tests.sh "$bin"
