import test, { type ExecutionContext } from 'ava';
import type { TasmotaPower } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { PlugEmulator } from '../../rig/plug-emulator.ts';
import { bindPower } from './index.ts';
import { checkCycleThenOff, SwitchLog } from './testing/fixtures.ts';

const BOARD = 'rpi4-lab1';

async function plug(t: ExecutionContext, outputs: number, watched: number) {
  const log = new SwitchLog();
  const emulator = await PlugEmulator.start({ outputs, onSwitch: (output, on) => output === watched && log.record(on) });
  t.teardown(() => emulator.stop());
  return { emulator, log };
}

function bind(url: string, settings: Partial<TasmotaPower> = {}) {
  return bindPower({ kind: 'tasmota', url, output: 2, minOffMs: 300, timeoutMs: 2000, ...settings }, BOARD);
}

test('Tasmota: an output of a power strip is switched, read back, and kept off minOffMs in a cycle', async (t) => {
  const { emulator, log } = await plug(t, 2, 2);
  const power = bind(emulator.url);
  await power.on();
  t.is(power.state(), 'on');
  t.true(emulator.state(2));
  t.false(emulator.state(1));
  await checkCycleThenOff(t, power, log, 300);
});

test('Tasmota: a single-output plug answers POWER, which is output 1', async (t) => {
  const { emulator } = await plug(t, 1, 1);
  const power = bind(`${emulator.url}/`, { output: 1 });
  await power.on();
  t.is(power.state(), 'on');
  t.true(emulator.state(1));
});

test('Tasmota: an output the plug does not have is a power error quoting its answer', async (t) => {
  const { emulator } = await plug(t, 1, 1);
  const error = await t.throwsAsync(bind(emulator.url, { output: 3 }).on(), { instanceOf: DutError });
  t.is(error.kind, 'power');
  t.true(error.message.includes(`Tasmota plug ${emulator.url} output 3: answered {"Command":"Unknown"}, not the state of output 3`), error.message);
});

test('Tasmota: a plug that never answers is a power error within timeoutMs, and the next operation works again', async (t) => {
  const { emulator } = await plug(t, 2, 2);
  const power = bind(emulator.url, { timeoutMs: 400 });
  emulator.silent = true;
  const started = Date.now();
  const error = await t.throwsAsync(power.off(), { instanceOf: DutError });
  const took = Date.now() - started;
  t.is(error.kind, 'power');
  t.is(error.dut, BOARD);
  t.is(error.step, 'power off');
  t.true(error.message.includes(`Tasmota plug ${emulator.url} output 2 did not answer within 0.4 s (switching off)`), error.message);
  t.true(took >= 400 && took < 1400, `gave up after ${took} ms`);
  emulator.silent = false;
  await power.on();
  t.is(power.state(), 'on');
});

test('the plug emulator answers the Power command forms as Tasmota does', async (t) => {
  const { emulator } = await plug(t, 2, 1);
  const send = async (cmnd: string): Promise<unknown> => (await fetch(`${emulator.url}/cm?cmnd=${encodeURIComponent(cmnd)}`)).json();
  t.deepEqual(await send('Power1 Toggle'), { POWER1: 'ON' });
  t.deepEqual(await send('power2 1'), { POWER2: 'ON' });
  t.deepEqual(await send('Power OFF'), { POWER1: 'OFF' }, 'no index is output 1');
  t.deepEqual(await send('Power2'), { POWER2: 'ON' });
  t.deepEqual(await send('Power2 Status'), { POWER2: 'ON' }, 'a payload that is not a state shows the state');
  t.deepEqual(await send('Power0 off'), { POWER1: 'OFF', POWER2: 'OFF' });
  t.deepEqual(await send('Power3 On'), { Command: 'Unknown' });
  t.deepEqual(await send('Dimmer 50'), { Command: 'Unknown' });
});
