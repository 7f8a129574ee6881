import assert from 'node:assert/strict';
import { acrossReboot, defineTests, type TestContext } from 'dutlab';
import { byState, escapeRegExp, fillVolume, loadBusybox, mountAt, scratchContainer, scratchVolume, volumeMd5, waitForEngine } from 'dutlab/balena';

/** The reboot of the factory reset, and of the tests it does not disturb. */
const FACTORY_RESET = 'factory reset';

/**
 * The line e2fsck ends a full check of a filesystem with, named by its
 * label: "resin-state: 12/16384 files (0.0% non-contiguous), 9514/65536
 * blocks". A check it skips because the filesystem is marked clean says
 * "resin-state: clean, 12/16384 files, 9514/65536 blocks" instead.
 */
function fullCheckTotals(label: string): RegExp {
  return new RegExp(`^${escapeRegExp(label)}: \\d+/\\d+ files \\(\\d+\\.\\d% non-contiguous\\), \\d+/\\d+ blocks$`);
}

export default defineTests(
  acrossReboot({
    title: 'a container with --restart always is running again after a reboot',
    async beforeReboot(t) {
      await loadBusybox(t);
      const name = await scratchContainer(t, 'dutlab-restart');
      await t.sh(`balena-engine run -d --restart always --name ${name} dutlab/busybox sleep 2147483647 >/dev/null`);
      return { name, startedBefore: await t.sh(`balena-engine inspect -f '{{.State.StartedAt}}' ${name}`) };
    },
    async afterReboot(t, { name, startedBefore }) {
      await waitForEngine(t);
      await t.waitUntil(`test "$(balena-engine inspect -f '{{.State.Running}}' ${name})" = true`, { timeoutMs: 120_000, what: 'the container running' });
      assert.notEqual(await t.sh(`balena-engine inspect -f '{{.State.StartedAt}}' ${name}`), startedBefore, 'it was started again');
    },
  }),
  acrossReboot({
    title: 'a named volume keeps its data (same md5) across a reboot',
    async beforeReboot(t) {
      const volume = await scratchVolume(t, 'dutlab-persist');
      const md5 = await fillVolume(t, volume);
      assert.match(md5, /^[0-9a-f]{32}$/);
      return { volume, md5 };
    },
    async afterReboot(t, { volume, md5 }) {
      await waitForEngine(t);
      assert.equal(await volumeMd5(t, volume), md5);
    },
  }),
  acrossReboot({
    title: 'the persistent journal is on the state partition and shows one more boot after a reboot',
    async beforeReboot(t) {
      const state = await byState(t, 'state');
      const journal = await mountAt(t, '/var/log/journal');
      assert.ok(journal, '/var/log/journal is a mount point');
      // By device number: a bind mount's source names the same device, and findmnt's [folder] suffix is no evidence.
      assert.equal(journal.devno, state.devno, `/var/log/journal is ${state.label} (${state.device}), not ${journal.source} (folder ${journal.fsroot})`);
      t.log(`/var/log/journal is folder ${journal.fsroot} of ${state.label}`);
      const stored = await t.exec('test -s "/var/log/journal/$(cat /etc/machine-id)/system.journal"');
      assert.equal(stored.exitCode, 0, 'journald writes this machine’s journal there (Storage=persistent)');

      return { boots: await journalBoots(t), bootId: await t.sh('cat /proc/sys/kernel/random/boot_id') };
    },
    async afterReboot(t, before) {
      assert.notEqual(await t.sh('cat /proc/sys/kernel/random/boot_id'), before.bootId);
      assert.equal(await journalBoots(t), before.boots + 1);
    },
  }),
  acrossReboot({
    title: 'fsck checks every ext4 partition marked with errors at the next boot and leaves each clean',
    // It judges superblocks, which a factory reset (it empties partitions, it does not format them) leaves alone.
    rebootGroup: FACTORY_RESET,
    async beforeReboot(t) {
      // As balena's test: each superblock marked as holding errors
      // (force_fsck). The kernel may clear that mark when it unmounts a
      // read-write filesystem cleanly, so a mount count past the maximum
      // forces the check as well: either way the boot's fsck must run.
      const parts = await Promise.all((['active', 'inactive', 'state', 'data'] as const).map((name) => byState(t, name)));
      const forced = parts.map((p) => p.device).join(' ');
      await t.sh(`for d in ${forced}; do tune2fs -c 20 -C 21 -E force_fsck $d >/dev/null || exit 1; done; sync`);
      t.teardown(() => t.exec(`for d in ${forced}; do tune2fs -c -1 $d >/dev/null; done`));
      for (const part of parts) {
        assert.match(await t.sh(`dumpe2fs -h ${part.device} 2>/dev/null | sed -n 's/^Filesystem state: *//p'`), /with errors$/, `${part.label} is marked with errors`);
      }
      return Number(await t.sh('date +%s'));
    },
    async afterReboot(t, forcedAt) {
      const [active, inactive, state, data] = [await byState(t, 'active'), await byState(t, 'inactive'), await byState(t, 'state'), await byState(t, 'data')];
      // Every verdict is gathered before the test fails: one report names every partition that is not clean.
      const problems: string[] = [];

      // The evidence every e2fsck leaves, whatever initramfs ran it or
      // wherever it logged: a full check stamps "Last checked" and zeroes
      // the mount count, so a count below the forced 21 and a stamp after the
      // forcing prove this boot checked the filesystem. The state must be
      // exactly "clean": not "not clean", nor "clean with errors", the
      // kernel's mark of an error it met (a mounted journalled ext4 stays "clean").
      for (const part of [active, inactive, state, data]) {
        const dump = await t.exec(`dumpe2fs -h ${part.device} 2>&1`);
        const field = (name: string): string | undefined => new RegExp(`^${name}:\\s+(.*\\S)\\s*$`, 'm').exec(dump.stdout)?.[1];
        const verdict = field('Filesystem state');
        if (verdict !== 'clean') problems.push(`${part.label} (${part.device}): superblock state ${JSON.stringify(verdict ?? dump.stdout.trim().split('\n').slice(-2).join(' | '))}, not "clean"`);
        const checked = field('Last checked');
        const checkedAt = checked && /^[\w: ]+$/.test(checked) ? Number(await t.sh(`date -d '${checked}' +%s`)) : NaN;
        const mounts = Number(field('Mount count'));
        if (!(checkedAt > forcedAt) || !(mounts < 21)) problems.push(`${part.label} (${part.device}) was not checked at this boot: last checked ${checked ?? '?'}, mount count ${field('Mount count') ?? '?'} (forced at ${new Date(forcedAt * 1000).toISOString()})`);
      }

      // What the boot's checks said, where an image keeps it (initramfs-tools
      // in /run/initramfs/fsck.log, split at its progress bar's \r;
      // systemd-fsck units in the journal): an image that logs elsewhere
      // loses only this detail, not the verdict above.
      const log = (await t.sh(`journalctl -b --no-pager -o cat -u 'systemd-fsck*' 2>&1; cat /run/initramfs/fsck.log 2>/dev/null; true`)).split(/[\r\n]+/);
      for (const part of [active, inactive, state, data]) {
        const said = log.filter((line) => line.startsWith(`${part.label}: `));
        const besides = said.filter(
          (line) => !fullCheckTotals(part.label).test(line) && !/ (has been mounted \d+ times without being checked|contains a file system with errors), check forced\.$/.test(line),
        );
        // Anything else fsck says of it: errors fixed ("... FIXED."), left
        // ("UNEXPECTED INCONSISTENCY"), a journal replayed, or "clean, ..." (not forced).
        if (besides.length > 0) problems.push(`the boot check of ${part.label} said more than its totals: ${besides.join(' | ')}`);
      }
      const failed = await t.sh(`systemctl list-units --failed --no-legend --plain 'systemd-fsck*'`);
      if (failed) problems.push(`failed fsck units: ${failed}`);

      // Unmounted, the inactive root can be checked now: in full, changing
      // nothing, and it must say nothing but its five passes and totals (an
      // unreplayed journal, for one, is only a warning with exit code 0).
      const mountedAt = await t.exec(`findmnt -n -o TARGET -S ${inactive.devno}`);
      if (mountedAt.exitCode === 0) {
        problems.push(`${inactive.label} is mounted at ${mountedAt.stdout.trim()}: an e2fsck of a mounted filesystem proves nothing`);
      } else {
        const check = await t.exec(`e2fsck -fn ${inactive.device} 2>&1`, { timeoutMs: 180_000 });
        const said = check.stdout.split('\n').filter((line) => line && !/^e2fsck [\d.]+ \(.*\)$/.test(line) && !/^Pass [1-5]: /.test(line));
        if (check.exitCode !== 0 || said.length !== 1 || !fullCheckTotals(inactive.label).test(said[0] ?? '')) {
          problems.push(`e2fsck -fn ${inactive.device} (${inactive.label}) exited ${check.exitCode}, saying: ${said.join(' | ')}`);
        }
      }
      assert.ok(problems.length === 0, problems.join('\n'));
    },
  }),
  acrossReboot({
    title: 'removing remove_me_to_reset wipes engine data and persistent state at the next boot, the flags come back and the engine is healthy',
    // It wipes the engine data and the persistent state, where other tests keep what their reboot must not lose.
    rebootGroup: FACTORY_RESET,
    async beforeReboot(t) {
      await t.sh('test -e /mnt/data/remove_me_to_reset && test -e /mnt/state/remove_me_to_reset');
      await waitForEngine(t);
      await t.sh('balena-engine volume create dutlab-reset-probe >/dev/null && mkdir -p /mnt/state/root-overlay/dutlab-probe');
      t.teardown(() => t.exec('balena-engine volume rm -f dutlab-reset-probe; rm -rf /mnt/state/root-overlay/dutlab-probe'));
      await t.sh('rm /mnt/data/remove_me_to_reset /mnt/state/remove_me_to_reset && sync');
    },
    async afterReboot(t) {
      await t.sh('test -e /mnt/data/remove_me_to_reset && test -e /mnt/state/remove_me_to_reset');
      await waitForEngine(t);
      assert.equal(await t.sh('balena-engine volume ls -q'), '', 'no volume survives a data reset');
      assert.equal(await t.sh('balena-engine images -q'), '', 'no image survives a data reset');
      assert.equal((await t.exec('test -e /mnt/state/root-overlay/dutlab-probe')).exitCode, 1, 'the state reset emptied root-overlay');
      assert.equal((await t.exec('test -d /mnt/state/root-overlay/var/lib/systemd')).exitCode, 0, 'bind-state seeded root-overlay again');
      await t.sh('/usr/lib/balena/balena-healthcheck', { timeoutMs: 120_000 });
    },
  }),
);

/** Boots the persistent journal lists. */
async function journalBoots(t: TestContext): Promise<number> {
  return Number(await t.sh('journalctl --list-boots --no-pager | grep -c .'));
}
