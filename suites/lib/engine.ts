/** The container engine as the suites drive it: balena-engine, its readiness, and scratch objects. */
import type { TestContext } from 'dutlab';

export const ENGINE_READY_MS = 180_000;

export async function waitForEngine(t: TestContext): Promise<void> {
  await t.waitUntil('balena-engine info >/dev/null 2>&1', { timeoutMs: ENGINE_READY_MS, what: 'the engine answering' });
}

/** Loads dutlab/busybox and dutlab/busybox-health into the engine (idempotent); skips the test when the run has no such image. */
export async function loadBusybox(t: TestContext): Promise<void> {
  const busybox = t.images.busybox ?? t.skip('the run has no busybox container image (dutlab-busybox.tar, which `dutlab image build` writes)');
  await waitForEngine(t);
  const present = await t.exec('balena-engine image inspect dutlab/busybox dutlab/busybox-health >/dev/null 2>&1');
  if (present.exitCode === 0) return;
  await t.sh(`balena-engine load -q -i ${await t.stage(busybox)}`, { timeoutMs: 300_000 });
}

/**
 * A container name the test owns: any leftover of that name (an earlier run
 * cut short) is removed now, and the container is removed after the test.
 */
export async function scratchContainer(t: TestContext, name: string): Promise<string> {
  await t.exec(`balena-engine rm -f ${name}`);
  t.teardown(() => t.exec(`balena-engine rm -f ${name}`));
  return name;
}

/** A volume name the test owns, removed before (a leftover) and after the test. */
export async function scratchVolume(t: TestContext, name: string): Promise<string> {
  await t.exec(`balena-engine volume rm -f ${name}`);
  t.teardown(() => t.exec(`balena-engine volume rm -f ${name}`));
  return name;
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
