# Shared by the balena boot, update and rollback scripts. POSIX sh.
# shellcheck shell=sh

BOOT_DIR=/mnt/boot
STATE_DIR=/mnt/state
GRUBENV="$BOOT_DIR/grubenv"
HEALTH_BREADCRUMB="$STATE_DIR/rollback-health-breadcrumb"
ALTBOOT_BREADCRUMB="$STATE_DIR/rollback-altboot-breadcrumb"
HEALTH_TRIGGERED="$STATE_DIR/rollback-health-triggered"
ALTBOOT_TRIGGERED="$STATE_DIR/rollback-altboot-triggered"

log() { echo "$(basename "$0"): $*" >&2; }
die() { log "$*"; exit 1; }

# The label of the running root, from root=LABEL=… on the kernel command line.
running_root_label() {
	for arg in $(cat /proc/cmdline); do
		case "$arg" in root=LABEL=*) echo "${arg#root=LABEL=}"; return 0 ;; esac
	done
	die "no root=LABEL= on the kernel command line"
}

# A or B: which root the system runs from.
running_root() { label=$(running_root_label); echo "${label#"${label%?}"}"; }

# resin- or balena-: the prefix this image's labels use.
label_prefix() { label=$(running_root_label); echo "${label%root?}"; }

other_root() { if [ "$1" = A ]; then echo B; else echo A; fi; }

env_get() { grub-editenv "$GRUBENV" list | sed -n "s/^$1=//p"; }
env_set() { grub-editenv "$GRUBENV" set "$@" && sync "$GRUBENV"; }
