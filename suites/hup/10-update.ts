import assert from 'node:assert/strict';
import { defineTests } from 'dutlab';
import { currentState, fillVolume, hostappFor, rollbackFiles, scratchVolume, stageUpdate, volumeMd5, waitForCommit, waitForEngine } from 'dutlab/balena';

const HUP_TEST_MS = 25 * 60_000;

export default defineTests(
  {
    title: 'HUP to the next version switches roots, keeps volume data and is committed by rollback-health',
    timeoutMs: HUP_TEST_MS,
    async run(t) {
      const before = await currentState(t);
      const target = hostappFor(t, 'next', before.version);
      const volume = await scratchVolume(t, 'dutlab-hup');
      const md5 = await fillVolume(t, volume);

      await stageUpdate(t, target, before);
      await t.dut.reboot();

      const after = await currentState(t);
      if (target.version !== undefined) assert.equal(after.version, target.version, 'the new OS version runs');
      else assert.notEqual(after.version, before.version, `the OS version changed (the run does not know the version of ${target.file})`);
      assert.equal(after.active.label, before.inactive.label, 'the active root changed');
      await waitForEngine(t);
      assert.equal(await volumeMd5(t, volume), md5, 'volume data survived the update');
      await waitForCommit(t);
      assert.deepEqual(await rollbackFiles(t), [], 'no rollback happened');
    },
  },
  {
    title: 'HUP to the same version switches roots, keeps volume data and is committed',
    timeoutMs: HUP_TEST_MS,
    async run(t) {
      const before = await currentState(t);
      const target = hostappFor(t, 'same', before.version);
      const volume = await scratchVolume(t, 'dutlab-hup-same');
      const md5 = await fillVolume(t, volume);
      await stageUpdate(t, target, before);
      await t.dut.reboot();
      const after = await currentState(t);
      assert.equal(after.version, before.version);
      assert.equal(after.active.label, before.inactive.label, 'the active root changed');
      await waitForEngine(t);
      assert.equal(await volumeMd5(t, volume), md5, 'volume data survived the update');
      await waitForCommit(t);
      assert.deepEqual(await rollbackFiles(t), [], 'no rollback happened, none failed');
    },
  },
);
