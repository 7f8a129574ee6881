import test, { type ExecutionContext } from 'ava';
import { readdir, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { LcusPower } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { LcusEmulator } from '../../rig/lcus-emulator.ts';
import { closeSerialLine, openSerialLine } from '../serial-line.ts';
import { bindPower } from './index.ts';
import { lcusFrame } from './lcus.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import { NOTICE_JITTER_MS, SwitchLog } from './testing/fixtures.ts';

const BOARD = 'rpi4-lab3';

/** An emulated two-channel module on a pty, and the log of what channel 2 felt. */
async function relay(t: ExecutionContext) {
  const link = path.join(await tempDir(t, 'lcus'), 'ttyUSB-relay');
  const log = new SwitchLog();
  const emulator = await LcusEmulator.start({ link, channels: 2, onSwitch: (channel, on) => channel === 2 && log.record(on) });
  t.teardown(() => emulator.stop());
  return { link, log, emulator };
}

function bind(t: ExecutionContext, link: string, settings: Partial<LcusPower> = {}) {
  const power = bindPower({ kind: 'lcus', port: { device: link }, channel: 2, baud: 9600, status: false, minOffMs: 400, timeoutMs: 2000, ...settings }, BOARD);
  t.teardown(() => power.release());
  return power;
}

test('frames are the vendor documentation\'s', (t) => {
  t.deepEqual([...lcusFrame(1, true)], [0xa0, 0x01, 0x01, 0xa2]);
  t.deepEqual([...lcusFrame(1, false)], [0xa0, 0x01, 0x00, 0xa1]);
});

test('on, off and cycle switch the channel, and a cycle keeps the board off for minOffMs', async (t) => {
  const { link, log, emulator } = await relay(t);
  const power = bind(t, link);
  t.is(power.state(), 'unknown');
  await power.on();
  await log.reach(1);
  t.true(emulator.state(2));
  t.false(emulator.state(1));
  t.is(power.state(), 'on');
  await power.off();
  await log.reach(2);
  t.false(emulator.state(2));

  await power.on();
  const started = Date.now();
  await power.cycle();
  t.true(Date.now() - started >= 400, `cycle took ${Date.now() - started} ms`);
  const events = await log.reach(5);
  t.deepEqual(log.sequence, [true, false, true, false, true]);
  const [, , , off, on] = events as [unknown, unknown, unknown, { at: number }, { at: number }];
  t.true(on.at - off.at >= 400 - NOTICE_JITTER_MS, `the board was off ${on.at - off.at} ms`);
  t.is(power.state(), 'on');
});

test('a cycle counts the off time from an earlier off()', async (t) => {
  const { link, log } = await relay(t);
  const power = bind(t, link, { minOffMs: 800 });
  const offCalled = Date.now();
  await power.off();
  await log.reach(1);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const started = Date.now();
  await power.cycle();
  const took = Date.now() - started;
  t.true(Date.now() - offCalled >= 800, 'the driver switched on before minOffMs had passed');
  const events = await log.reach(3);
  t.deepEqual(log.sequence, [false, false, true]);
  t.true((events[2] as { at: number }).at - (events[0] as { at: number }).at >= 800 - NOTICE_JITTER_MS);
  t.true(took < 700, `the cycle waited the whole off time again (${took} ms)`);
});

test('the module ignores a frame with a bad checksum and resynchronises on the next start byte', async (t) => {
  const { link, log, emulator } = await relay(t);
  const line = await openSerialLine(link, 9600, BOARD);
  t.teardown(() => closeSerialLine(line));
  const write = (bytes: number[]): Promise<void> =>
    new Promise((resolve, reject) => {
      line.write(Buffer.from(bytes));
      line.drain((error) => (error ? reject(error) : resolve()));
    });
  await write([0xa0, 0x02, 0x01, 0xa4]);
  await write([0x13, 0x37, 0xa0, 0x02, 0x01, 0xa3]);
  await log.reach(1);
  t.deepEqual(log.sequence, [true], 'only the good frame after the garbage switched');
  t.true(emulator.state(2));
});

test('with status, the state is read back from the module', async (t) => {
  const { link, emulator } = await relay(t);
  const power = bind(t, link, { status: true });
  await power.on();
  t.is(power.state(), 'on');
  t.true(emulator.state(2));
  await power.off();
  t.is(power.state(), 'off');
  t.false(emulator.state(2));
});

test('a relay that never answers is a power error naming the board and the device, within timeoutMs', async (t) => {
  const { link, emulator } = await relay(t);
  const power = bind(t, link, { status: true, timeoutMs: 500 });
  emulator.silent = true;
  const started = Date.now();
  const error = await t.throwsAsync(power.on(), { instanceOf: DutError });
  const took = Date.now() - started;
  t.is(error.kind, 'power');
  t.is(error.dut, BOARD);
  t.is(error.step, 'power on');
  t.true(error.message.includes(`LCUS relay ${link} channel 2 did not answer within 0.5 s`), error.message);
  t.true(took >= 500 && took < 1500, `gave up after ${took} ms`);
  t.is(power.state(), 'unknown');
  t.false(emulator.state(2));

  emulator.silent = false;
  await power.on();
  t.is(power.state(), 'on', 'the next operation reopened the port the timed-out one abandoned');
});

test('a relay that is not plugged in is named with its board', async (t) => {
  const power = bind(t, path.join(await tempDir(t, 'lcus'), 'absent'));
  const error = await t.throwsAsync(power.off(), { instanceOf: DutError });
  t.is(error.dut, BOARD);
  t.regex(error.message, /power relay: .*absent is not present/);
});

test('the port stays open between operations and release closes it', async (t) => {
  const { link } = await relay(t);
  const power = bind(t, link);
  const tty = await realpath(link);
  const held = async (): Promise<number> => {
    const fds = await readdir('/proc/self/fd');
    const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return targets.filter((target) => target === tty).length;
  };
  await power.on();
  await power.off();
  t.is(await held(), 1);
  await power.release();
  t.is(await held(), 0);
});
