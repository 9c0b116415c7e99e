#!/bin/bash
# The whole test suite: installs what it needs, then unit and integration tests (real network
# namespaces, the emulated NIC, podman) through `swift test`, then the VM tier (real igb/igbvf,
# vfio-pci and netdevsim in a throwaway QEMU VM; its first run downloads about 230 MB).
# VFWIRE_SKIP_VM=1 skips the VM tier.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
./install.sh --deps-only --test-deps
swift build --build-tests
swift test --skip-build --disable-swift-testing 2>&1 | tee .build/test.log | grep -vE '^Test Case .* (started|passed)'
VFWIRE_BIN_DIR="$(swift build --show-bin-path)" /usr/bin/python3 Tests/mininet/test_vflink.py
VFWIRE_BIN_DIR="$(swift build --show-bin-path)" /usr/bin/python3 Tests/mininet/test_podmanhost.py
VFWIRE_BIN_DIR="$(swift build --show-bin-path)" /opt/vfwire-test/venv/bin/python Tests/k8s/test_export.py
fuzz/run.sh 200000
bash vmtest/measure-selftest.sh
if [ "${VFWIRE_SKIP_VM:-0}" != 1 ]; then
  vmtest/run.sh "$(swift build --show-bin-path)"
fi
