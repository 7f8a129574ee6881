import assert from 'node:assert/strict';
import { defineTests, type TestContext } from '../../harness/runner/types.ts';
import { bootEnv, byState, loadBusybox, rollbackFiles } from '../lib/device.ts';
import { currentState, hostappFor, stageUpdate } from '../lib/hup.ts';

const ROLLBACK_TEST_MS = 30 * 60_000;

/** Mounts the freshly written inactive root for a test to break it. */
async function withInactiveRoot(t: TestContext, command: string): Promise<void> {
  const { device } = await byState(t, 'inactive');
  await t.sh(`mkdir -p /mnt/sysroot/inactive && mount ${device} /mnt/sysroot/inactive && (${command}); status=$?; sync; umount /mnt/sysroot/inactive; exit $status`);
}

export default defineTests(
  {
    title: 'rollback-health: an update whose engine is broken rolls back to the old root',
    timeoutMs: ROLLBACK_TEST_MS,
    async run(t) {
      const before = await currentState(t);
      const target = hostappFor(t, 'next', before.version);
      // Loaded now, while the engine works: images live on the data
      // partition, which neither the update nor the rollback touch.
      await loadBusybox(t);
      // balenaOS waits 15 × 60 s; 3 × 10 s proves the same path in minutes.
      await t.sh('printf "TIMEOUT=10\\nCOUNT=3\\n" > /mnt/state/rollback-health-variables');

      await stageUpdate(t, target, before);
      // As balena's suite does: the new OS's engine binary becomes /dev/null.
      await withInactiveRoot(t, 'ln -sf /dev/null /mnt/sysroot/inactive/usr/bin/balena-engine');
      // The new OS boots, rollback-health gives up after COUNT checks and
      // reboots into the old root by itself: two kernels before a login.
      await t.dut.reboot({ kernelBoots: 2, bannerTimeoutMs: 5 * 60_000 });

      const after = await currentState(t);
      assert.equal(after.active, before.active, 'back on the old root');
      assert.equal(after.version, before.version, 'the old version runs');
      const files = await rollbackFiles(t);
      // Only the new OS's rollback-health writes this: the new root was tried.
      assert.ok(files.includes('rollback-health-triggered'), `rollback-health-triggered present: ${files.join(', ')}`);
      assert.ok(!files.includes('rollback-altboot-triggered'), 'no altboot rollback');
      assert.equal((await bootEnv(t))['upgrade_available'], '0');
      assert.equal(await t.sh('balena-engine run --rm dutlab/busybox echo engine ok'), 'engine ok');
    },
  },
  {
    title: 'rollback-altboot: an update whose init is gone falls back through the bootloader',
    timeoutMs: ROLLBACK_TEST_MS,
    async run(t) {
      const before = await currentState(t);
      const target = hostappFor(t, 'next', before.version);
      await loadBusybox(t);
      await stageUpdate(t, target, before);
      await withInactiveRoot(t, 'rm -f /mnt/sysroot/inactive/sbin/init /mnt/sysroot/inactive/usr/sbin/init');
      // The new kernel panics without an init (and reboots: panic=10), GRUB
      // tries once more, then boots the old root, whose rollback-altboot
      // makes the fallback permanent and reboots.
      await t.dut.reboot({ tolerateTraces: true, kernelBoots: 3, bannerTimeoutMs: 5 * 60_000 });

      const after = await currentState(t);
      assert.equal(after.active, before.active, 'back on the old root');
      assert.equal(after.version, before.version);
      const files = await rollbackFiles(t);
      assert.ok(files.includes('rollback-altboot-triggered'), `rollback-altboot-triggered present: ${files.join(', ')}`);
      assert.equal((await bootEnv(t))['upgrade_available'], '0');
      assert.equal(await t.sh('balena-engine run --rm dutlab/busybox echo engine ok'), 'engine ok');
    },
  },
);
