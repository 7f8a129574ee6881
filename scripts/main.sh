#!/usr/bin/env bash
# The main job: build the reference image and the next version's hostapp
# (cached), boot the image in QEMU, run the os and hup suites, and leave TAP,
# JUnit, a JSON summary and the serial log in reports/latest/.
# Extra arguments go to `dutlab run` (e.g. --grep, --bail, --config run.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec node bin/dutlab.js run --board qemu-x86_64 --suite os,hup --reports reports "$@"
