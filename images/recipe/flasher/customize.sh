#!/bin/sh
# Turns a copy of the OS root tree into the flasher's root (flash-rootA), as
# balena-image-flasher is the OS plus its installer: the overlay here, the
# installer enabled, and what needs the device's own state and data off.
# usage: customize.sh TREE IMAGE_NAME   (the OS image is already in TREE/opt)
set -eu
tree=$1 image=$2
dir=$(dirname "$0")
cp -a "$dir/rootfs/." "$tree/"
cat > "$tree/etc/resin-init-flasher.conf" <<CONF
# Where the OS goes, first match wins (generic-amd64's list), and what is written.
INTERNAL_DEVICE_KERNEL="md/balena* nvme?n? sd? mmcblk? vd?"
BALENA_IMAGE=$image
CONF
systemctl --root="$tree" --quiet disable \
	balena.service balena-host.socket rollback-altboot.service rollback-health.service \
	rollback-clear-bootcount.service mnt-sysroot-active.service bind-state.service \
	resin-state-reset.service balena-data-reset.service os-sshkeys.service sshd.socket \
	chronyd.service config-json.path config-json.service os-udevrules.service
systemctl --root="$tree" --quiet enable resin-init-flasher.service
