import { DutError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import type { TestResult } from '../report/index.ts';
import { TestSkipped } from './context.ts';
import type { LoadedSuite } from './discover.ts';
import { judged, TestRun, type TestEnv } from './test-run.ts';
import type { RebootTest } from './types.ts';

/** How the suite's loop lets a batch report and stop. */
export interface BatchGate {
  /** A result in place of running the test (a skip, a failed suite setup), or undefined to run it. */
  blocked(test: RebootTest): TestResult | undefined;
  /** Set once the run must not start more tests (--bail). */
  stopReason(): string | undefined;
  report(result: TestResult): void;
}

/** Whether tests written in two parts share a reboot (`--reboots`), or each has its own. */
export const REBOOT_MODES = ['shared', 'each'] as const;
export type RebootMode = (typeof REBOOT_MODES)[number];

/**
 * The reboot-sharing tests of a suite in batches, each run with one reboot:
 * the tests without a group first, then each group in the order it first
 * appears; with `each`, every test is a batch of its own, in that order.
 */
export function rebootBatches(tests: RebootTest[], mode: RebootMode = 'shared'): RebootTest[][] {
  const groups = new Map<string, RebootTest[]>([['', []]]);
  for (const test of tests) {
    const group = test.rebootGroup ?? '';
    groups.set(group, [...(groups.get(group) ?? []), test]);
  }
  const batches = [...groups.values()].filter((batch) => batch.length > 0);
  return mode === 'each' ? batches.flat().map((test) => [test]) : batches;
}

/**
 * Runs every test's `beforeReboot`, reboots the DUT once, then each test's
 * `afterReboot` in order. A test whose first part did not pass ends there.
 * A failed reboot is every prepared test's verdict. A fault in one test's
 * part is that test's; the tests whose preparation or check comes after it
 * are not checked, as an error, since the boot they were prepared for is
 * gone (the DUT was recovered), but their teardowns still run.
 */
export async function runRebootBatch(env: TestEnv, suite: LoadedSuite, tests: RebootTest[], gate: BatchGate): Promise<void> {
  const { dut } = env;
  // Each prepared test with the boot its preparation lives in, and when it was done.
  const ready: { run: TestRun; test: RebootTest; value: unknown; boot: string | undefined; at: number }[] = [];
  for (const test of tests) {
    const blocked = gate.blocked(test);
    if (blocked) {
      gate.report(blocked);
      continue;
    }
    const run = await TestRun.start(env, suite, test);
    let value: unknown;
    const outcome = await run.part(async (t) => {
      await suite.definition.beforeEach?.(t);
      value = await test.beforeReboot(t);
    }, 'before the reboot');
    if (env.signal?.aborted) return;
    if (outcome === undefined) ready.push({ run, test, value, boot: dut.currentBoot, at: Date.now() });
    else gate.report(await run.finish(outcome));
  }
  // A fault in a later test's first part (and the recovery after it) took an earlier preparation through a boot of its own.
  const prepared: typeof ready = [];
  for (const entry of ready) {
    const lost = bootLost(env, entry.boot, entry.at, 'before the shared reboot');
    if (lost) gate.report(await entry.run.finish(lost));
    else prepared.push(entry);
  }
  if (prepared.length === 0) return;

  let rebootError: unknown;
  const stopped = gate.stopReason();
  const rebootStarted = Date.now();
  if (!stopped) {
    await dut.settled();
    env.log(`suite ${suite.name}: one reboot for ${prepared.length} tests (${prepared.map((p) => `"${p.test.title}"`).join(', ')})`);
    rebootError = await untilAborted(dut.reboot(), env.signal).then(
      () => undefined,
      (error: unknown) => error,
    );
    rebootError = await judged(dut, rebootStarted, rebootError);
    if (env.signal?.aborted) return;
  }
  const rebootEnded = Date.now();
  const boot = dut.currentBoot;

  for (const { run, test, value } of prepared) {
    if (!stopped) run.shared(rebootStarted, rebootEnded);
    const stop = gate.stopReason();
    let outcome: unknown;
    if (stop) outcome = new TestSkipped(stop);
    else if (rebootError !== undefined) outcome = rebootError;
    else outcome = bootLost(env, boot, rebootEnded, "in an earlier test's check") ?? (await run.part((t) => test.afterReboot(t, value), 'after the reboot'));
    if (env.signal?.aborted) return;
    const shared = prepared.length > 1 ? `the reboot shared by ${prepared.length} tests: ` : 'the reboot: ';
    gate.report(await run.finish(outcome, outcome === rebootError ? shared : ''));
  }
}

/** Why the DUT is no longer in `boot` (a fault since `since`, or another boot), if it is not; `when` says where that happened. */
function bootLost({ dut }: TestEnv, boot: string | undefined, since: number, when: string): DutError | undefined {
  const fault = dut.faultSince(since);
  if (!fault && dut.currentBoot === boot) return undefined;
  const why = fault ? `it ended with a fault (${fault.error.kind}: ${fault.error.reason}) ${when}` : `the DUT is in boot ${dut.currentBoot ?? 'unknown'} now, ${when}`;
  return new DutError('boot-lost', `not checked: the boot this test was prepared for is gone: ${why}`, { dut: dut.name, step: 'shared reboot' });
}
