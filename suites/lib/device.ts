/**
 * What the os and hup suites ask of a balenaOS device, written once. Only
 * balenaOS interfaces are used (paths, labels, balena-engine), so the suites
 * run unchanged on the reference image and on a real balenaOS image.
 */
import type { TestContext } from '../../harness/runner/types.ts';

export const ENGINE_READY_MS = 180_000;

export async function waitForEngine(t: TestContext): Promise<void> {
  await t.waitUntil('balena-engine info >/dev/null 2>&1', { timeoutMs: ENGINE_READY_MS, what: 'the engine answering' });
}

/** Loads dutlab/busybox and dutlab/busybox-health into the engine (idempotent). */
export async function loadBusybox(t: TestContext): Promise<void> {
  if (!t.images.busybox) throw new Error('the run has no busybox container image');
  await waitForEngine(t);
  const present = await t.dut.exec('balena-engine image inspect dutlab/busybox dutlab/busybox-health >/dev/null 2>&1');
  if (present.exitCode === 0) return;
  await t.sh(`balena-engine load -q -i ${await t.stage(t.images.busybox)}`, { timeoutMs: 300_000 });
}

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

/** The GRUB environment block, parsed (key=value lines padded with #). */
export async function bootEnv(t: TestContext): Promise<Record<string, string>> {
  const text = await t.sh('cat /mnt/boot/grubenv');
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** The label of the partition a by-state link points at: resin-rootA, balena-rootB, ... */
export async function labelOf(t: TestContext, state: 'active' | 'inactive'): Promise<string> {
  return t.sh(`blkid -s LABEL -o value "$(readlink -f /dev/disk/by-state/${state})"`);
}

export const STATE_FILES = ['rollback-health-triggered', 'rollback-altboot-triggered', 'rollback-health-breadcrumb', 'rollback-altboot-breadcrumb'];

/** Which of the rollback breadcrumbs and triggered files exist in /mnt/state. */
export async function rollbackFiles(t: TestContext): Promise<string[]> {
  const listing = await t.sh('ls -1 /mnt/state');
  return listing.split('\n').filter((f) => STATE_FILES.includes(f));
}

/** A named volume with 1 MiB of random data; returns its md5. */
export async function fillVolume(t: TestContext, volume: string): Promise<string> {
  await loadBusybox(t);
  await t.sh(`balena-engine volume create ${volume} >/dev/null`);
  return t.sh(
    `balena-engine run --rm -v ${volume}:/data dutlab/busybox sh -c 'head -c 1048576 /dev/urandom > /data/blob && md5sum /data/blob' | cut -d' ' -f1`,
    { timeoutMs: 120_000 },
  );
}

export async function volumeMd5(t: TestContext, volume: string): Promise<string> {
  return t.sh(`balena-engine run --rm -v ${volume}:/data dutlab/busybox md5sum /data/blob | cut -d' ' -f1`, { timeoutMs: 120_000 });
}
