import assert from 'node:assert/strict';
import { defineTests } from '../../harness/runner/types.ts';
import { fillVolume, loadBusybox, volumeMd5, waitForEngine } from '../lib/device.ts';

const REBOOT_TEST_MS = 8 * 60_000;

export default defineTests(
  {
    title: 'a container with --restart always is running again after a reboot',
    timeoutMs: REBOOT_TEST_MS,
    async run(t) {
      await loadBusybox(t);
      const name = 'dutlab-restart';
      await t.dut.exec(`balena-engine rm -f ${name}`);
      t.teardown(() => t.dut.exec(`balena-engine rm -f ${name}`));
      await t.sh(`balena-engine run -d --restart always --name ${name} dutlab/busybox sleep 2147483647 >/dev/null`);
      const startedBefore = await t.sh(`balena-engine inspect -f '{{.State.StartedAt}}' ${name}`);
      await t.dut.reboot();
      await waitForEngine(t);
      await t.waitUntil(`test "$(balena-engine inspect -f '{{.State.Running}}' ${name})" = true`, { timeoutMs: 120_000, what: 'the container running' });
      assert.notEqual(await t.sh(`balena-engine inspect -f '{{.State.StartedAt}}' ${name}`), startedBefore, 'it was started again');
    },
  },
  {
    title: 'a named volume keeps its data (same md5) across a reboot',
    timeoutMs: REBOOT_TEST_MS,
    async run(t) {
      const volume = 'dutlab-persist';
      await t.dut.exec(`balena-engine volume rm -f ${volume}`);
      t.teardown(() => t.dut.exec(`balena-engine volume rm -f ${volume}`));
      const md5 = await fillVolume(t, volume);
      assert.match(md5, /^[0-9a-f]{32}$/);
      await t.dut.reboot();
      await waitForEngine(t);
      assert.equal(await volumeMd5(t, volume), md5);
    },
  },
  {
    title: 'the persistent journal shows one more boot after a reboot',
    timeoutMs: REBOOT_TEST_MS,
    async run(t) {
      const boots = async () => (await t.sh('journalctl --list-boots --no-pager | grep -c .')).trim();
      const before = Number(await boots());
      const bootId = await t.sh('cat /proc/sys/kernel/random/boot_id');
      await t.dut.reboot();
      assert.notEqual(await t.sh('cat /proc/sys/kernel/random/boot_id'), bootId);
      assert.equal(Number(await boots()), before + 1);
      assert.match(await t.sh('findmnt -n -o SOURCE /var/log/journal'), /state|journal/, 'the journal lives on the state partition');
    },
  },
  {
    title: 'fsck finds every ext4 partition clean after a reboot with a forced check',
    timeoutMs: REBOOT_TEST_MS,
    async run(t) {
      await t.sh('touch /forcefsck');
      t.teardown(() => t.dut.exec('rm -f /forcefsck'));
      await t.dut.reboot();
      // Mounted filesystems were checked at boot (systemd-fsck logs each verdict); the inactive root is checked now.
      const checked = await t.sh(`journalctl -b --no-pager -o cat -u 'systemd-fsck@*' | grep -E ': clean,|: [0-9]+/[0-9]+ files' || true`);
      // A forced check prints its totals ("resin-state: 17/16384 files ..."); a
      // problem it cannot fix alone would fail the unit and print INCONSISTENCY.
      for (const part of ['state', 'data']) {
        assert.match(checked, new RegExp(`(resin|balena)-${part}: (clean, )?\\d+/\\d+ files`), `systemd-fsck checked ${part}`);
      }
      assert.doesNotMatch(checked, /INCONSISTENCY|errors/i);
      assert.equal(await t.sh(`systemctl list-units --failed --no-legend 'systemd-fsck*' | wc -l`), '0', 'no fsck unit failed');
      const inactive = await t.sh('readlink -f /dev/disk/by-state/inactive');
      const result = await t.dut.exec(`e2fsck -fn ${inactive}`, { timeoutMs: 180_000 });
      assert.equal(result.exitCode, 0, `e2fsck -fn ${inactive}: ${result.stdout}${result.stderr}`);
      for (const state of ['active', 'resin-state', 'resin-data']) {
        const device = await t.dut.exec(`readlink -f /dev/disk/by-state/${state} 2>/dev/null || readlink -f /dev/disk/by-state/${state.replace('resin-', 'balena-')}`);
        assert.match(await t.sh(`dumpe2fs -h ${device.stdout.trim()} 2>/dev/null | grep '^Filesystem state:'`), /clean/);
      }
    },
  },
);
