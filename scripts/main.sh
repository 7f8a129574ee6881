#!/usr/bin/env bash
# The main job: build the reference image (cached) and boot it in QEMU to a
# shell. On a terminal you get the serial console (Ctrl-] detaches, then
# Ctrl-C powers off); elsewhere it boots, runs a few checks and powers off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
node bin/dutlab.js image build --next 1.0.1
if [ -t 0 ]; then
  exec node bin/dutlab.js boot --console "$@"
fi
exec node bin/dutlab.js exec --transport serial "$@" -- 'cat /etc/os-release && balena-engine info --format "engine {{.ServerVersion}}, {{.Driver}} on {{.DockerRootDir}}"'
