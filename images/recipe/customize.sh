#!/bin/sh
# mmdebstrap customize hook: turns the Debian root into the reference OS.
# usage: customize.sh ROOT SETTINGS   (SETTINGS: shell variables written by the builder)
set -eu
root=$1
# shellcheck disable=SC1090
. "$2"

# Mount points (git keeps no empty folders, so they are made here).
mkdir -p "$root/mnt/boot" "$root/mnt/state" "$root/mnt/data" "$root/mnt/sysroot/active" "$root/mnt/sysroot/inactive" "$root/var/log/journal"

kver=$(ls "$root/usr/lib/modules")
for tree in $TRIM_MODULES; do rm -rf "$root/usr/lib/modules/$kver/kernel/$tree"; done
for file in $TRIM_FILES; do rm -f "$root$file"; done
chroot "$root" depmod -a "$kver"

chroot "$root" systemctl enable $ENABLE_UNITS
chroot "$root" systemctl mask $MASK_UNITS

# Development images log in as root without a password (balenaOS does too).
chroot "$root" passwd -d root >/dev/null
# Each root gets its identity on first boot.
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"

rm -f "$root"/boot/initrd.img-*
chroot "$root" update-initramfs -c -k "$kver" >/dev/null
# GRUB loads /vmlinuz and /initrd.img from the root it boots.
ln -sf "boot/vmlinuz-$kver" "$root/vmlinuz"
ln -sf "boot/initrd.img-$kver" "$root/initrd.img"
rm -f "$root/vmlinuz.old" "$root/initrd.img.old"
rm -rf "$root/var/cache/apt/"* "$root/var/lib/apt/lists/"*
