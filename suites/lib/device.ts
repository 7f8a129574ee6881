/**
 * What the os and hup suites ask of a balenaOS device, written once. Only
 * balenaOS interfaces are used (paths, labels, balena-engine), so the suites
 * run unchanged on the reference image and on a real balenaOS image.
 */
import type { TestContext } from 'dutlab';

export async function osRelease(t: TestContext): Promise<Record<string, string>> {
  const text = await t.sh('cat /etc/os-release');
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=("?)(.*)\2$/.exec(line);
    if (match?.[1]) fields[match[1]] = match[3] ?? '';
  }
  return fields;
}

export async function osVersion(t: TestContext): Promise<string> {
  return (await osRelease(t))['VERSION'] ?? '';
}

/**
 * The bootloader's environment file, found as balenaOS's own scripts find it
 * (generic-amd64 keeps it in EFI/BOOT, older x86 images at the top).
 */
export async function bootEnvFile(t: TestContext): Promise<string> {
  const found = await t.sh('find -L /mnt/boot -name grubenv | head -n 1');
  if (!found) throw new Error('no grubenv on the boot partition (find -L /mnt/boot -name grubenv found nothing)');
  return found;
}

/** The GRUB environment block, parsed (key=value lines padded with #). */
export async function bootEnv(t: TestContext): Promise<Record<string, string>> {
  const text = await t.sh(`cat "${await bootEnvFile(t)}"`);
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** A partition as /dev/disk/by-state names it. */
export interface StatePartition {
  /** Its partition number in hex, as resin_root_part names a root (balenaOS's hooks read it from sysfs). */
  index: string;
  /** Its filesystem label (resin-state, balena-rootB, ...): the name of the link that resolved it. */
  label: string;
  /** /dev/disk/by-state/<label> */
  link: string;
  /** The block device the link leads to. */
  device: string;
  /** Its device number as the kernel and findmnt print it (MAJ:MIN). */
  devno: string;
}

/** The partitions by their balenaOS names, and the two roots by their role. */
export type PartitionName = 'boot' | 'rootA' | 'rootB' | 'state' | 'data' | 'active' | 'inactive';

/**
 * Resolves a partition through its label's by-state link. The prefix is
 * whichever of resin- and balena- this image's udev linked: the link that
 * leads to a block device wins (readlink -e fails on a missing or dangling
 * link, where readlink -f would still print a path). `active` and `inactive`
 * are resolved to their root's label first, and its link must lead to the
 * same device. Fails the test, naming the links, when none resolves.
 */
export async function byState(t: TestContext, name: PartitionName): Promise<StatePartition> {
  const role = name === 'active' || name === 'inactive';
  const candidates = role
    ? `root=$(readlink -e /dev/disk/by-state/${name}) || { echo "/dev/disk/by-state/${name} leads nowhere" >&2; exit 1; }; candidates=/dev/disk/by-state/$(blkid -s LABEL -o value "$root")`
    : `root=; candidates="/dev/disk/by-state/resin-${name} /dev/disk/by-state/balena-${name}"`;
  const found = await t.sh(
    `${candidates}; for link in $candidates; do device=$(readlink -e "$link") && test -b "$device" || continue; ` +
      `test -z "$root" || test "$device" = "$root" || { echo "$link leads to $device, /dev/disk/by-state/${name} to $root" >&2; exit 1; }; ` +
      `printf '%s\\n' "$link" "$device" "$(cat "/sys/class/block/\${device##*/}/dev")" "$(printf %x "$(cat "/sys/class/block/\${device##*/}/partition")")"; exit 0; done; ` +
      `echo "no by-state link for ${name} leads to a block device (tried $candidates)" >&2; exit 1`,
  );
  const [link = '', device = '', devno = '', index = ''] = found.split('\n');
  return { label: link.slice(link.lastIndexOf('/') + 1), link, device, devno, index };
}

/** The label of the partition a by-state role link points at: resin-rootA, balena-rootB, ... */
export async function labelOf(t: TestContext, state: 'active' | 'inactive'): Promise<string> {
  return (await byState(t, state)).label;
}

/** The filesystem mounted at a path (the top one when mounts are stacked). */
export interface Mount {
  /** Device number of the filesystem (MAJ:MIN): for a bind mount, the one of the filesystem it shows. */
  devno: string;
  /** The source device, without the [subfolder] findmnt appends for a bind mount. */
  source: string;
  /** The folder of that filesystem the mount shows: / for a plain mount, the bound folder for a bind mount. */
  fsroot: string;
}

/** What is mounted at `target` itself, or undefined when it is no mount point. */
export async function mountAt(t: TestContext, target: string): Promise<Mount | undefined> {
  const result = await t.exec(`findmnt -n -P -v -o MAJ:MIN,FSROOT,SOURCE --mountpoint ${target}`);
  if (result.exitCode !== 0) return undefined;
  const top = result.stdout.trim().split('\n').at(-1) ?? '';
  const fields = /^MAJ:MIN="([^"]*)" FSROOT="([^"]*)" SOURCE="([^"]*)"$/.exec(top);
  if (!fields) throw new Error(`findmnt printed an unexpected line for ${target}: ${JSON.stringify(top)}`);
  return { devno: fields[1] ?? '', fsroot: fields[2] ?? '', source: fields[3] ?? '' };
}

export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** What balenaOS's rollback services leave in /mnt/state: breadcrumbs of an update on trial, marks of a rollback done or failed. */
export const STATE_FILES = ['rollback-health-triggered', 'rollback-altboot-triggered', 'rollback-health-breadcrumb', 'rollback-altboot-breadcrumb', 'rollback-health-failed'];

/** Which of `names` (by default the rollback breadcrumbs and triggered files) exist in /mnt/state. */
export async function rollbackFiles(t: TestContext, names: readonly string[] = STATE_FILES): Promise<string[]> {
  const listing = await t.sh('ls -1 /mnt/state');
  return listing.split('\n').filter((f) => names.includes(f));
}
