#!/usr/bin/env bash
# The project's tests: type check, lint, unit and integration tests (real
# QEMU booting the reference image, which is built first if not cached).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm test
