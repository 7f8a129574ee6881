import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DutError } from '../../errors.ts';
import { waitUntilGone } from '../../proc/pids.ts';
import { bindPower } from './index.ts';
import { tempDir } from '../../testing/temp-dir.ts';

const BOARD = 'pdu-board';
const bounds = { minOffMs: 200, timeoutMs: 2000 };
const sh = (script: string): string[] => ['sh', '-c', script];

test('a command switch runs on and off, and reads the state back with status', async (t) => {
  const outlet = path.join(await tempDir(t, 'pdu'), 'outlet');
  const power = bindPower({ kind: 'command', on: sh(`echo on > ${outlet}`), off: sh(`echo off > ${outlet}`), status: sh(`echo "outlet 3: $(cat ${outlet})"`), ...bounds }, BOARD);
  await power.on();
  t.is(power.state(), 'on');
  await power.cycle();
  t.is(power.state(), 'on');
  await power.off();
  t.is(power.state(), 'off');
  t.is(await readFile(outlet, 'utf8'), 'off\n');
});

test('an off command that fails is a power error with its stderr', async (t) => {
  const power = bindPower({ kind: 'command', on: ['true'], off: sh('echo "pdu: outlet 3 is locked" >&2; exit 4'), ...bounds }, BOARD);
  await power.on();
  const error = await t.throwsAsync(power.off(), { instanceOf: DutError });
  t.is(error.kind, 'power');
  t.is(error.dut, BOARD);
  t.is(error.step, 'power off');
  t.regex(error.reason, /exit code 4: sh -c .*\npdu: outlet 3 is locked$/, error.reason);
  t.is(power.state(), 'unknown');
});

test('a status that disagrees with what was set is a power error', async (t) => {
  const power = bindPower({ kind: 'command', on: ['true'], off: ['true'], status: sh('echo "Outlet state: OFF"'), ...bounds }, BOARD);
  const error = await t.throwsAsync(power.on(), { instanceOf: DutError });
  t.regex(error.message, /power command `true`: reads off after switching on/);
  t.is(power.state(), 'off', 'the state is what was read');
});

test('a command that hangs is a power error within timeoutMs, and is killed', async (t) => {
  const pidFile = path.join(await tempDir(t, 'pdu'), 'pid');
  const power = bindPower({ kind: 'command', on: sh(`echo $$ > ${pidFile}; exec sleep 30`), off: ['true'], minOffMs: 0, timeoutMs: 300 }, BOARD);
  const started = Date.now();
  const error = await t.throwsAsync(power.on(), { instanceOf: DutError });
  t.true(Date.now() - started < 1300);
  t.regex(error.message, /did not answer within 0.3 s \(switching on\)/);
  const pid = Number(await readFile(pidFile, 'utf8'));
  t.true(await waitUntilGone(pid, 2000), 'the hung command still runs');
});
