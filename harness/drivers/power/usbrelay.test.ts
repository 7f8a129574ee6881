import test, { type ExecutionContext } from 'ava';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DutError } from '../../errors.ts';
import { installCommand } from '../../rig/commands.ts';
import { watchSwitchFile } from '../../rig/relay-files.ts';
import { bindPower } from './index.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import { NOTICE_JITTER_MS, SwitchLog } from './testing/fixtures.ts';

const EMULATOR = path.resolve(import.meta.dirname, '../../rig/bin/usbrelay.ts');
const BOARD = 'nuc-lab2';

/** A two-relay HID board behind the emulated `usbrelay`, installed as a rig installs it. */
async function relayBoard(t: ExecutionContext) {
  const dir = await tempDir(t, 'usbrelay');
  const state = path.join(dir, 'state');
  await mkdir(state);
  await writeFile(path.join(state, 'relays'), 'HURTM_1\nHURTM_2\n');
  const command = await installCommand(dir, 'usbrelay', EMULATOR, state);
  return { state, command };
}

test('usbrelay switches its relay, reads it back, and a cycle keeps it open minOffMs', async (t) => {
  const { state, command } = await relayBoard(t);
  const log = new SwitchLog();
  const watch = watchSwitchFile(path.join(state, 'HURTM_2'), log.record);
  t.teardown(() => watch.stop());
  const power = bindPower({ kind: 'usbrelay', relay: 'HURTM_2', command, minOffMs: 500, timeoutMs: 5000 }, BOARD);

  await power.on();
  t.is(power.state(), 'on');
  t.is(await readFile(path.join(state, 'HURTM_2'), 'utf8'), '1\n');
  await power.cycle();
  t.is(power.state(), 'on');
  const events = await log.reach(3);
  t.deepEqual(log.sequence, [true, false, true]);
  const [, off, on] = events as [unknown, { at: number }, { at: number }];
  t.true(on.at - off.at >= 500 - NOTICE_JITTER_MS, `the relay was open ${on.at - off.at} ms`);
  await power.off();
  t.is(power.state(), 'off');
  await log.reach(4);
  t.deepEqual(log.sequence, [true, false, true, false]);
  await t.throwsAsync(readFile(path.join(state, 'HURTM_1'), 'utf8'), { code: 'ENOENT' }, 'the other relay was never switched');
});

test('a relay usbrelay does not find is a power error with what the tool said', async (t) => {
  const { command } = await relayBoard(t);
  const power = bindPower({ kind: 'usbrelay', relay: 'HURTM_9', command, minOffMs: 500, timeoutMs: 5000 }, BOARD);
  const error = await t.throwsAsync(power.on(), { instanceOf: DutError });
  t.is(error.kind, 'power');
  t.is(error.dut, BOARD);
  t.true(error.message.includes(`USB relay HURTM_9: ${command} failed: Command failed with exit code 1: ${command} 'HURTM_9=1'\nusbrelay: no relay HURTM_9 (found: HURTM_1, HURTM_2)`), error.message);
  t.is(power.state(), 'unknown');
});
