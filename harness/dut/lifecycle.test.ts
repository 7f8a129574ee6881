import test from 'ava';
import { createActor, fromPromise } from 'xstate';
import { DutError } from '../errors.ts';
import type { Medium } from './drivers.ts';
import { lifecycle, type ExecRequest, type LifecycleEvent, type RebootOptions, type Reply, type WrittenMedium } from './lifecycle.ts';

type Fakes = Partial<Record<'prepare' | 'writeMedium' | 'powerOn' | 'flash' | 'waitForShell' | 'powerCycle' | 'reboot' | 'hardReset' | 'powerOff' | 'recoverFromFault' | 'restore' | 'saveGolden' | 'rewind', () => Promise<void>>> & {
  exec?: (request: ExecRequest) => Promise<unknown>;
  /** What writing the medium says of golden snapshots, given whether one may be resumed from. */
  golden?: (allowed: boolean) => WrittenMedium['golden'];
};

/** The chart run against fake actors; `calls` records which actors ran, in order. */
function start(fakes: Fakes, maxBootAttempts = 2, installer = false, golden = false) {
  const calls: string[] = [];
  const rebootInputs: RebootOptions[] = [];
  const ok = async () => undefined;
  const actor = (name: keyof Fakes) =>
    fromPromise<void, unknown>(async () => {
      calls.push(name);
      await ((fakes[name] as (() => Promise<void>) | undefined) ?? ok)();
    });
  const machine = lifecycle.provide({
    actors: {
      prepare: actor('prepare'),
      writeMedium: fromPromise<WrittenMedium, { resume: boolean }>(async ({ input }) => {
        calls.push(`writeMedium${input.resume ? ' (golden)' : ''}`);
        await fakes.writeMedium?.();
        const state = fakes.golden?.(input.resume);
        return { path: '/fake/disk', format: 'raw', ...(state ? { golden: state } : {}) };
      }),
      restore: actor('restore'),
      saveGolden: actor('saveGolden'),
      provision: fromPromise<void, Medium>(async ({ input }) => {
        calls.push(`provision ${input.path}`);
      }),
      powerOn: actor('powerOn'),
      flash: actor('flash'),
      waitForShell: actor('waitForShell'),
      powerCycle: actor('powerCycle'),
      reboot: fromPromise<void, RebootOptions>(async ({ input }) => {
        calls.push('reboot');
        rebootInputs.push(input);
        await (fakes.reboot ?? ok)();
      }),
      hardReset: actor('hardReset'),
      rewind: actor('rewind'),
      powerOff: actor('powerOff'),
      recoverFromFault: fromPromise<void, DutError>(async () => {
        calls.push('recoverFromFault');
        await (fakes.recoverFromFault ?? (async () => undefined))();
      }),
      exec: fromPromise<unknown, ExecRequest>(async ({ input }) => {
        calls.push(`exec ${input.describe}`);
        return (fakes.exec ?? (async () => 'ok'))(input);
      }),
    },
  });
  const states: string[] = [];
  const running = createActor(machine, { input: { dut: 'fake', maxBootAttempts, installer, golden } });
  running.subscribe((s) => {
    if (states.at(-1) !== String(s.value)) states.push(String(s.value));
  });
  running.start();
  const send = (make: (reply: Reply) => LifecycleEvent) =>
    new Promise<unknown>((resolve, reject) => running.send(make({ resolve, reject })));
  const exec = (command: string, transport: 'serial' | 'ssh' = 'serial') =>
    send((reply) => ({ type: 'EXEC', request: { describe: command, transport, run: async () => undefined }, reply }));
  return { running, calls, rebootInputs, states, send, exec };
}

test('boot walks idle → preparing → writing-medium → provisioning → powering-on → booting → ready and commands go through busy', async (t) => {
  const dut = start({});
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.deepEqual(dut.states, ['idle', 'preparing', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'ready']);
  t.is(await dut.exec('true'), 'ok');
  t.deepEqual(dut.states.slice(-2), ['busy', 'ready']);
  // The medium the write produced is what provisioning edits.
  t.deepEqual(dut.calls, ['prepare', 'writeMedium', 'provision /fake/disk', 'powerOn', 'waitForShell', 'exec true']);
});

test('an installer image is flashed once, between provisioning and the first power-on; a power cycle later boots what it installed', async (t) => {
  let boots = 0;
  const dut = start(
    {
      waitForShell: async () => {
        if (++boots === 1) throw new DutError('timeout', 'no login prompt', { dut: 'fake', step: 'boot' });
      },
    },
    2,
    true,
  );
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.deepEqual(dut.states, ['idle', 'preparing', 'writing-medium', 'provisioning', 'flashing', 'powering-on', 'booting', 'power-cycling', 'booting', 'ready']);
  t.deepEqual(dut.calls, ['prepare', 'writeMedium', 'provision /fake/disk', 'flash', 'powerOn', 'waitForShell', 'powerCycle', 'waitForShell']);
});

test('an installer that does not finish latches broken with its cause; the installed OS is never booted', async (t) => {
  const dut = start(
    {
      flash: async () => {
        throw new DutError('not-ready', 'the installer did not power the board off within 30 min', { dut: 'fake', step: 'flash' });
      },
    },
    2,
    true,
  );
  const error = await t.throwsAsync(dut.send((reply) => ({ type: 'BOOT', reply })), { instanceOf: DutError });
  t.regex(error?.message ?? '', /broken since an earlier failure \(not-ready\): the installer did not power the board off/);
  t.deepEqual(dut.calls, ['prepare', 'writeMedium', 'provision /fake/disk', 'flash']);
});

test('a medium that fails to write (a verification mismatch) latches broken before the board is powered on', async (t) => {
  const dut = start({
    writeMedium: async () => {
      throw new DutError('tool', '/dev/sda: read back differs from the image at MiB 13', { dut: 'fake', step: 'verify medium' });
    },
  });
  const error = await t.throwsAsync(dut.send((reply) => ({ type: 'BOOT', reply })), { instanceOf: DutError });
  t.is(error?.kind, 'broken');
  t.regex(error?.message ?? '', /broken since an earlier failure \(tool\): \/dev\/sda: read back differs/);
  t.deepEqual(dut.calls, ['prepare', 'writeMedium']);
  t.deepEqual(dut.states, ['idle', 'preparing', 'writing-medium', 'broken']);
});

test('a failed boot is power-cycled, within the bound, then latches broken with the cause', async (t) => {
  let boots = 0;
  const dut = start({
    waitForShell: async () => {
      boots++;
      throw new DutError('timeout', `no login prompt (boot ${boots})`, { dut: 'fake', step: 'boot' });
    },
  });
  const error = await t.throwsAsync(dut.send((reply) => ({ type: 'BOOT', reply })), { instanceOf: DutError });
  t.is(error?.kind, 'broken');
  t.is(error?.message, 'dut fake, step boot: broken since an earlier failure (timeout): no login prompt (boot 2)');
  t.is(boots, 2);
  t.deepEqual(dut.calls, ['prepare', 'writeMedium', 'provision /fake/disk', 'powerOn', 'waitForShell', 'powerCycle', 'waitForShell']);
  t.is(dut.states.at(-1), 'broken');

  // Latched: later requests fail at once with the first cause, without touching the board.
  const later = await t.throwsAsync(dut.exec('true'), { instanceOf: DutError });
  t.is(later?.kind, 'broken');
  t.regex(later?.message ?? '', /boot 2/);
  t.is(dut.calls.length, 7);
});

test('a second boot attempt that succeeds clears the retry count', async (t) => {
  let boots = 0;
  const dut = start({
    waitForShell: async () => {
      if (++boots === 1) throw new DutError('panic', 'Kernel panic - not syncing', { dut: 'fake', step: 'boot' });
    },
  });
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.is(dut.states.at(-1), 'ready');
  t.true(dut.states.includes('power-cycling'));
});

test("a command that fails is an error for the caller; a panic during it is the caller's, then the DUT recovers", async (t) => {
  let mode: 'plain' | 'panic' | 'died' = 'plain';
  const dut = start({
    exec: async () => {
      if (mode === 'plain') throw new DutError('timeout', 'ssh command timed out', { dut: 'fake', step: 'ssh exec' });
      if (mode === 'died') throw new DutError('process', 'QEMU exited (signal SIGKILL)', { dut: 'fake' });
      throw new DutError('panic', 'Kernel panic - not syncing: sysrq triggered crash', { dut: 'fake', step: 'serial exec' });
    },
  });
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  const plain = await t.throwsAsync(dut.exec('sleep 99', 'ssh'), { instanceOf: DutError });
  t.is(plain?.kind, 'timeout');
  t.is(dut.states.at(-1), 'ready');

  mode = 'panic';
  const panic = await t.throwsAsync(dut.exec('echo c > /proc/sysrq-trigger'), { instanceOf: DutError });
  t.is(panic?.kind, 'panic');
  t.regex(panic?.message ?? '', /sysrq triggered crash/);
  t.deepEqual(dut.states.slice(-3), ['busy', 'recovering', 'ready']);

  mode = 'died';
  const died = await t.throwsAsync(dut.exec('true'), { instanceOf: DutError });
  t.is(died?.kind, 'broken');
  t.is(dut.states.at(-1), 'broken');
});

test('a FAULT while a command runs rejects it with the fault at once; the DUT recovers for the next request', async (t) => {
  const dut = start({ exec: () => new Promise(() => undefined) });
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  const pending = dut.exec('sleep 600', 'ssh');
  await new Promise((resolve) => setTimeout(resolve, 20));
  dut.running.send({ type: 'FAULT', error: new DutError('reset', 'boot banner: BdsDxe: loading Boot0001', { dut: 'fake' }) });
  const error = await t.throwsAsync(pending, { instanceOf: DutError });
  t.is(error?.kind, 'reset');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(dut.states.slice(-3), ['busy', 'recovering', 'ready']);
  t.is(dut.calls.at(-1), 'recoverFromFault');
});

test('a FAULT while idle recovers; when the DUT does not come back by itself it is power-cycled', async (t) => {
  const dut = start({
    recoverFromFault: async () => {
      throw new DutError('timeout', 'no kernel banner after the panic', { dut: 'fake' });
    },
  });
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  dut.running.send({ type: 'FAULT', error: new DutError('panic', 'kernel trace: Kernel panic - not syncing', { dut: 'fake' }) });
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(dut.states.slice(-5), ['ready', 'recovering', 'power-cycling', 'booting', 'ready']);
});

test('a reboot the harness had to rescue is rejected as reboot-hung (or as the panic seen), then the DUT is ready again', async (t) => {
  let reboots = 0;
  const dut = start(
    {
      reboot: async () => {
        reboots++;
        if (reboots === 1) throw new DutError('timeout', 'kernel boot 1 not seen within 120000 ms', { dut: 'fake', step: 'reboot', excerpt: 'reboot: Restarting system' });
        if (reboots === 2) throw new DutError('panic', 'kernel trace: Kernel panic - not syncing: VFS', { dut: 'fake', step: 'reboot' });
      },
    },
    3,
  );
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  const hung = await t.throwsAsync(dut.send((reply) => ({ type: 'REBOOT', reply })), { instanceOf: DutError });
  t.is(hung?.kind, 'reboot-hung');
  t.regex(hung?.message ?? '', /did not come back by itself .*kernel boot 1 not seen/);
  t.is(hung?.excerpt, 'reboot: Restarting system');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(dut.states.slice(-4), ['rebooting', 'power-cycling', 'booting', 'ready']);

  const panic = await t.throwsAsync(dut.send((reply) => ({ type: 'REBOOT', reply })), { instanceOf: DutError });
  t.is(panic?.kind, 'panic');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(dut.states.at(-1), 'ready');
  await dut.send((reply) => ({ type: 'REBOOT', reply }));
  t.is(reboots, 3, 'a reboot that comes back by itself resolves');
});

test('a hard reset after which the OS does not boot is rejected as reboot-hung', async (t) => {
  let shells = 0;
  const dut = start({
    waitForShell: async () => {
      if (++shells === 2) throw new DutError('timeout', 'no shell prompt within 360000 ms', { dut: 'fake', step: 'boot' });
    },
  });
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  const error = await t.throwsAsync(dut.send((reply) => ({ type: 'HARD_RESET', reply })), { instanceOf: DutError });
  t.is(error?.kind, 'reboot-hung');
  t.regex(error?.message ?? '', /after a reset the OS did not come back by itself/);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.is(dut.states.at(-1), 'ready');
});

test('a serial command timeout latches broken; RECOVER power-cycles back to ready', async (t) => {
  let hang = true;
  const dut = start({
    exec: async () => {
      if (hang) throw new DutError('timeout', 'no end marker', { dut: 'fake', step: 'serial exec' });
      return 'ok';
    },
  });
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  await t.throwsAsync(dut.exec('hang'));
  t.is(dut.states.at(-1), 'broken');
  hang = false;
  await dut.send((reply) => ({ type: 'RECOVER', reply }));
  t.is(dut.states.at(-1), 'ready');
  t.is(await dut.exec('true'), 'ok');
  t.deepEqual(dut.calls.slice(-3), ['powerCycle', 'waitForShell', 'exec true']);
});

test('reboot, hard reset and power off go through their states and back', async (t) => {
  const dut = start({});
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  await dut.send((reply) => ({ type: 'REBOOT', options: { initiate: false, kernelBoots: 2 }, reply }));
  await dut.send((reply) => ({ type: 'REBOOT', reply }));
  await dut.send((reply) => ({ type: 'HARD_RESET', reply }));
  await dut.send((reply) => ({ type: 'POWER_OFF', reply }));
  t.deepEqual(dut.states.slice(6), ['ready', 'rebooting', 'ready', 'rebooting', 'ready', 'resetting', 'booting', 'ready', 'powering-off', 'off']);
  // Each reboot gets its own request's options, none left over from the one before.
  t.deepEqual(dut.rebootInputs, [{ initiate: false, kernelBoots: 2 }, {}]);
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.is(dut.states.at(-1), 'ready');
});

test('requests that make no sense in the current state are refused, not queued forever', async (t) => {
  const dut = start({});
  const error = await t.throwsAsync(dut.exec('true'), { instanceOf: DutError });
  t.regex(error?.message ?? '', /not possible now/);
  t.is(dut.states.at(-1), 'idle');
});

test("a board that gives no sign of restarting after a reset is a power error, not the OS's; it is power-cycled", async (t) => {
  let resets = 0;
  const dut = start({
    hardReset: async () => {
      if (++resets === 1) throw new DutError('power', 'the board showed no sign of restarting within 120 s of the hard reset', { dut: 'fake' });
    },
  });
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  const error = await t.throwsAsync(dut.send((reply) => ({ type: 'HARD_RESET', reply })), { instanceOf: DutError });
  t.is(error?.kind, 'power');
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(dut.states.slice(-4), ['resetting', 'power-cycling', 'booting', 'ready']);
});

test('a golden snapshot resumes: writing-medium → restoring → ready, with no provisioning and no boot', async (t) => {
  const dut = start({ golden: (allowed) => (allowed ? 'resume' : undefined) }, 2, false, true);
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.deepEqual(dut.states, ['idle', 'preparing', 'writing-medium', 'restoring', 'ready']);
  t.deepEqual(dut.calls, ['prepare', 'writeMedium (golden)', 'restore']);
});

test('a golden snapshot that does not resume is given up: the medium is written again without it and the DUT boots cold, the boot request still answered', async (t) => {
  const dut = start(
    {
      golden: (allowed) => (allowed ? 'resume' : undefined),
      restore: async () => {
        throw new DutError('timeout', 'no shell within 60 s of resuming', { dut: 'fake', step: 'restore' });
      },
    },
    2,
    false,
    true,
  );
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.deepEqual(dut.states, ['idle', 'preparing', 'writing-medium', 'restoring', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'ready']);
  t.deepEqual(dut.calls, ['prepare', 'writeMedium (golden)', 'restore', 'writeMedium', 'provision /fake/disk', 'powerOn', 'waitForShell']);
  t.regex(dut.running.getSnapshot().context.why ?? '', /did not resume \(no shell within 60 s of resuming\)/);
});

test('a first boot saves a golden snapshot once, before ready (a state not saved is the actor\'s note, not an error); later boots do not save', async (t) => {
  const dut = start({ golden: (allowed) => (allowed ? 'save' : undefined) }, 2, false, true);
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.deepEqual(dut.states, ['idle', 'preparing', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'saving-golden', 'ready']);
  await dut.send((reply) => ({ type: 'HARD_RESET', reply }));
  t.deepEqual(dut.states.slice(-3), ['resetting', 'booting', 'ready']);
  t.is(dut.calls.filter((c) => c === 'saveGolden').length, 1);
});

test('a fault while the first boot saves its golden snapshot is the boot\'s: the DUT is power-cycled and boots again, without saving', async (t) => {
  const dut = start(
    {
      golden: (allowed) => (allowed ? 'save' : undefined),
      saveGolden: async () => {
        throw new DutError('panic', 'Kernel panic - not syncing: while settling', { dut: 'fake' });
      },
    },
    2,
    false,
    true,
  );
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  t.deepEqual(dut.states, ['idle', 'preparing', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'saving-golden', 'power-cycling', 'booting', 'ready']);
  t.is(dut.calls.filter((c) => c === 'saveGolden').length, 1);
});

test('a rewind takes the ready DUT back to its golden state and answers; one that fails is the caller\'s error and the board is power-cycled for the next', async (t) => {
  let fail = false;
  const dut = start({
    golden: (allowed) => (allowed ? 'resume' : undefined),
    rewind: async () => {
      if (fail) throw new DutError('tool', 'loadvm dutlab-golden: Snapshot not found', { dut: 'fake', step: 'rewind' });
    },
  }, 2, false, true);
  await dut.send((reply) => ({ type: 'BOOT', reply }));
  await dut.send((reply) => ({ type: 'REWIND', reply }));
  t.deepEqual(dut.states.slice(-2), ['rewinding', 'ready']);
  fail = true;
  const error = await t.throwsAsync(dut.send((reply) => ({ type: 'REWIND', reply })), { instanceOf: DutError });
  t.regex(error?.message ?? '', /Snapshot not found/);
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.deepEqual(dut.states.slice(-4), ['rewinding', 'power-cycling', 'booting', 'ready']);
});
