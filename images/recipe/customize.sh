#!/bin/sh
# mmdebstrap customize hook: turns the Debian root into the reference OS.
# usage: customize.sh ROOT SETTINGS   (SETTINGS: shell variables written by the builder)
set -eu
root=$1
# shellcheck disable=SC1090
. "$2"

# Mount points (git keeps no empty folders, so they are made here).
mkdir -p "$root/mnt/boot" "$root/mnt/state" "$root/mnt/data" "$root/mnt/sysroot/active" "$root/mnt/sysroot/inactive" "$root/var/log/journal" "$root/var/volatile"
install -d -m 700 "$root/root/.ssh"
mkdir -p "$root/etc/dnsmasq.d"
# The host resolves through dnsmasq (balenaOS's resolv.conf); mmdebstrap left the build host's here.
mv "$root/etc/resolv.conf.balena" "$root/etc/resolv.conf"
ln -sf ../run/balena/resolv.dnsmasq "$root/etc/resolv.dnsmasq"

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
# /boot becomes the hostapp's boot volume: GRUB loads boot/vmlinuz and
# boot/initrd.img through it, and the initramfs runs boot/init (on busybox,
# since the raw root partition holds no programs of its own).
ln -sf "vmlinuz-$kver" "$root/boot/vmlinuz"
ln -sf "initrd.img-$kver" "$root/boot/initrd.img"
rm -f "$root/vmlinuz" "$root/initrd.img" "$root/vmlinuz.old" "$root/initrd.img.old"
cp "$root/bin/busybox" "$root/boot/busybox"
rm -rf "$root/var/cache/apt/"* "$root/var/lib/apt/lists/"*
# The root is read-only at run time: scratch space is the volatile tmpfs
# (last: the initramfs build above needs a real /var/tmp).
rm -rf "$root/var/tmp"
ln -s volatile/tmp "$root/var/tmp"
