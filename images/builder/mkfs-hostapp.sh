#!/bin/sh
# PID 1 of the builder's VM, which fills a root partition the way balenaOS's
# build does (mkfs-hostapp's create.ext4): an engine on the partition's
# /balena, then `hostapp-update -f HOSTAPP -n`. The VM's root is the OS tree
# itself, read-only (/dev/vda); /dev/vdb is the partition to fill, /dev/vdc
# the hostapp tarball. Ends with a marker line and a power-off.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
done_marker=DUTLAB-MKFS-HOSTAPP-OK
finish() {
	[ "$1" = 0 ] && echo "$done_marker" || { echo "mkfs-hostapp: failed"; cat /tmp/balenad.log 2>/dev/null | tail -n 30; }
	sync
	echo o > /proc/sysrq-trigger
	sleep 60
}
set -eu
trap 'finish $?' EXIT
for dir in /tmp /mnt/data /mnt/state /var/volatile /etc/docker; do mount -t tmpfs tmpfs "$dir"; done
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount /dev/vdb /mnt/sysroot/inactive
modprobe overlay
balenad -H unix:///var/run/balena-host.sock --data-root=/mnt/sysroot/inactive/balena \
	--exec-root=/var/run/balena-host --pidfile=/var/run/balena-host.pid --storage-driver=overlay2 \
	--iptables=false --ip6tables=false --bridge=none --add-runtime bare=/usr/lib/balena/bare-runtime \
	> /tmp/balenad.log 2>&1 &
engine=$!
n=0
until DOCKER_HOST=unix:///var/run/balena-host.sock balena-engine version > /dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -lt 300 ] || { echo "mkfs-hostapp: the engine did not answer in 300 s"; exit 1; }
	kill -0 "$engine" || { echo "mkfs-hostapp: the engine exited"; exit 1; }
	sleep 1
done
hostapp-update -f /dev/vdc -n
kill "$engine"
wait "$engine" || true
umount /mnt/sysroot/inactive
