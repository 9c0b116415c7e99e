#!/bin/bash
# The whole test suite: installs what it needs, then unit and integration tests (real network
# namespaces, the emulated NIC, podman) through `swift test`.
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")"
./install.sh --deps-only --test-deps
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test.log | grep -vE '^Test Case .* (started|passed)'
