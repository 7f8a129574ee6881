# Shared by the balena boot, update and rollback scripts. POSIX sh.
# shellcheck shell=sh

BOOT_DIR=/mnt/boot
STATE_DIR=/mnt/state
HEALTH_BREADCRUMB="$STATE_DIR/rollback-health-breadcrumb"
ALTBOOT_BREADCRUMB="$STATE_DIR/rollback-altboot-breadcrumb"

log() { echo "$(basename "$0"): $*" >&2; }
die() { log "$*"; exit 1; }

# GRUB's environment block, wherever on the boot partition the bootloader keeps it.
bootenv_file() { find -L "$BOOT_DIR" -name grubenv | head -n 1; }
env_get() { grub-editenv "$(bootenv_file)" list | sed -n "s/^$1=//p"; }
env_set() {
	file=$(bootenv_file)
	[ -n "$file" ] || die "no grubenv on $BOOT_DIR"
	grub-editenv "$file" set "$@" && sync -f "$BOOT_DIR"
}

# The root partition mounted at a sysroot (/mnt/sysroot/active or inactive).
sysroot_device() { findmnt -n -c -u -o SOURCE -t ext4 -M "$1" | head -n 1; }
# Its partition number in hex: how resin_root_part names a root.
part_index() { printf '%x' "$(cat "/sys/class/block/$(basename "$1")/partition")"; }
# A or B, from its label: how older boot environments name it.
part_letter() { blkid -s LABEL -o value "$1" | sed -n 's/^\(resin\|balena\)-root\([AB]\)$/\2/p'; }
# Whether resin_root_part ($1) names the running root.
running_is() {
	dev=$(sysroot_device /mnt/sysroot/active)
	[ -n "$dev" ] || die "nothing is mounted at /mnt/sysroot/active"
	[ "$1" = "$(part_index "$dev")" ] || [ "$1" = "$(part_letter "$dev")" ]
}

CONFIG_JSON="$BOOT_DIR/config.json"
DEVELOPMENT_FLAG=/var/volatile/development-features
# A value of config.json by jq filter; empty when unset, false, or unreadable.
config_get() { jq -r "$1 // empty" "$CONFIG_JSON" 2>/dev/null; }
# In development mode, (re)writes the flag file with the development options
# of sshd (passwordless root unless os.sshKeys is set) and of the engine (TCP
# 2375, unauthenticated as development mode means: --tls=false says so, and
# spares each engine start the 15 s Debian's dockerd otherwise sleeps to
# show a deprecation warning); fails in production mode.
development_flag() {
	[ "$(config_get '.developmentMode')" = true ] || return 1
	sshd="-f /etc/ssh/sshd_config_development"
	[ -n "$(config_get '.os.sshKeys // [] | .[]')" ] && sshd="$sshd -o PasswordAuthentication=no"
	printf "SSHD_OPTS='%s'\nBALENA_DEVELOPMENT_ARGS='-H tcp://0.0.0.0:2375 --tls=false'\n" "$sshd" > "$DEVELOPMENT_FLAG"
}
