import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { GpioPower } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { isRunning, waitUntilGone } from '../../proc/pids.ts';
import { installCommand } from '../../rig/commands.ts';
import { bindPower } from './index.ts';
import { tempDir } from '../../testing/temp-dir.ts';

const EMULATOR = path.resolve(import.meta.dirname, '../../rig/bin/gpioset.ts');
const REPO = path.resolve(import.meta.dirname, '../../..');
const BOARD = 'rpi4-lab1';

/** A host with one GPIO chip behind the emulated `gpioset`, installed as a rig installs it. */
async function gpioHost(t: ExecutionContext) {
  const dir = await tempDir(t, 'gpio');
  const state = path.join(dir, 'state');
  await mkdir(path.join(state, 'gpiochip0'), { recursive: true });
  const command = await installCommand(dir, 'gpioset', EMULATOR, state);
  const line = path.join(state, 'gpiochip0', '17');
  const level = (): Promise<string> => readFile(line, 'utf8').then((text) => text.trim(), () => 'undriven');
  const holder = (): Promise<number> => readFile(`${line}.holder`, 'utf8').then(Number, () => 0);
  return { command, level, holder };
}

function bind(t: ExecutionContext, command: string, settings: Partial<GpioPower> = {}) {
  const power = bindPower({ kind: 'gpio', chip: 'gpiochip0', line: 17, activeLow: false, command, minOffMs: 200, timeoutMs: 5000, ...settings }, BOARD);
  t.teardown(() => power.release());
  return power;
}

test('gpioset holds the line at each value until the next replaces it, and lets go on release', async (t) => {
  const { command, level, holder } = await gpioHost(t);
  const power = bind(t, command);
  await power.on();
  t.is(await level(), '1');
  const first = await holder();
  t.true(isRunning(first), 'a gpioset process holds the line');
  // The emulator refuses a second holder as the kernel does: this passes only if the first one was gone first.
  await power.off();
  t.is(await level(), '0');
  t.false(isRunning(first));
  await power.cycle();
  t.is(await level(), '1');
  t.is(power.state(), 'on');
  const last = await holder();
  await power.on();
  t.is(await holder(), last, 'the value already held is kept by the same process, without letting go of the line');
  await power.release();
  t.is(await level(), 'undriven');
  t.true(await waitUntilGone(last, 2000));
});

test('a holder slow to let go of the line is waited for before the next value is set', async (t) => {
  const { command, level } = await gpioHost(t);
  // The holder lets go 600 ms after SIGTERM (in its own session, out of reach of the signal to the driver's child).
  const slow = path.join(path.dirname(command), 'slow-gpioset');
  await writeFile(slow, `#!/bin/sh\nsetsid ${command} "$@" &\nchild=$!\ntrap 'sleep 0.6; kill -TERM $child; wait $child; exit 0' TERM\nwait $child\n`);
  await chmod(slow, 0o755);
  const power = bind(t, slow);
  await power.on();
  const started = Date.now();
  await power.off();
  t.true(Date.now() - started >= 600);
  t.is(await level(), '0');
});

test('an active-low line is driven low for on', async (t) => {
  const { command, level } = await gpioHost(t);
  const power = bind(t, command, { activeLow: true });
  await power.on();
  t.is(await level(), '0');
  await power.off();
  t.is(await level(), '1');
});

// Serial, so it runs alone first: the driver sees the failure only if the emulator's Node starts and fails within the hold settle time.
test.serial('a chip that does not exist is a power error with what gpioset said', async (t) => {
  const { command } = await gpioHost(t);
  const power = bind(t, command, { chip: 'gpiochip7' });
  const error = await t.throwsAsync(power.on(), { instanceOf: DutError });
  t.is(error.kind, 'power');
  t.is(error.dut, BOARD);
  t.regex(error.message, /GPIO gpiochip7 line 17: `.*gpioset --mode=signal gpiochip7 17=1` exited 1 instead of holding the line:\ngpioset: error setting the GPIO line values: No such file or directory/);
});

test('the process holding the line does not outlive the harness', async (t) => {
  const { command, holder } = await gpioHost(t);
  const script = `
    import { bindPower } from './harness/drivers/power/index.ts';
    const power = bindPower({ kind: 'gpio', chip: 'gpiochip0', line: 17, activeLow: false, command: ${JSON.stringify(command)}, minOffMs: 0, timeoutMs: 5000 }, 'b');
    await power.on();
    process.exit(0);
  `;
  await execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO });
  const pid = await holder();
  t.true(pid > 0);
  t.true(await waitUntilGone(pid, 2000), `gpioset (pid ${pid}) still runs after the harness exited`);
});
