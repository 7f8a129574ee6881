import test, { type ExecutionContext } from 'ava';
import type { ShellyPower } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { PlugEmulator } from '../../rig/plug-emulator.ts';
import { bindPower } from './index.ts';
import { checkCycleThenOff, SwitchLog } from './testing/fixtures.ts';

const BOARD = 'nuc-lab2';

async function plug(t: ExecutionContext) {
  const log = new SwitchLog();
  // Shelly switch id 1 is the emulator's output 2.
  const emulator = await PlugEmulator.start({ outputs: 2, onSwitch: (output, on) => output === 2 && log.record(on) });
  t.teardown(() => emulator.stop());
  return { emulator, log };
}

function bind(url: string, settings: Partial<ShellyPower> = {}) {
  return bindPower({ kind: 'shelly', url, switch: 1, minOffMs: 300, timeoutMs: 2000, ...settings }, BOARD);
}

test('Shelly: a switch is set, read back, and kept off minOffMs in a cycle', async (t) => {
  const { emulator, log } = await plug(t);
  const power = bind(emulator.url);
  await power.on();
  t.is(power.state(), 'on');
  t.true(emulator.state(2));
  t.false(emulator.state(1));
  await checkCycleThenOff(t, power, log, 300);
});

test('Shelly: a switch id the device does not have is a power error with its RPC error', async (t) => {
  const { emulator } = await plug(t);
  const error = await t.throwsAsync(bind(emulator.url, { switch: 4 }).on(), { instanceOf: DutError });
  t.is(error.kind, 'power');
  t.is(error.dut, BOARD);
  t.true(error.message.includes(`Shelly switch ${emulator.url} id 4: GET ${emulator.url}/rpc/Switch.Set?id=4&on=true answered HTTP 500: {"code":-105,"message":"Argument 'id', value 4 not found!"}`), error.message);
});

test('Shelly: a device that never answers is a power error within timeoutMs', async (t) => {
  const { emulator } = await plug(t);
  const power = bind(emulator.url, { timeoutMs: 400 });
  emulator.silent = true;
  const started = Date.now();
  const error = await t.throwsAsync(power.cycle(), { instanceOf: DutError });
  const took = Date.now() - started;
  t.is(error.step, 'power cycle');
  t.true(error.message.includes(`Shelly switch ${emulator.url} id 1 did not answer within 0.4 s (switching off)`), error.message);
  t.true(took >= 400 && took < 1400, `gave up after ${took} ms`);
});

test('the plug emulator answers the Shelly gen2 Switch RPCs', async (t) => {
  const { emulator } = await plug(t);
  const call = async (query: string): Promise<[number, unknown]> => {
    const response = await fetch(`${emulator.url}/rpc/${query}`);
    return [response.status, await response.json()];
  };
  t.deepEqual(await call('Switch.Set?id=0&on=true'), [200, { was_on: false }]);
  t.deepEqual(await call('Switch.Toggle?id=0'), [200, { was_on: true }]);
  t.like((await call('Switch.GetStatus?id=0'))[1] as object, { id: 0, output: false });
  t.deepEqual(await call('Switch.Set?id=0'), [500, { code: -103, message: "Missing required argument 'on'!" }]);
  t.deepEqual(await call('Switch.Frobnicate?id=0'), [404, { code: 404, message: 'No handler for Switch.Frobnicate' }]);
});
