#!/usr/bin/env bash
# Installs what dutlab needs on a fresh Debian bookworm machine, and skips
# what is already there: Debian packages (as root) and the npm packages.
# With the argument `bench`, also what the benchmarks compare against.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
  qemu-system-x86 qemu-utils ovmf             # the DUT under emulation
  mmdebstrap uidmap e2fsprogs dosfstools mtools fdisk grub-efi-amd64-bin grub-common busybox-static  # the image builder
  socat python3                               # pty plumbing for serial lines (the rig's adapters are python pty relays)
  bmap-tools xz-utils unzip                   # the flasher: block maps, compressed images
  ser2net usbsdmux usbrelay gpiod             # farm hardware: network consoles, SD mux, HID relays, GPIO lines
  python3-junitparser                         # an independent JUnit reader for the report tests
  libxml2-utils                               # xmllint: validates junit.xml against the strict Ant schema in the report tests
  openssh-server                              # a private loopback sshd for the SSH transport tests
  chrony dnsmasq-base                         # NTP and DNS servers the network and time tests start on the host
)
# `install-deps.sh bench`: also the baselines `npm run bench` measures dutlab against.
[ "${1:-}" = bench ] && debs+=(python3-pexpect python3-labgrid openssh-client)
missing=()
for deb in "${debs[@]}"; do
  dpkg-query -W -f '${Status}' "$deb" 2>/dev/null | grep -q 'install ok installed' || missing+=("$deb")
done
if ((${#missing[@]})); then
  echo "install-deps: installing Debian packages: ${missing[*]}" >&2
  [ "$(id -u)" = 0 ] || { echo "install-deps: run as root to install Debian packages" >&2; exit 2; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci is skipped while node_modules matches the lockfile.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "install-deps: installing npm packages" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
