/**
 * The DUT lifecycle against the reference image in real QEMU (TCG here):
 * boot to ready, commands with exit codes over the serial console and SSH,
 * files both ways. A reboot is exercised by the hup suite's update test in
 * the CI subset, a hard reset (a power cycle through a plug) in the rig's
 * test; faults (panic, reset, a hung reboot) and the recovery from them in
 * harness/faults/.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadBoard } from '../boards/index.ts';
import { buildImages } from '../../images/build.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { createDut } from './create.ts';
import type { Dut } from './dut.ts';

let dut: Dut;

test.before(async () => {
  const built = await buildImages();
  const image = built.versions[0]?.image.path;
  if (!image) throw new Error('no image built');
  dut = await createDut({ board: await loadBoard('qemu-x86_64'), image, bootTimeoutMs: 6 * 60_000 });
});

test.after.always(async () => {
  await dut?.close();
});


test.serial('boots to ready through the lifecycle states, recording the timeline', async (t) => {
  await dut.boot();
  t.is(dut.state, 'ready');
  const states = dut.entries().map((e) => e.state);
  t.deepEqual(states, ['idle', 'preparing', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'ready']);
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

