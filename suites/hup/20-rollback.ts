import assert from 'node:assert/strict';
import { defineTests } from 'dutlab';
import { bootEnv, currentState, hostappFor, inactiveFile, loadBusybox, rollbackFiles, stageUpdate } from 'dutlab/balena';

const ROLLBACK_TEST_MS = 30 * 60_000;

export default defineTests(
  {
    title: 'rollback-health: an update whose engine is broken rolls back to the old root',
    // The boots on the way are counted by their kernel banners on the console.
    requires: { features: ['serial'] },
    timeoutMs: ROLLBACK_TEST_MS,
    async run(t) {
      const before = await currentState(t);
      const target = hostappFor(t, 'next', before.version);
      // Loaded now, while the engine works: images live on the data
      // partition, which neither the update nor the rollback touch.
      await loadBusybox(t);
      await stageUpdate(t, target, before);
      // As balena's suite does, in the staged OS: rollback-health waits
      // 15 × 60 s, 3 × 10 s proves the same path in minutes; and its engine
      // binary becomes /dev/null.
      const health = await inactiveFile(t, 'bin/rollback-health$');
      await t.sh(`sed -i -e "s/COUNT=.*/COUNT=3/g" -e "s/TIMEOUT=.*/TIMEOUT=10/g" ${health} && grep -q '^TIMEOUT=10$' ${health} && grep -q '^COUNT=3$' ${health}`);
      await t.sh(`ln -sf /dev/null ${await inactiveFile(t, 'usr/bin/balena-engine$')} && sync`);
      // The new OS boots, rollback-health gives up after COUNT checks and
      // reboots into the old root by itself: two kernels before a login.
      await t.dut.reboot({ kernelBoots: 2, bannerTimeoutMs: 5 * 60_000 });

      const after = await currentState(t);
      assert.equal(after.active.label, before.active.label, 'back on the old root');
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
    // The boots on the way are counted by their kernel banners on the console.
    requires: { features: ['serial'] },
    timeoutMs: ROLLBACK_TEST_MS,
    async run(t) {
      const before = await currentState(t);
      const target = hostappFor(t, 'next', before.version);
      await loadBusybox(t);
      await stageUpdate(t, target, before);
      // As balena's suite does: the staged root's init is deleted.
      await t.sh('rm /mnt/sysroot/inactive/current/boot/init && sync');
      // The new kernel panics without an init (and reboots: panic=10), GRUB
      // tries once more, then boots the old root, whose rollback-altboot
      // makes the fallback permanent and reboots.
      await t.dut.reboot({ tolerateTraces: true, kernelBoots: 3, bannerTimeoutMs: 5 * 60_000 });

      const after = await currentState(t);
      assert.equal(after.active.label, before.active.label, 'back on the old root');
      assert.equal(after.version, before.version);
      const files = await rollbackFiles(t);
      assert.ok(files.includes('rollback-altboot-triggered'), `rollback-altboot-triggered present: ${files.join(', ')}`);
      assert.equal((await bootEnv(t))['upgrade_available'], '0');
      assert.equal(await t.sh('balena-engine run --rm dutlab/busybox echo engine ok'), 'engine ok');
    },
  },
);
