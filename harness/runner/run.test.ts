/**
 * The runner's decisions (order, skips, bail, known-flaky, fail vs error,
 * the broken latch, teardown after failure) against a scripted DUT. The real
 * DUT and QEMU are exercised by the suites themselves and harness/dut tests.
 */
import test from 'ava';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Transcript } from '../console/transcript.ts';
import type { Dut } from '../dut/dut.ts';
import type { Fault } from '../dut/dut.ts';
import { abortReason, DutError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { Reporter } from '../report/index.ts';
import { tempDirs } from '../report/testing/fixtures.ts';
import type { LoadedSuite } from './discover.ts';
import type { Isolation } from './isolation.ts';
import type { RebootMode } from './shared-reboot.ts';
import { SuiteSequencer } from '../report/index.ts';
import { Timeline } from '../dut/timeline.ts';
import { runSuites, runSuitesOn } from './run.ts';
import { acrossReboot, type Feature, type RebootTest, type TestDefinition } from './types.ts';

interface FakeDut {
  state: string;
  cause: DutError | undefined;
  boots: number;
  commands: string[];
  /** Reboots asked for; each that succeeds starts boot `boot-<n>`. */
  reboots: number;
  /** What the next reboot throws, if anything. */
  rebootFails?: Error;
  /** The DUT holds a golden state; rewinds are recorded in `commands`. */
  rewindable?: boolean;
  /** What the next rewind throws, if anything. */
  rewindFails?: Error;
}

type Outcome = { stdout?: string; exitCode?: number } | Error | Promise<{ stdout?: string; exitCode?: number }>;

function fakeDut(script: (command: string) => Outcome = () => ({}), name = 'fake') {
  const record: FakeDut = { state: 'idle', cause: undefined, boots: 0, commands: [], reboots: 0 };
  const timeline = new Timeline();
  const faults: Fault[] = [];
  const listeners = new Set<(fault: Fault) => void>();
  const dut = {
    name,
    timeline,
    transcript: new Transcript(),
    board: { name: 'fake', deviceType: 'generic-amd64', mediaPath: () => undefined, describe: () => ({}) },
    reachableTransport: 'serial',
    defaultTransport: 'serial',
    get state() {
      return record.state;
    },
    get cause() {
      return record.cause;
    },
    async settled() {},
    onFault(listener: (fault: Fault) => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    faultSince(since: number) {
      return faults.find((f) => f.at >= since);
    },
    /** What the console would do on a panic: record it and tell the listeners. */
    fault(error: DutError) {
      const fault = { at: Date.now(), error };
      faults.push(fault);
      for (const listener of listeners) listener(fault);
    },
    async boot() {
      record.boots++;
      record.state = 'ready';
      timeline.enter('ready');
    },
    async recover() {
      record.cause = undefined;
      record.state = 'ready';
    },
    get currentBoot() {
      return `boot-${record.reboots}`;
    },
    get rewindable() {
      return record.rewindable === true;
    },
    async rewind() {
      record.commands.push('rewind');
      const failure = record.rewindFails;
      record.rewindFails = undefined;
      if (failure) throw failure;
    },
    async powerOff() {
      record.commands.push('power off');
      record.state = 'off';
    },
    async reboot() {
      record.commands.push('reboot');
      if (record.rebootFails) throw record.rebootFails;
      record.reboots++;
    },
    async exec(command: string, options: { signal?: AbortSignal } = {}) {
      if (record.state === 'broken') throw new DutError('broken', `broken since: ${record.cause?.reason}`, { dut: 'fake' });
      if (options.signal?.aborted) throw abortReason(options.signal);
      record.commands.push(command);
      const scripted = script(command);
      const outcome = scripted instanceof Promise ? await untilAborted(scripted, options.signal) : scripted;
      if (outcome instanceof DutError && outcome.kind === 'panic') {
        record.state = 'broken';
        record.cause = outcome;
      }
      if (outcome instanceof Error) throw outcome;
      return { stdout: outcome.stdout ?? '', stderr: '', exitCode: outcome.exitCode ?? 0, durationMs: 1, transport: 'serial' };
    },
  };
  return { dut: dut as unknown as Dut, record, fake: dut };
}

function suite(name: string, tests: TestDefinition[], requires?: LoadedSuite['definition']['requires']): LoadedSuite {
  return { name, definition: { title: `the ${name} suite`, ...(requires ? { requires } : {}) }, tests };
}

const temp = tempDirs('dutlab-run-');
test.after.always(() => temp.cleanup());

async function run(suites: LoadedSuite[], dut: Dut, extra: { bail?: boolean; knownFlaky?: RegExp[]; grep?: RegExp; features?: Feature[]; signal?: AbortSignal; isolate?: Isolation; reboots?: RebootMode; log?: (message: string) => void } = {}) {
  const reportsDir = temp.make();
  const reporter = new Reporter({ reportsDir, out: null });
  reporter.start({ board: 'fake', deviceType: 'generic-amd64', image: 'x.img', startedAt: Date.now() });
  const { features, ...options } = extra;
  await runSuites({
    suites,
    dut,
    images: { image: 'x.img' },
    features: new Set<Feature>(features ?? ['serial']),
    reporter,
    reportsDir,
    ...options,
  });
  const exitCode = reporter.end({ durationMs: 1, timeline: [], ...(extra.signal?.aborted ? { interrupted: 'SIGINT' } : {}) });
  const summary = JSON.parse(await readFile(path.join(reportsDir, 'summary.json'), 'utf8'));
  const results = summary.suites.flatMap((s: { tests: { title: string; status: string }[] }) => s.tests.map((t) => `${t.title}:${t.status}`));
  return { exitCode, summary, results, reportsDir };
}

const pass = (title: string): TestDefinition => ({ title, run: async () => undefined });

test('tests run in order; a failed assertion is a failure, a command exiting non-zero too, exit code 1', async (t) => {
  const { dut } = fakeDut((command) => (command === 'false' ? { exitCode: 1, stdout: 'nope' } : {}));
  const { exitCode, results } = await run(
    [
      suite('a', [
        pass('first'),
        { title: 'asserts', run: async () => assert.equal(1, 2) },
        { title: 'runs false', run: async (c) => void (await c.sh('false')) },
        pass('last'),
      ]),
    ],
    dut,
  );
  t.deepEqual(results, ['first:pass', 'asserts:fail', 'runs false:fail', 'last:pass']);
  t.is(exitCode, 1);
});

test('tests whose requirements are not met are skipped with the reason, and the DUT is not booted for them', async (t) => {
  const { dut, record } = fakeDut();
  const { summary, exitCode } = await run(
    [suite('hup', [pass('needs hup')], { features: ['hup'] }), suite('os', [{ title: 'needs x86 only', requires: { deviceTypes: ['raspberrypi4-64'] }, run: async () => undefined }])],
    dut,
  );
  const tests = summary.suites.flatMap((s: { tests: unknown[] }) => s.tests) as { status: string; skipReason?: string }[];
  t.deepEqual(
    tests.map((x) => x.status),
    ['skip', 'skip'],
  );
  t.regex(tests[0]?.skipReason ?? '', /requires hup/);
  t.regex(tests[1]?.skipReason ?? '', /requires device type raspberrypi4-64; the board is generic-amd64/);
  t.is(exitCode, 0);
  t.is(record.boots, 1, 'booted for the suite without suite-level requirements only');
});

test('a DUT that latches broken makes the remaining tests errors at once, with the first cause; exit code 2', async (t) => {
  const { dut, record } = fakeDut((command) => (command === 'crash' ? new DutError('panic', 'Kernel panic - not syncing: test', { dut: 'fake', step: 'serial exec' }) : {}));
  let ranAfter = false;
  const started = Date.now();
  const { results, exitCode, summary } = await run(
    [
      suite('a', [
        { title: 'crashes', run: async (c) => void (await c.sh('crash')) },
        {
          title: 'would wait',
          timeoutMs: 60_000,
          run: async () => {
            ranAfter = true;
          },
        },
      ]),
    ],
    dut,
  );
  t.deepEqual(results, ['crashes:fail', 'would wait:error']);
  t.false(ranAfter, 'the body of a test on a broken DUT does not run');
  t.true(Date.now() - started < 5000);
  t.is(exitCode, 2);
  t.is(record.commands.filter((c) => c === 'crash').length, 1);
  t.regex(JSON.stringify(summary), /Kernel panic - not syncing: test/);
});

test('--bail stops at the first failure: the rest are skipped with the reason', async (t) => {
  const { dut } = fakeDut();
  const { results, summary } = await run(
    [suite('a', [{ title: 'fails', run: async () => assert.fail('boom') }, pass('next')]), suite('b', [pass('other')])],
    dut,
    { bail: true },
  );
  t.deepEqual(results, ['fails:fail', 'next:skip', 'other:skip']);
  t.regex(JSON.stringify(summary), /--bail after \\"a\/fails\\" failed/);
});

test('a known-flaky failure is reported but does not fail the run', async (t) => {
  const { dut } = fakeDut();
  const { exitCode, summary } = await run([suite('a', [{ title: 'flaky one', run: async () => assert.fail('sometimes') }, pass('fine')])], dut, {
    knownFlaky: [/^a\/flaky/],
  });
  t.is(exitCode, 0);
  t.is(summary.counts.flaky, 1);
});

test('teardown runs after a failure, last registered first; --grep selects tests', async (t) => {
  const { dut } = fakeDut();
  const order: string[] = [];
  const { results } = await run(
    [
      suite('a', [
        {
          title: 'cleans up',
          run: async (c) => {
            c.teardown(() => order.push('first registered'));
            c.teardown(() => order.push('second registered'));
            assert.fail('after registering');
          },
        },
        pass('not selected'),
      ]),
    ],
    dut,
    { grep: /cleans/ },
  );
  t.deepEqual(results, ['cleans up:fail']);
  t.deepEqual(order, ['second registered', 'first registered']);
});

test('a test that outlives its timeout is an error naming the timeout', async (t) => {
  const { dut } = fakeDut();
  const { results, summary } = await run([suite('a', [{ title: 'slow', timeoutMs: 200, run: () => new Promise((resolve) => setTimeout(resolve, 2000)) }])], dut);
  t.deepEqual(results, ['slow:error']);
  t.regex(JSON.stringify(summary), /did not finish within 0.2 s/);
  t.is(summary.suites[0].tests[0].cause, 'timeout');
});

test('a timed-out test is stopped: its pending command is aborted, then artifacts are collected, then teardowns run', async (t) => {
  const events: string[] = [];
  const { dut } = fakeDut((command) => {
    events.push(command.split(' ')[0] ?? command);
    return command === 'hang' ? new Promise(() => undefined) : {};
  });
  let after = 0;
  const { results } = await run(
    [
      suite('a', [
        {
          title: 'hangs',
          timeoutMs: 300,
          run: async (c) => {
            c.teardown(() => c.dut.exec('teardown'));
            await c.sh('hang').catch((error: unknown) => {
              events.push(`aborted: ${(error as DutError).kind}`);
            });
            // Were the body not stopped, it would go on talking to the DUT.
            after++;
            await c.sh('after-timeout');
          },
        },
      ]),
    ],
    dut,
  );
  t.deepEqual(results, ['hangs:error']);
  t.deepEqual(events, ['hang', 'aborted: timeout', 'journalctl', 'dmesg', 'balena-engine', 'teardown']);
  t.is(after, 1, 'the body went on, but its next command was refused');
});

test('a fault the console sees fails the running test at once with its cause, whatever the test was doing', async (t) => {
  const { dut, fake } = fakeDut();
  const started = Date.now();
  setTimeout(() => fake.fault(new DutError('panic', 'kernel trace: Kernel panic - not syncing: sysrq', { dut: 'fake', excerpt: 'Kernel panic - not syncing: sysrq\n---[ end Kernel panic' })), 200);
  const { results, summary } = await run(
    [suite('a', [{ title: 'sleeps', run: (c) => new Promise((resolve) => setTimeout(resolve, 30_000, c)) }, pass('next')])],
    dut,
  );
  t.true(Date.now() - started < 5000, 'not after the sleep');
  t.deepEqual(results, ['sleeps:fail', 'next:pass']);
  const failedTest = summary.suites[0].tests[0];
  t.is(failedTest.cause, 'panic');
  t.regex(failedTest.excerpt, /end Kernel panic/);
});

test('an SSH link lost just before the console reports a reset is charged as the reset', async (t) => {
  const { dut, fake } = fakeDut((command) => {
    if (command !== 'loop') return {};
    setTimeout(() => fake.fault(new DutError('reset', 'boot banner: BdsDxe: loading Boot0001', { dut: 'fake' })), 500);
    return new DutError('console-lost', 'SSH connection lost while `loop` ran', { dut: 'fake' });
  });
  const { summary } = await run([suite('a', [{ title: 'loops', run: async (c) => void (await c.sh('loop')) }])], dut);
  t.is(summary.suites[0].tests[0].status, 'fail');
  t.is(summary.suites[0].tests[0].cause, 'unexpected-reset');
});

test('t.skip() skips with the reason; beforeEach runs before every test with its context', async (t) => {
  const { dut, record } = fakeDut();
  const definition = {
    title: 'with beforeEach',
    beforeEach: async (c: { sh(command: string): Promise<string> }) => void (await c.sh('reset state')),
  };
  const { summary } = await run(
    [{ name: 'a', definition, tests: [{ title: 'lacks a hostapp', run: async (c) => c.skip('the run has no hostapp') }, pass('plain')] }],
    dut,
  );
  t.like(summary.suites[0].tests[0], { status: 'skip', skipReason: 'the run has no hostapp' });
  t.is(summary.suites[0].tests[1].status, 'pass');
  t.deepEqual(record.commands, ['reset state', 'reset state']);
});

test('an interrupted run stops the running test as interrupted and starts nothing else', async (t) => {
  const { dut, record } = fakeDut((command) => (command === 'long' ? new Promise(() => undefined) : {}));
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DutError('interrupted', 'run interrupted by SIGINT')), 200);
  const { results, exitCode, summary } = await run(
    [suite('a', [{ title: 'long', run: async (c) => void (await c.sh('long')) }, pass('next')]), suite('b', [pass('other')])],
    dut,
    { signal: controller.signal },
  );
  t.deepEqual(results, ['long:error', 'next:error']);
  t.is(summary.suites[0].tests[0].cause, 'interrupted');
  t.regex(summary.suites[0].tests[1].message, /not run: run interrupted by SIGINT/);
  t.is(exitCode, 2);
  t.false(record.commands.includes('other'));
});

test('t.exec returns a non-zero exit instead of failing; waitUntil takes a command or a function, and past its deadline is a not-ready failure naming what it waited for', async (t) => {
  let polls = 0;
  const { dut } = fakeDut((command) => {
    if (command === 'test -e /flag') return { exitCode: ++polls >= 3 ? 0 : 1, stdout: `poll ${polls}` };
    if (command === 'never') return { exitCode: 7, stdout: 'still not' };
    return { exitCode: 1, stdout: 'missing' };
  });
  const seen: unknown[] = [];
  const { summary } = await run(
    [
      suite('a', [
        {
          title: 'exec and command wait',
          run: async (c) => {
            seen.push(await c.exec('test -e /nothing'));
            seen.push(await c.waitUntil('test -e /flag', { timeoutMs: 10_000, intervalMs: 1 }));
          },
        },
        {
          title: 'function wait',
          run: async (c) => {
            let n = 0;
            seen.push(await c.waitUntil(() => (++n === 4 ? { n } : undefined), { timeoutMs: 10_000, intervalMs: 1 }));
          },
        },
        { title: 'command wait times out', run: async (c) => void (await c.waitUntil('never', { timeoutMs: 50, intervalMs: 10, what: 'the flag' })) },
        { title: 'function wait times out', run: async (c) => void (await c.waitUntil(() => false, { timeoutMs: 50, intervalMs: 10 })) },
      ]),
    ],
    dut,
  );
  t.like(seen[0], { exitCode: 1, stdout: 'missing' });
  t.is(seen[1], 'poll 3');
  t.deepEqual(seen[2], { n: 4 });
  const [, , commandWait, functionWait] = summary.suites[0].tests;
  t.like(commandWait, { status: 'fail', cause: 'not-ready' });
  t.regex(commandWait.message, /the flag not true within 0\.05 s \(last exit 7\)/);
  t.regex(commandWait.excerpt, /still not/);
  t.like(functionWait, { status: 'fail', cause: 'not-ready' });
  t.regex(functionWait.message, /the condition not true within 0\.05 s \(last value false\)/);
});

/** A reboot-sharing test that records its parts as commands and checks that what it prepared reached its check. */
function sharing(title: string, extra: Partial<RebootTest<string>> = {}): TestDefinition {
  return acrossReboot<string>({
    title,
    beforeReboot: async (c) => {
      c.teardown(() => c.dut.exec(`undo ${title}`));
      await c.sh(`prepare ${title}`);
      return `${title} prepared`;
    },
    afterReboot: async (c, prepared) => {
      assert.equal(prepared, `${title} prepared`);
      await c.sh(`check ${title}`);
    },
    ...extra,
  });
}

test('tests that share a reboot: plain tests first, then every before part, one reboot, then each after part with what its own before part returned; each is its own case', async (t) => {
  const { dut, record } = fakeDut();
  const { results, summary, reportsDir } = await run([suite('a', [sharing('hostname'), pass('plain'), sharing('volume')])], dut);
  t.deepEqual(results, ['plain:pass', 'hostname:pass', 'volume:pass']);
  t.deepEqual(record.commands, ['prepare hostname', 'prepare volume', 'reboot', 'check hostname', 'undo hostname', 'check volume', 'undo volume']);
  t.is(record.reboots, 1);
  const hostname = summary.suites[0].tests[1];
  t.true(hostname.artifacts.some((file: string) => file.endsWith('hostname/serial.log')));
  t.truthy(await readFile(path.join(reportsDir, 'artifacts/a/volume/serial.log'), 'utf8').then(() => 'written'));
});

test('a before part that fails ends its test there, teardown included; the others still share one reboot', async (t) => {
  const { dut, record } = fakeDut((command) => (command === 'prepare broken' ? { exitCode: 3 } : {}));
  const { results } = await run([suite('a', [sharing('broken'), sharing('fine')])], dut);
  t.deepEqual(results, ['broken:fail', 'fine:pass']);
  t.deepEqual(
    record.commands.filter((c) => !/^(journalctl|dmesg|balena-engine)/.test(c)),
    ['prepare broken', 'undo broken', 'prepare fine', 'reboot', 'check fine', 'undo fine'],
  );
});

test('a reboot that fails is the verdict of every prepared test, said to be shared, and every teardown runs', async (t) => {
  const { dut, record } = fakeDut();
  record.rebootFails = new DutError('reboot-hung', 'no kernel within 120 s of the reboot', { dut: 'fake', step: 'reboot' });
  const { results, summary } = await run([suite('a', [sharing('one'), sharing('two')])], dut);
  t.deepEqual(results, ['one:fail', 'two:fail']);
  for (const failedTest of summary.suites[0].tests) {
    t.is(failedTest.cause, 'reboot-hung');
    t.regex(failedTest.message, /^the reboot shared by 2 tests: .*no kernel within 120 s/);
  }
  t.false(record.commands.some((c) => c.startsWith('check')));
  t.true(record.commands.includes('undo one') && record.commands.includes('undo two'));
});

test('a fault in one after part is that test\'s; the tests checked after it are errors (boot-lost), not failures, and their teardowns run', async (t) => {
  const { dut, fake, record } = fakeDut((command) => {
    if (command === 'check first') fake.fault(new DutError('panic', 'Kernel panic - not syncing: test', { dut: 'fake' }));
    return {};
  });
  const { results, summary } = await run([suite('a', [sharing('first'), sharing('second')])], dut);
  t.deepEqual(results, ['first:fail', 'second:error']);
  const [first, second] = summary.suites[0].tests;
  t.is(first.cause, 'panic');
  t.is(second.cause, 'boot-lost');
  t.regex(second.message, /not checked: the boot this test was prepared for is gone: it ended with a fault \(panic/);
  t.false(record.commands.includes('check second'));
  t.true(record.commands.includes('undo second'));
});

test('tests of a reboot group share a reboot of their own, after the common one', async (t) => {
  const { dut, record } = fakeDut();
  const wipe = { rebootGroup: 'factory reset' };
  const { results } = await run([suite('a', [sharing('wipes', wipe), sharing('keeps'), sharing('indifferent', wipe), sharing('keeps too')])], dut);
  t.deepEqual(results, ['keeps:pass', 'keeps too:pass', 'wipes:pass', 'indifferent:pass']);
  t.deepEqual(
    record.commands.filter((c) => /^(prepare|reboot)/.test(c)),
    ['prepare keeps', 'prepare keeps too', 'reboot', 'prepare wipes', 'prepare indifferent', 'reboot'],
  );
});

test('--reboots each: every two-part test reboots alone, in the order shared reboots would take them', async (t) => {
  const { dut, record } = fakeDut();
  const wipe = { rebootGroup: 'factory reset' };
  const { results } = await run([suite('a', [sharing('wipes', wipe), sharing('keeps'), pass('plain')])], dut, { reboots: 'each' });
  t.deepEqual(results, ['plain:pass', 'keeps:pass', 'wipes:pass']);
  t.deepEqual(
    record.commands.filter((c) => /^(prepare|reboot|check)/.test(c)),
    ['prepare keeps', 'reboot', 'check keeps', 'prepare wipes', 'reboot', 'check wipes'],
  );
  t.is(record.reboots, 2);
});

test('an interrupt during a shared reboot reports every prepared test as not finished', async (t) => {
  const { dut, record } = fakeDut();
  const controller = new AbortController();
  record.rebootFails = undefined;
  (dut as unknown as { reboot(): Promise<void> }).reboot = () => {
    controller.abort(new DutError('interrupted', 'run interrupted by SIGINT'));
    return new Promise(() => undefined);
  };
  const { results, summary } = await run([suite('a', [sharing('one'), sharing('two')]), suite('b', [pass('other')])], dut, { signal: controller.signal });
  t.deepEqual(results, ['one:error', 'two:error']);
  for (const unfinished of summary.suites[0].tests) t.regex(unfinished.message, /^not finished: run interrupted by SIGINT/);
});

test('a fault in a later test\'s first part is that test\'s; a test prepared before it went through that recovery, so it is not checked (boot-lost), and the rest share the reboot', async (t) => {
  const { dut, fake, record } = fakeDut((command) => {
    if (command === 'prepare second') fake.fault(new DutError('panic', 'Kernel panic - not syncing: test', { dut: 'fake' }));
    return {};
  });
  const { results, summary } = await run([suite('a', [sharing('first'), sharing('second'), sharing('third')])], dut);
  t.deepEqual(results, ['second:fail', 'first:error', 'third:pass']);
  const first = summary.suites[0].tests.find((x: { title: string }) => x.title === 'first');
  t.is(first.cause, 'boot-lost');
  t.regex(first.message, /it ended with a fault \(panic: .*\) before the shared reboot/);
  t.deepEqual(
    record.commands.filter((c) => /^(prepare|reboot|check|undo)/.test(c)),
    ['prepare first', 'prepare second', 'undo second', 'prepare third', 'undo first', 'reboot', 'check third', 'undo third'],
  );
});

const named = (title: string): TestDefinition => ({ title, run: async (c) => void (await c.sh(title)) });

test('--isolate test rewinds before every test but the first after the boot; suite (the default) before every suite but the first; none never', async (t) => {
  const suites = () => [suite('a', [named('a1'), named('a2')]), suite('b', [named('b1')])];
  const expected: Record<Isolation, string[]> = {
    test: ['a1', 'rewind', 'a2', 'rewind', 'b1'],
    suite: ['a1', 'a2', 'rewind', 'b1'],
    none: ['a1', 'a2', 'b1'],
  };
  for (const isolate of ['test', 'suite', 'none'] as const) {
    const { dut, record } = fakeDut();
    record.rewindable = true;
    const { results } = await run(suites(), dut, isolate === 'suite' ? {} : { isolate });
    t.deepEqual(record.commands, expected[isolate], isolate);
    t.deepEqual(results, ['a1:pass', 'a2:pass', 'b1:pass'], isolate);
  }
});

test('a rewind that fails makes the test it was for an error, not a failure, and the next test rewinds again and runs', async (t) => {
  const { dut, record } = fakeDut((command) => {
    if (command === 'a1') record.rewindFails = new DutError('tool', 'loadvm dutlab-golden: Snapshot not found', { dut: 'fake', step: 'rewind' });
    return {};
  });
  record.rewindable = true;
  const { results, summary, exitCode } = await run([suite('a', [named('a1'), named('a2'), named('a3')])], dut, { isolate: 'test' });
  t.deepEqual(results, ['a1:pass', 'a2:error', 'a3:pass']);
  t.deepEqual(record.commands, ['a1', 'rewind', 'rewind', 'a3']);
  t.regex(JSON.stringify(summary), /not run: the golden state could not be restored before the test: .*Snapshot not found/);
  t.is(exitCode, 2);
});

test('tests sharing a reboot are rewound before as one unit; a DUT with no golden state is not isolated, and the log says so once', async (t) => {
  const across = (title: string): TestDefinition => acrossReboot({ title, beforeReboot: async (c) => void (await c.sh(`${title} before`)), afterReboot: async (c) => void (await c.sh(`${title} after`)) });
  const { dut: golden, record } = fakeDut();
  record.rewindable = true;
  await run([suite('a', [named('a1'), across('r1'), across('r2')])], golden, { isolate: 'test' });
  t.deepEqual(record.commands, ['a1', 'rewind', 'r1 before', 'r2 before', 'reboot', 'r1 after', 'r2 after']);
  const { dut: cold, record: coldRecord } = fakeDut();
  const lines: string[] = [];
  await run([suite('a', [named('a1'), named('a2'), named('a3')])], cold, { isolate: 'test', log: (line) => lines.push(line) });
  t.deepEqual(coldRecord.commands, ['a1', 'a2', 'a3']);
  t.is(lines.filter((line) => /holds no golden state/.test(line)).length, 1);
});

test('--parallel: each DUT takes the next suite, the others start once the first is up, and the reports list every suite whole, in the order they started', async (t) => {
  const order: string[] = [];
  const slow = (title: string, ms: number): TestDefinition => ({
    title,
    run: async (c) => {
      order.push(`${title} start`);
      await c.sh(title);
      await new Promise((resolve) => setTimeout(resolve, ms));
      order.push(`${title} end`);
    },
  });
  const one = fakeDut(undefined, 'dut-1');
  const two = fakeDut(undefined, 'dut-2');
  const reportsDir = temp.make();
  const reporter = new Reporter({ reportsDir, out: null });
  reporter.start({ board: 'fake', deviceType: 'generic-amd64', image: 'x.img', startedAt: Date.now() });
  const sequencer = new SuiteSequencer(reporter);
  await runSuitesOn({
    suites: [suite('a', [slow('a1', 150), slow('a2', 10)]), suite('b', [slow('b1', 10), slow('b2', 10)]), suite('c', [slow('c1', 10)])],
    duts: [one.dut, two.dut],
    images: { image: 'x.img' },
    features: new Set<Feature>(['serial']),
    reporter: sequencer,
    reportsDir,
  });
  sequencer.finish(undefined);
  reporter.end({ durationMs: 1, timeline: [] });
  t.deepEqual(one.record.commands, ['a1', 'a2']);
  t.deepEqual(two.record.commands, ['b1', 'b2', 'c1', 'power off'], 'the second DUT took b, then c while a still ran, then was powered off');
  t.true(order.indexOf('b1 start') < order.indexOf('a1 end'), 'suites ran at the same time');
  const summary = JSON.parse(await readFile(path.join(reportsDir, 'summary.json'), 'utf8'));
  t.deepEqual(
    summary.suites.map((s: { name?: string; suite?: string; tests: { title: string; status: string }[] }) => s.tests.map((x) => `${x.title}:${x.status}`)),
    [['a1:pass', 'a2:pass'], ['b1:pass', 'b2:pass'], ['c1:pass']],
  );
});

test('--parallel with --isolate test: a suite without a setup is split by test, a reboot batch stays on one DUT, a suite with a setup stays whole; each suite is reported once, whole', async (t) => {
  // h1 holds the first DUT until the second has run everything else.
  let release = (): void => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const h1: TestDefinition = {
    title: 'h1',
    run: async (c) => {
      await c.sh('h1');
      await released;
    },
  };
  const across = (title: string): TestDefinition => acrossReboot({ title, beforeReboot: async (c) => void (await c.sh(`${title} before`)), afterReboot: async (c) => void (await c.sh(`${title} after`)) });
  const one = fakeDut(undefined, 'dut-1');
  const two = fakeDut((command) => (command === 's2' && release(), {}), 'dut-2');
  one.record.rewindable = true;
  two.record.rewindable = true;
  const reportsDir = temp.make();
  const reporter = new Reporter({ reportsDir, out: null });
  reporter.start({ board: 'fake', deviceType: 'generic-amd64', image: 'x.img', startedAt: Date.now() });
  const sequencer = new SuiteSequencer(reporter);
  const withSetup = { ...suite('s', [named('s1'), named('s2')]) };
  withSetup.definition = { ...withSetup.definition, setup: async (c) => void (await c.sh('setup s')) };
  await runSuitesOn({
    suites: [suite('hup', [h1, named('h2'), named('h3'), across('r1'), across('r2')]), withSetup],
    duts: [one.dut, two.dut],
    images: { image: 'x.img' },
    features: new Set<Feature>(['serial']),
    reporter: sequencer,
    reportsDir,
    isolate: 'test',
  });
  sequencer.finish(undefined);
  reporter.end({ durationMs: 1, timeline: [] });
  // Which DUT is powered off depends on which ends first; that is the other test's business.
  t.deepEqual(one.record.commands.filter((command) => command !== 'power off'), ['h1'], 'the first DUT ran h1 while the second took the rest of hup');
  t.deepEqual(
    two.record.commands.filter((command) => command !== 'power off'),
    ['h2', 'rewind', 'h3', 'rewind', 'r1 before', 'r2 before', 'reboot', 'r1 after', 'r2 after', 'rewind', 'setup s', 's1', 's2'],
    'a rewind before each test and the batch, and once before the setup of s, whose tests rely on it',
  );
  const summary = JSON.parse(await readFile(path.join(reportsDir, 'summary.json'), 'utf8'));
  t.deepEqual(
    summary.suites.map((s: { suite: string; tests: { title: string; status: string }[] }) => [s.suite, s.tests.map((x) => `${x.title}:${x.status}`).sort()]),
    [
      ['hup', ['h1:pass', 'h2:pass', 'h3:pass', 'r1:pass', 'r2:pass']],
      ['s', ['s1:pass', 's2:pass']],
    ],
  );
});

test('--parallel with --bail: a failure on one DUT stops the other from starting more tests', async (t) => {
  const one = fakeDut(undefined, 'dut-1');
  const two = fakeDut(undefined, 'dut-2');
  const reportsDir = temp.make();
  const reporter = new Reporter({ reportsDir, out: null });
  const sequencer = new SuiteSequencer(reporter);
  await runSuitesOn({
    suites: [
      suite('a', [{ title: 'fails', run: async () => assert.fail('boom') }]),
      suite('b', [{ title: 'waits', run: async () => new Promise((resolve) => setTimeout(resolve, 100)) }, named('after')]),
    ],
    duts: [one.dut, two.dut],
    images: { image: 'x.img' },
    features: new Set<Feature>(['serial']),
    reporter: sequencer,
    reportsDir,
    bail: true,
  });
  sequencer.finish(undefined);
  reporter.end({ durationMs: 1, timeline: [] });
  const summary = JSON.parse(await readFile(path.join(reportsDir, 'summary.json'), 'utf8'));
  const statuses = summary.suites.flatMap((s: { tests: { title: string; status: string }[] }) => s.tests.map((x) => `${x.title}:${x.status}`));
  t.deepEqual(statuses, ['fails:fail', 'waits:pass', 'after:skip']);
  t.false(two.record.commands.includes('after'));
});
