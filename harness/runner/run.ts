import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dut } from '../dut/dut.ts';
import { DutError, tail } from '../errors.ts';
import { untilAborted, within } from '../proc/abort.ts';
import type { Reporter, TestResult } from '../report/index.ts';
import { collectFailureArtifacts, serialSlice } from './artifacts.ts';
import { classify } from './classify.ts';
import { createContext, TestSkipped } from './context.ts';
import type { LoadedSuite } from './discover.ts';
import { unmetRequirement } from './requirements.ts';
import type { Feature, RunImages, TestDefinition } from './types.ts';

export interface RunPlan {
  suites: LoadedSuite[];
  dut: Dut;
  images: RunImages;
  features: ReadonlySet<Feature>;
  reporter: Reporter;
  reportsDir: string;
  /** Only tests whose "suite/title" matches run; the rest are not reported. */
  grep?: RegExp;
  /** Stop at the first failure or error: the remaining tests are skipped with the reason. */
  bail?: boolean;
  /** "suite/title" patterns of tests whose failures do not fail the run. */
  knownFlaky?: RegExp[];
  /**
   * Aborted when the run must stop (SIGINT, SIGTERM): the running test is
   * stopped and reported as interrupted, nothing else starts. Its reason
   * should be a DutError of kind `interrupted`.
   */
  signal?: AbortSignal;
  log?: (message: string) => void;
}

const DEFAULT_TEST_TIMEOUT_MS = 10 * 60_000;
/** Bounds on what runs after a test's body; a DUT that does not answer must not hold the run. */
const TEARDOWN_STEP_MS = 2 * 60_000;
const ARTIFACTS_MS = 2 * 60_000;
/**
 * An SSH link that drops is often the first sign of a panic or reset whose
 * console lines are still arriving: wait this long for the console's verdict
 * before calling it a lost connection.
 */
const FAULT_GRACE_MS = 3000;

/**
 * Runs the suites in order against one DUT, test by test, feeding the
 * reporter as it goes. The DUT boots before the first test that needs it; a
 * DUT latched broken makes every later test an error at once, with the first
 * cause, instead of each waiting out its timeout.
 */
export async function runSuites(plan: RunPlan): Promise<void> {
  const log = plan.log ?? (() => undefined);
  let stopReason: string | undefined;

  for (const suite of plan.suites) {
    if (plan.signal?.aborted) return;
    const tests = suite.tests.filter((t) => !plan.grep || plan.grep.test(`${suite.name}/${t.title}`));
    if (tests.length === 0) continue;
    const suiteStarted = Date.now();
    plan.reporter.suiteStart({ suite: suite.name, title: suite.definition.title, testCount: tests.length, startedAt: suiteStarted, tests: tests.map((t) => t.title) });
    const suitePhase = phase(plan.signal);
    const suiteContext = createContext({ ...contextBase(plan, log), signal: () => suitePhase.signal, artifacts: path.join(plan.reportsDir, 'artifacts', suite.name, '_suite') });
    const suiteSkip = stopReason ?? unmetRequirement(suite.definition.requires, plan.dut.board.deviceType, plan.features);
    let setupError: unknown;
    if (!suiteSkip) {
      setupError = await untilAborted(
        prepareDut(plan.dut).then(() => suite.definition.setup?.(suiteContext)),
        plan.signal,
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
    }
    // Interrupted during boot or setup: the reporter marks this suite's tests as not run.
    if (plan.signal?.aborted) return;

    for (const test of tests) {
      const skip = stopReason ?? suiteSkip ?? unmetRequirement(test.requires, plan.dut.board.deviceType, plan.features);
      if (skip) {
        plan.reporter.testResult({ suite: suite.name, title: test.title, status: 'skip', skipReason: skip, durationMs: 0, startedAt: Date.now() });
        continue;
      }
      const result = setupError
        ? { ...failed(suite.name, test.title, Date.now(), setupError, 'suite setup failed: '), status: 'error' as const }
        : await runTest(plan, suite, test, log);
      plan.reporter.testResult(result);
      if (plan.signal?.aborted) return;
      if (plan.bail && (result.status === 'fail' || result.status === 'error') && !result.knownFlaky) {
        stopReason = `not run: --bail after "${suite.name}/${test.title}" ${result.status === 'fail' ? 'failed' : 'errored'}`;
      }
    }

    const teardownErrors = await suiteContext.runTeardowns((fn) => bounded(fn, suitePhase, 'suite teardown'));
    if (!suiteSkip && suite.definition.teardown && !setupError) {
      await bounded(() => suite.definition.teardown?.(suiteContext), suitePhase, 'suite teardown').catch((error: unknown) => teardownErrors.push(error));
    }
    for (const error of teardownErrors) log(`suite ${suite.name} teardown: ${error instanceof Error ? error.message : String(error)}`);
    plan.reporter.suiteEnd({ suite: suite.name, durationMs: Date.now() - suiteStarted });
  }
}

function contextBase(plan: RunPlan, log: (message: string) => void) {
  return { dut: plan.dut, images: plan.images, features: plan.features, log };
}

/** Boots the DUT if it is not up; a broken one is power-cycled once per suite. */
async function prepareDut(dut: Dut): Promise<void> {
  await dut.settled();
  if (dut.state === 'broken') await dut.recover();
  else await dut.boot();
}

/** An AbortController for one phase (a test's body, a teardown), aborted too when the run is. */
function phase(run: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (run?.aborted) controller.abort(run.reason);
  run?.addEventListener('abort', () => controller.abort(run.reason), { once: true });
  return controller;
}

/** One teardown step, bounded; when the bound passes its DUT calls are aborted too. */
async function bounded(fn: () => unknown, controller: AbortController, step: string): Promise<unknown> {
  const expired = () => new DutError('timeout', `${step} did not finish within ${TEARDOWN_STEP_MS / 1000} s`, { step });
  try {
    return await within(untilAborted(Promise.resolve().then(fn), controller.signal), TEARDOWN_STEP_MS, expired);
  } catch (error) {
    if (!controller.signal.aborted) controller.abort(error);
    throw error;
  }
}

/**
 * One test: its body, under a signal that its timeout, a console fault or the
 * run's interruption aborts; then, in this order and each bounded, the DUT
 * settles (back to ready after a reset, or broken), failure artifacts are
 * collected while what explains the failure is still there, and the
 * teardowns run.
 */
async function runTest(plan: RunPlan, suite: LoadedSuite, test: TestDefinition, log: (message: string) => void): Promise<TestResult> {
  const { dut } = plan;
  // Brought back from whatever came before, outside this test's time: a
  // recovery is not charged to it, neither as time nor as a fault.
  await dut.settled();
  const startedAt = Date.now();
  plan.reporter.testStart({ suite: suite.name, title: test.title, startedAt });
  const artifacts = path.join(plan.reportsDir, 'artifacts', suite.name, slug(test.title));
  const knownFlaky = plan.knownFlaky?.some((re) => re.test(`${suite.name}/${test.title}`)) ?? false;
  const timeoutMs = test.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  const body = phase(plan.signal);
  let current = body;
  const context = createContext({ ...contextBase(plan, log), signal: () => current.signal, artifacts });
  // A panic or reset anywhere in the test's time is this test's verdict, whatever it was doing.
  const stopFaults = dut.onFault((fault) => body.abort(fault.error));
  const timer = setTimeout(() => {
    const now = Date.now();
    const excerpt = tail(serialSlice(dut, now - 30_000, now), 20);
    body.abort(new DutError('timeout', `test "${test.title}" did not finish within ${timeoutMs / 1000} s; it was stopped`, { dut: dut.name, step: 'test', excerpt }));
  }, timeoutMs);

  let outcome: unknown;
  try {
    // Charged to the test that broke it; this one could not run.
    if (dut.state === 'broken') {
      const cause = dut.cause;
      throw new DutError('broken', `the DUT is broken since an earlier failure (${cause?.kind ?? 'unknown'}): ${cause?.reason ?? 'unknown cause'}`, {
        dut: dut.name,
        step: 'test',
        excerpt: cause?.excerpt,
        cause,
      });
    }
    await untilAborted(
      (async () => {
        await suite.definition.beforeEach?.(context);
        await test.run(context);
      })(),
      body.signal,
    );
  } catch (error) {
    outcome = error;
  }
  clearTimeout(timer);
  // Whatever the body still has in flight stops now (its remote commands are killed).
  if (!body.signal.aborted) body.abort(new DutError('interrupted', 'the test ended', { dut: dut.name, step: 'test' }));
  outcome = await judged(dut, startedAt, outcome);

  let result: TestResult = outcome === undefined ? { suite: suite.name, title: test.title, status: 'pass', durationMs: 0, startedAt } : resultOf(suite.name, test.title, startedAt, outcome);
  await dut.settled();

  const files: string[] = [];
  await mkdir(artifacts, { recursive: true });
  const after = phase(plan.signal);
  current = after;
  if (result.status === 'fail' || result.status === 'error') {
    const collect = phase(plan.signal);
    const collecting = collectFailureArtifacts(dut, artifacts, { signal: collect.signal, rebooted: dut.faultSince(startedAt) !== undefined });
    const expired = (): DutError => {
      const error = new DutError('timeout', `failure artifacts not collected within ${ARTIFACTS_MS / 1000} s`, { dut: dut.name, step: 'artifacts' });
      collect.abort(error);
      return error;
    };
    files.push(...(await within(collecting, ARTIFACTS_MS, expired).catch(() => [])));
  }
  const teardownErrors = await context.runTeardowns((fn) => bounded(fn, after, 'teardown'));
  stopFaults();
  if (result.status === 'pass') {
    const late = await judged(dut, startedAt, teardownErrors[0]);
    if (late !== undefined) result = resultOf(suite.name, test.title, startedAt, late, late === teardownErrors[0] ? 'teardown: ' : '');
  }

  const endedAt = Date.now();
  const serial = serialSlice(dut, startedAt, endedAt);
  const serialFile = path.join(artifacts, 'serial.log');
  await writeFile(serialFile, serial);
  files.unshift(serialFile);
  return {
    ...result,
    durationMs: endedAt - startedAt,
    serialExcerpt: serial,
    ...(knownFlaky ? { knownFlaky } : {}),
    ...(files.length > 0 ? { artifacts: files.map((f) => path.relative(plan.reportsDir, f)) } : {}),
  };
}

/**
 * What ended the test, as the verdict must see it: the first console fault in
 * its time span wins over whatever the test saw of it (a lost SSH link, a
 * command's odd exit code), since it is what really happened.
 */
async function judged(dut: Dut, since: number, outcome: unknown): Promise<unknown> {
  const lostLink = outcome instanceof DutError && outcome.kind === 'console-lost';
  if (lostLink && !dut.faultSince(since)) await new Promise((resolve) => setTimeout(resolve, FAULT_GRACE_MS));
  const fault = dut.faultSince(since);
  if (fault && !(outcome instanceof TestSkipped)) return fault.error;
  return outcome;
}

function resultOf(suite: string, title: string, startedAt: number, outcome: unknown, prefix = ''): TestResult {
  if (outcome instanceof TestSkipped) return { suite, title, status: 'skip', skipReason: outcome.reason, durationMs: Date.now() - startedAt, startedAt };
  return failed(suite, title, startedAt, outcome, prefix);
}

function failed(suite: string, title: string, startedAt: number, error: unknown, prefix = ''): TestResult {
  const verdict = classify(error);
  return { suite, title, status: verdict.status, message: `${prefix}${verdict.message}`, diagnostics: verdict.diagnostics, durationMs: Date.now() - startedAt, startedAt };
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}

