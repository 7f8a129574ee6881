import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { MiB } from './digest.ts';
import { storageError, type Where } from './run-tool.ts';

/**
 * What a flasher must know about its target before it writes a byte: that
 * it is there, that it is not the host's own disk nor in use, and that the
 * image fits. The host's view comes from the kernel: /proc/self/mountinfo
 * and /proc/swaps for what is in use (by device number, so a mount through
 * any /dev alias is seen), and /sys/dev/block for how partitions, disks and
 * stacked devices (dm, md) relate.
 */

export interface Target {
  path: string;
  kind: 'block' | 'file';
  bytes: number;
  /** `major:minor` of a block device. */
  device?: string;
}

/** Where the kernel's tables are read from; tests point these at files of their own. */
export interface HostTables {
  sysRoot?: string;
  mountinfo?: string;
  swaps?: string;
}

export interface MountEntry {
  /** `major:minor` as mountinfo records it (0:N for filesystems with no single block device, such as btrfs or overlay). */
  device: string;
  mountPoint: string;
  source: string;
}

/** Refuses, before anything is written, a target that is missing, the root disk, in use, or smaller than `imageBytes`. */
export async function checkTarget(target: string, imageBytes: number, where: Where, tables: HostTables = {}): Promise<Target> {
  const found = await inspectTarget(target, where, tables);
  const refuse = (message: string): never => {
    throw storageError('config', where, message);
  };
  if (found.device) {
    const sysRoot = tables.sysRoot ?? '/sys';
    const mounts = parseMountinfo(await readFile(tables.mountinfo ?? '/proc/self/mountinfo', 'utf8'));
    const root = await rootDevice(mounts);
    if (root) {
      const rootDisks = await wholeDisks(root, sysRoot);
      const shared = [...(await wholeDisks(found.device, sysRoot))].filter((disk) => rootDisks.has(disk));
      if (shared.length) refuse(`is the host's own root disk (/dev/${shared.join(', /dev/')} holds /): refusing to write an image over it`);
    }
    const inUse = await usersOf(found.device, mounts, tables);
    if (inUse.length) refuse(`is in use: ${inUse.join('; ')}: refusing to write an image over it`);
    if (found.bytes === 0) refuse('has no medium (size 0): is the mux switched to the host?');
  }
  if (found.bytes < imageBytes) refuse(`is smaller than the image: ${describeBytes(found.bytes)} < ${describeBytes(imageBytes)}`);
  return found;
}

/** The target as it is now: a block device and its size, or a regular file (an emulated card) and its size. */
export async function inspectTarget(target: string, where: Where, tables: HostTables = {}): Promise<Target> {
  const info = await stat(target, { bigint: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw storageError('config', where, 'not present: is the mux switched to the host?');
    throw storageError('config', where, `cannot be examined: ${error.message}`);
  });
  if (info.isFile()) return { path: target, kind: 'file', bytes: Number(info.size) };
  if (!info.isBlockDevice()) throw storageError('config', where, 'is neither a block device nor a regular file');
  const device = deviceNumber(info.rdev);
  const sectors = await readFile(path.join(tables.sysRoot ?? '/sys', 'dev/block', device, 'size'), 'utf8');
  // sysfs counts 512-byte sectors whatever the device's logical block size.
  return { path: target, kind: 'block', bytes: Number(sectors.trim()) * 512, device };
}

/** `major:minor` of a dev_t as glibc's major()/minor() split it. */
export function deviceNumber(dev: bigint): string {
  const major = ((dev >> 32n) & 0xfffff000n) | ((dev >> 8n) & 0xfffn);
  const minor = ((dev >> 12n) & 0xffffff00n) | (dev & 0xffn);
  return `${major}:${minor}`;
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6) continue;
    entries.push({ device: fields[2] as string, mountPoint: unescapeMount(fields[4] as string), source: unescapeMount(fields[dash + 2] ?? '') });
  }
  return entries;
}

/** The device `/` is mounted from: the last mount at `/` is the one in view. */
export async function rootDevice(mounts: readonly MountEntry[]): Promise<string | undefined> {
  const root = mounts.filter((m) => m.mountPoint === '/').at(-1);
  return root ? mountedDevice(root) : undefined;
}

/**
 * The kernel names of the whole disks a block device lives on: a partition's
 * disk, and through `slaves` the disks under a device-mapper or md device.
 */
export async function wholeDisks(device: string, sysRoot = '/sys'): Promise<Set<string>> {
  const dir = await realpath(path.join(sysRoot, 'dev/block', device)).catch(() => undefined);
  if (!dir) return new Set();
  const disk = (await exists(path.join(dir, 'partition'))) ? path.dirname(dir) : dir;
  const disks = new Set([path.basename(disk)]);
  for (const below of await readdir(path.join(disk, 'slaves')).catch(() => [] as string[])) {
    const number = await readDev(path.join(sysRoot, 'class/block', below));
    if (number) for (const name of await wholeDisks(number, sysRoot)) disks.add(name);
  }
  return disks;
}

/** The device, its partitions, and whatever is stacked on any of them (dm, md), by `major:minor` → kernel name. */
export async function stackedDevices(device: string, sysRoot = '/sys'): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const visit = async (number: string): Promise<void> => {
    if (found.has(number)) return;
    const dir = await realpath(path.join(sysRoot, 'dev/block', number)).catch(() => undefined);
    if (!dir) return;
    found.set(number, path.basename(dir));
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory() && (await exists(path.join(dir, entry.name, 'partition')))) {
        const partition = await readDev(path.join(dir, entry.name));
        if (partition) await visit(partition);
      }
    }
    for (const holder of await readdir(path.join(dir, 'holders')).catch(() => [] as string[])) {
      const number = await readDev(path.join(sysRoot, 'class/block', holder));
      if (number) await visit(number);
    }
  };
  await visit(device);
  return found;
}

/** What holds the device or anything on it: mounts and swap areas, each said in words. */
async function usersOf(device: string, mounts: readonly MountEntry[], tables: HostTables): Promise<string[]> {
  const on = await stackedDevices(device, tables.sysRoot);
  const users: string[] = [];
  for (const mount of mounts) {
    const number = await mountedDevice(mount);
    const name = number && on.get(number);
    if (name) users.push(`/dev/${name} (${number}) is mounted at ${mount.mountPoint}`);
  }
  const swaps = await readFile(tables.swaps ?? '/proc/swaps', 'utf8').catch(() => '');
  for (const line of swaps.split('\n').slice(1)) {
    const file = unescapeMount(line.split(/\s+/)[0] ?? '');
    const info = file ? await stat(file, { bigint: true }).catch(() => undefined) : undefined;
    const name = info?.isBlockDevice() && on.get(deviceNumber(info.rdev));
    if (name) users.push(`/dev/${name} is a swap area`);
  }
  return users;
}

/** A mount's block device: its recorded number, or for a 0:N filesystem (btrfs) the device node it was mounted from. */
async function mountedDevice(mount: MountEntry): Promise<string | undefined> {
  if (!mount.device.startsWith('0:')) return mount.device;
  if (!mount.source.startsWith('/dev/')) return undefined;
  const info = await stat(mount.source, { bigint: true }).catch(() => undefined);
  return info?.isBlockDevice() ? deviceNumber(info.rdev) : undefined;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

async function readDev(sysDir: string): Promise<string | undefined> {
  return (await readFile(path.join(sysDir, 'dev'), 'utf8').catch(() => '')).trim() || undefined;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export function describeBytes(bytes: number): string {
  return `${bytes} bytes (${(bytes / MiB).toFixed(1)} MiB)`;
}
