/**
 * The DUT lifecycle against the reference image in real QEMU (TCG here):
 * boot to ready (saving a golden snapshot), commands with exit codes over
 * the serial console and SSH, files both ways; then a DUT resuming from that
 * snapshot, QEMU refusing a spoilt one, and `dutlab exec` resuming it.
 * Reboots are exercised by the os suite's tests in the CI subset, a hard
 * reset (a power cycle through a plug) in the rig's test; faults (panic,
 * reset, a hung reboot) and the recovery from them in harness/faults/.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { loadBoard } from '../boards/index.ts';
import { buildBusybox, buildImages } from '../../images/build.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { createDut, type CreateDutOptions } from './create.ts';
import type { Dut } from './dut.ts';
import { GoldenCache } from './golden-cache.ts';
import { bindBoard } from './binders.ts';
import { findUefiFirmware } from '../qemu/index.ts';

let dut: Dut;
let options: CreateDutOptions;
let golden: GoldenCache;
/** The DUT that resumed from the golden snapshot, rewound by the test after it. */
let resumedDut: Dut | undefined;

test.before(async () => {
  const built = await buildImages();
  const image = built.versions[0]?.image.path;
  if (!image) throw new Error('no image built');
  golden = new GoldenCache(await mkdtemp(path.join(tmpdir(), 'dutlab-golden-')));
  // As `dutlab exec` makes it (no media disks), so that the last test's exec resumes the snapshot this DUT saves.
  options = { board: await loadBoard('qemu-x86_64'), image, bootTimeoutMs: 6 * 60_000, golden };
  dut = await createDut(options);
});

test.after.always(async () => {
  await dut?.close();
  await rm(golden.root, { recursive: true, force: true });
});


test.serial('boots to ready through the lifecycle states, recording the timeline; the first boot saves a golden snapshot', async (t) => {
  await dut.boot();
  t.is(dut.state, 'ready');
  const states = dut.entries().map((e) => e.state);
  t.deepEqual(states, ['idle', 'preparing', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'saving-golden', 'ready']);
  t.deepEqual((await golden.list()).map((e) => e.board), ['qemu-x86_64']);
  t.true((dut.timeline.firstOffset('ready') ?? 0) > 0);
  t.regex(String(dut.board.describe()['accel']), /^(tcg|kvm)$/);
});

test.serial('20 commands over the serial console return their output and exit codes', async (t) => {
  for (let i = 0; i < 20; i++) {
    const code = (i * 37) % 256;
    const result = await dut.exec(`echo "line $((${i} * 2))"; exit ${code}`, { transport: 'serial' });
    t.is(result.exitCode, code);
    t.is(result.stdout, `line ${i * 2}\n`);
    t.is(result.transport, 'serial');
  }
  const engine = await dut.exec('timeout 150 sh -c "until balena-engine info >/dev/null 2>&1; do sleep 1; done"; echo $?', { transport: 'serial', timeoutMs: 160_000 });
  t.is(engine.stdout.trim(), '0');
});

test.serial('20 commands over SSH keep stdout, stderr and exit codes apart', async (t) => {
  for (let i = 0; i < 20; i++) {
    const code = (i * 53) % 256;
    const result = await dut.exec(`echo out ${i}; echo err ${i} >&2; exit ${code}`, { transport: 'ssh' });
    t.is(result.exitCode, code);
    t.is(result.stdout, `out ${i}\n`);
    t.is(result.stderr, `err ${i}\n`);
    t.is(result.transport, 'ssh');
  }
  t.is(dut.defaultTransport, 'ssh', 'the run key went in through config.json');
});

test.serial('files travel both ways over SSH and over the serial line, verified', async (t) => {
  const dir = await tempDir(t, 'files');
  const big = path.join(dir, 'big.bin');
  const small = path.join(dir, 'small.bin');
  await writeFile(big, randomBytes(4 << 20));
  await writeFile(small, randomBytes(16 << 10));
  await dut.put(big, '/mnt/data/big.bin', { transport: 'ssh' });
  await dut.get('/mnt/data/big.bin', path.join(dir, 'big.back'), { transport: 'ssh' });
  t.deepEqual(await readFile(path.join(dir, 'big.back')), await readFile(big));
  await dut.put(small, '/tmp/small.bin', { transport: 'serial', mode: 0o750 });
  await dut.get('/tmp/small.bin', path.join(dir, 'small.back'), { transport: 'serial' });
  t.deepEqual(await readFile(path.join(dir, 'small.back')), await readFile(small));
  t.is((await dut.exec('stat -c %a /tmp/small.bin', { transport: 'serial' })).stdout, '750\n');
});


test.serial('a second DUT resumes from the golden snapshot: the same boot, the clock set to now, SSH with the key it was provisioned with, a container runs', async (t) => {
  const savedBoot = dut.currentBoot;
  await dut.close();
  const resumed = await createDut(options);
  resumedDut = resumed;
  await resumed.boot();
  t.deepEqual(
    resumed.entries().map((e) => e.state),
    ['idle', 'preparing', 'writing-medium', 'restoring', 'ready'],
  );
  t.is(resumed.currentBoot, savedBoot, 'resumed, not booted');
  const clock = Number((await resumed.exec('date +%s', { transport: 'serial' })).stdout);
  t.true(Math.abs(clock - Date.now() / 1000) < 10, `the DUT's clock is ${clock}, this host's ${Math.round(Date.now() / 1000)}`);
  t.is((await resumed.exec('echo over ssh', { transport: 'ssh' })).stdout, 'over ssh\n');
  await resumed.put((await buildBusybox()).path, '/mnt/data/busybox.tar', { transport: 'ssh' });
  const run = await resumed.exec('balena-engine load -q -i /mnt/data/busybox.tar >/dev/null && balena-engine run --rm dutlab/busybox sh -c "echo ran at $(date +%s)"', {
    transport: 'ssh',
    timeoutMs: 180_000,
  });
  t.is(run.exitCode, 0, run.stderr);
  t.true(Math.abs(Number(/ran at (\d+)/.exec(run.stdout)?.[1]) - Date.now() / 1000) < 30, run.stdout);
});

test.serial('a resumed DUT rewinds in place to its golden state, even after a real reboot: what was written is gone, the saved boot answers, the clock is now, SSH works', async (t) => {
  const dut = resumedDut;
  if (!dut) throw new Error('no resumed DUT: the test before did not run');
  t.teardown(() => dut.close());
  const savedBoot = dut.currentBoot;
  t.true(dut.rewindable);
  await dut.exec('touch /mnt/data/written-after-restore && sync', { transport: 'serial' });
  await dut.reboot();
  t.not(dut.currentBoot, savedBoot, 'a real reboot');
  t.is((await dut.exec('test -e /mnt/data/written-after-restore', { transport: 'serial' })).exitCode, 0);
  await dut.rewind();
  t.deepEqual(dut.entries().map((e) => e.state).slice(-2), ['rewinding', 'ready']);
  t.is(dut.currentBoot, savedBoot, 'the saved boot again');
  t.is((await dut.exec('test -e /mnt/data/written-after-restore', { transport: 'serial' })).exitCode, 1, 'the file written since is gone');
  t.is((await dut.exec('balena-engine images -q dutlab/busybox', { transport: 'ssh' })).stdout.trim(), '', 'the image loaded since is gone');
  const clock = Number((await dut.exec('date +%s', { transport: 'serial' })).stdout);
  t.true(Math.abs(clock - Date.now() / 1000) < 10, `the DUT's clock is ${clock}, this host's ${Math.round(Date.now() / 1000)}`);
});

test.serial('QEMU refuses to resume a saved state that holds no machine state, and says so: the DUT then forgets it and boots cold (lifecycle.test.ts)', async (t) => {
  const [entry] = await golden.list();
  if (!entry) throw new Error('no golden snapshot to spoil');
  // Disk-only snapshots under the same name (QEMU keeps the machine state in either file): sound files, but -loadvm refuses them.
  const spoilt = await tempDir(t, 'spoilt');
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', path.resolve(options.image), '-F', 'raw', path.join(spoilt, 'disk.qcow2')]);
  await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', findUefiFirmware().varsTemplate, path.join(spoilt, 'efivars.qcow2')]);
  for (const file of ['disk.qcow2', 'efivars.qcow2']) await execa('qemu-img', ['snapshot', '-c', 'dutlab-golden', path.join(spoilt, file)]);
  const board = await bindBoard(await loadBoard('qemu-x86_64'), { dir: await tempDir(t, 'board') });
  t.teardown(() => board.power.off());
  await board.snapshot?.resumeFrom(spoilt, options.image);
  const refused = await t.throwsAsync(board.power.on());
  t.regex(`${refused?.message}\n${(refused as { excerpt?: string } | undefined)?.excerpt ?? ''}`, /disk-only snapshot/i);
});

test.serial('dutlab exec resumes the golden snapshot of the same image, board and provisioning, runs the command and exits with its exit code', async (t) => {
  const dutlab = path.resolve('bin/dutlab.js');
  const result = await execa('node', [dutlab, 'exec', '--image', options.image, '--transport', 'serial', '--', 'cat /etc/issue; exit 3'], {
    env: { DUTLAB_GOLDEN_DIR: golden.root },
    reject: false,
    timeout: 10 * 60_000,
  });
  t.is(result.exitCode, 3, result.stderr);
  t.regex(result.stdout, /^balenaOS \d/);
  t.regex(result.stderr, /\]\s+writing-medium\n.*\]\s+restoring\n.*\]\s+ready/);
  t.notRegex(result.stderr, /booting/);
});
