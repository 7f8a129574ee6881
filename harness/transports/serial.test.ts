/**
 * The serial transport against real shells behind a real pty (the console
 * tests' pty DUT): bash with GNU coreutils, busybox ash with busybox's own
 * applets, and dash with a PATH that has neither base64 nor sha256sum (so
 * printf octal, od and md5sum carry the files). The "DUT" shares this
 * machine's filesystem, so what lands is checked directly, not only through
 * the transport. Corruption tests flip one character on the line and must
 * be caught by the checks, which a transport that skipped them would fail.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import test, { type ExecutionContext } from 'ava';
import { Console } from '../console/console.ts';
import { login } from '../console/login.ts';
import { spawnPtyDut } from '../console/testing/pty-dut.ts';
import { DutError } from '../errors.ts';
import { SerialTransport, type SerialTransportOptions } from './serial.ts';
import { corrupting, otherBase64Char } from './testing/corrupt.ts';
import { TransferError } from './types.ts';

// A PATH of busybox applets without base64 and sha256sum: the fallbacks' DUT.
const SPARSE_BIN = mkdtempSync(join(tmpdir(), 'dutlab-sparse-bin-'));
for (const applet of ['wc', 'md5sum', 'od', 'chmod', 'mv', 'rm', 'cat', 'stty', 'ls', 'stat']) symlinkSync('/usr/bin/busybox', join(SPARSE_BIN, applet));
test.after.always(() => rmSync(SPARSE_BIN, { recursive: true, force: true }));

const SHELLS: ReadonlyArray<readonly [string, readonly string[], string]> = [
  ['bash + GNU coreutils', ['bash', '--norc', '--noprofile', '-i'], 'base64, 18 blocks, sha256'],
  ['busybox ash + applets', ['busybox', 'sh', '-i'], 'base64, 18 blocks, sha256'],
  ['dash without base64 or sha256sum', ['/usr/bin/env', `PATH=${SPARSE_BIN}`, '/bin/dash', '-i'], 'octal, 18 blocks, md5'],
];

async function serialOver(
  t: ExecutionContext,
  argv: readonly string[],
  options: { wrap?: (stream: Duplex) => Duplex; transport?: Partial<SerialTransportOptions> } = {},
): Promise<SerialTransport> {
  const dut = await spawnPtyDut(argv);
  t.teardown(() => dut.close());
  const console = new Console({ stream: options.wrap ? options.wrap(dut.port) : dut.port, name: 'pty-1' });
  t.teardown(() => console.close());
  const shell = await login(console, { timeoutMs: 10_000, pokeMs: 500 });
  const transport = new SerialTransport({ shell, ...options.transport });
  t.teardown(() => transport.close());
  return transport;
}

function scratch(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'dutlab-serial-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** 64 KiB holding every byte value 256 times, in a random order. */
function allByteValues(): Buffer {
  const data = Buffer.alloc(64 << 10);
  for (let i = 0; i < data.length; i++) data[i] = i & 0xff;
  const order = randomBytes(data.length * 4);
  for (let i = data.length - 1; i > 0; i--) {
    const j = order.readUInt32LE(i * 4) % (i + 1);
    [data[i], data[j]] = [data[j] ?? 0, data[i] ?? 0];
  }
  return data;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const leftovers = (dir: string): string[] => readdirSync(dir).filter((name) => name.includes('.dutlab-'));

for (const [name, argv, method] of SHELLS) {
  test(`${name}: put/get of 64 KiB of every byte value, checked on both sides; exec exit codes`, async (t) => {
    const notes: string[] = [];
    const serial = await serialOver(t, argv, { transport: { note: (text) => notes.push(text) } });
    const dir = scratch(t);
    const data = allByteValues();
    writeFileSync(join(dir, 'local.bin'), data);

    await serial.put(join(dir, 'local.bin'), join(dir, 'on-dut.bin'), { mode: 0o640 });
    // Checked directly on the "DUT" side, not through the transport.
    t.is(sha256(readFileSync(join(dir, 'on-dut.bin'))), sha256(data));
    t.is(statSync(join(dir, 'on-dut.bin')).mode & 0o777, 0o640);
    t.deepEqual(leftovers(dir), []);

    await serial.get(join(dir, 'on-dut.bin'), join(dir, 'back.bin'));
    t.true(readFileSync(join(dir, 'back.bin')).equals(data));

    // An empty file both ways.
    writeFileSync(join(dir, 'empty'), '');
    await serial.put(join(dir, 'empty'), join(dir, 'empty-on-dut'));
    t.is(statSync(join(dir, 'empty-on-dut')).size, 0);
    await serial.get(join(dir, 'empty-on-dut'), join(dir, 'empty-back'));
    t.is(statSync(join(dir, 'empty-back')).size, 0);

    t.like(serial.transfers[0], { direction: 'put', bytes: 64 << 10, method });
    for (const stats of serial.transfers.slice(0, 2)) t.log(`${stats.direction} 64 KiB: ${(stats.bytesPerSecond / 1024).toFixed(1)} KiB/s (${stats.method})`);
    t.true(notes.some((note) => /^serial: put .*on-dut\.bin: 65536 bytes in \d+ ms/.test(note)));

    t.like(await serial.exec('echo out; echo err >&2'), { stdout: 'out\nerr\n', stderr: '', exitCode: 0 });
    t.like(await serial.exec('false'), { exitCode: 1 });
    t.like(await serial.exec('exit 42'), { exitCode: 42 });
    t.is(serial.kind, 'serial');
    t.is(serial.dut, 'pty-1');
  });
}

test('a character flipped on its way to the DUT fails the put on the checksum; nothing is installed', async (t) => {
  let corrupter: ReturnType<typeof corrupting> | undefined;
  const serial = await serialOver(t, ['bash', '--norc', '--noprofile', '-i'], {
    wrap: (stream) => (corrupter = corrupting(stream, 'to-dut', otherBase64Char)).stream,
  });
  const dir = scratch(t);
  writeFileSync(join(dir, 'local.bin'), allByteValues());
  corrupter?.arm();
  const error = await t.throwsAsync(serial.put(join(dir, 'local.bin'), join(dir, 'on-dut.bin')), { instanceOf: TransferError });
  t.true(corrupter?.fired);
  t.is(error.failure, 'checksum');
  t.is(error.kind, 'tool');
  t.is(error.dut, 'pty-1');
  t.is(error.expected, sha256(readFileSync(join(dir, 'local.bin'))));
  t.not(error.actual, error.expected);
  t.false(existsSync(join(dir, 'on-dut.bin')));
  t.deepEqual(leftovers(dir), []);
  // The line is clean again: the same put goes through.
  await serial.put(join(dir, 'local.bin'), join(dir, 'on-dut.bin'));
  t.true(readFileSync(join(dir, 'on-dut.bin')).equals(readFileSync(join(dir, 'local.bin'))));
});

test('a character flipped on its way back fails the get on the checksum; no local file is written', async (t) => {
  let corrupter: ReturnType<typeof corrupting> | undefined;
  const serial = await serialOver(t, ['busybox', 'sh', '-i'], {
    wrap: (stream) => (corrupter = corrupting(stream, 'from-dut', otherBase64Char)).stream,
  });
  const dir = scratch(t);
  writeFileSync(join(dir, 'on-dut.bin'), allByteValues());
  corrupter?.arm();
  const error = await t.throwsAsync(serial.get(join(dir, 'on-dut.bin'), join(dir, 'back.bin')), { instanceOf: TransferError });
  t.true(corrupter?.fired);
  t.is(error.failure, 'checksum');
  t.false(existsSync(join(dir, 'back.bin')));
  t.deepEqual(leftovers(dir), []);
  await serial.get(join(dir, 'on-dut.bin'), join(dir, 'back.bin'));
  t.true(readFileSync(join(dir, 'back.bin')).equals(readFileSync(join(dir, 'on-dut.bin'))));
});

test('a character that is not base64 on the way back is an encoding error, not silently skipped', async (t) => {
  let corrupter: ReturnType<typeof corrupting> | undefined;
  const serial = await serialOver(t, ['dash', '-i'], { wrap: (stream) => (corrupter = corrupting(stream, 'from-dut', () => '*')).stream });
  const dir = scratch(t);
  writeFileSync(join(dir, 'on-dut.bin'), allByteValues());
  corrupter?.arm();
  t.like(await t.throwsAsync(serial.get(join(dir, 'on-dut.bin'), join(dir, 'back.bin')), { instanceOf: TransferError }), { failure: 'encoding' });
});

test('failures are typed: no such remote file, no such remote directory, no such local file, a timeout', async (t) => {
  const serial = await serialOver(t, ['dash', '-i']);
  const dir = scratch(t);
  writeFileSync(join(dir, 'small'), 'x');
  const missing = await t.throwsAsync(serial.get(join(dir, 'nope'), join(dir, 'nope.local'), { step: 'fetch' }), { instanceOf: TransferError });
  t.like(missing, { failure: 'remote', dut: 'pty-1', step: 'fetch' });
  t.false(existsSync(join(dir, 'nope.local')));
  t.like(await t.throwsAsync(serial.put(join(dir, 'small'), join(dir, 'no-dir', 'small')), { instanceOf: TransferError }), { failure: 'remote' });
  t.like(await t.throwsAsync(serial.put(join(dir, 'absent'), join(dir, 'x')), { instanceOf: TransferError }), { failure: 'local' });
  const slow = await t.throwsAsync(serial.exec('sleep 30', { timeoutMs: 300, step: 'slow' }), { instanceOf: DutError });
  t.like(slow, { kind: 'timeout', dut: 'pty-1', step: 'slow' });
  t.like(await serial.exec('echo alive'), { stdout: 'alive\n' });
  await serial.close();
  t.like(await t.throwsAsync(serial.exec('true'), { instanceOf: DutError }), { kind: 'console-lost' });
});

// Serial tests run first and alone: the rates are not shared with the other ptys.
test.serial('transfers over the pty at every block size: 64 KiB each way, verified', async (t) => {
  const dir = scratch(t);
  const data = randomBytes(64 << 10);
  writeFileSync(join(dir, 'local.bin'), data);
  for (const blockBytes of [1024, 3648, 16 << 10]) {
    const serial = await serialOver(t, ['bash', '--norc', '--noprofile', '-i'], { transport: { blockBytes } });
    await serial.put(join(dir, 'local.bin'), join(dir, `on-dut-${blockBytes}.bin`));
    await serial.get(join(dir, `on-dut-${blockBytes}.bin`), join(dir, `back-${blockBytes}.bin`));
    t.true(readFileSync(join(dir, `back-${blockBytes}.bin`)).equals(data));
    const [put, get] = serial.transfers;
    t.log(`blocks of ${blockBytes} B: put ${((put?.bytesPerSecond ?? 0) / 1024).toFixed(1)} KiB/s, get ${((get?.bytesPerSecond ?? 0) / 1024).toFixed(1)} KiB/s`);
  }
});

// The sparse PATH really lacks what the fallback replaces.
test('the fallback DUT has no base64 and no sha256sum', (t) => {
  const probe = 'for t in base64 sha256sum md5sum od; do command -v $t >/dev/null && echo $t; done; true';
  t.is(execFileSync('/usr/bin/env', [`PATH=${SPARSE_BIN}`, '/bin/dash', '-c', probe], { encoding: 'utf8' }), 'md5sum\nod\n');
});
