import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dut } from '../dut/dut.ts';
import { DutError } from '../errors.ts';
import type { Reporter, TestResult } from '../report/index.ts';
import { collectFailureArtifacts, serialSlice } from './artifacts.ts';
import { classify } from './classify.ts';
import { createContext } from './context.ts';
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
  log?: (message: string) => void;
}

const DEFAULT_TEST_TIMEOUT_MS = 10 * 60_000;

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
    const tests = suite.tests.filter((t) => !plan.grep || plan.grep.test(`${suite.name}/${t.title}`));
    if (tests.length === 0) continue;
    const suiteStarted = Date.now();
    plan.reporter.suiteStart({ suite: suite.name, title: suite.definition.title, testCount: tests.length, startedAt: suiteStarted, tests: tests.map((t) => t.title) });
    const suiteContext = createContext({ ...contextBase(plan, log), artifacts: path.join(plan.reportsDir, 'artifacts', suite.name, '_suite') });
    const suiteSkip = stopReason ?? unmetRequirement(suite.definition.requires, plan.dut.board.deviceType, plan.features);
    let setupError: unknown;
    if (!suiteSkip) {
      setupError = await prepareDut(plan.dut).then(
        () => suite.definition.setup?.(suiteContext),
        (error: unknown) => error,
      );
    }

    for (const test of tests) {
      const skip = stopReason ?? suiteSkip ?? unmetRequirement(test.requires, plan.dut.board.deviceType, plan.features);
      if (skip) {
        plan.reporter.testResult({ suite: suite.name, title: test.title, status: 'skip', skipReason: skip, durationMs: 0, startedAt: Date.now() });
        continue;
      }
      const result = setupError
        ? { ...failed(suite.name, test.title, Date.now(), setupError, 'suite setup failed: '), status: 'error' as const }
        : await runTest(plan, suite.name, test, log);
      plan.reporter.testResult(result);
      if (plan.bail && (result.status === 'fail' || result.status === 'error') && !result.knownFlaky) {
        stopReason = `not run: --bail after "${suite.name}/${test.title}" ${result.status === 'fail' ? 'failed' : 'errored'}`;
      }
    }

    const teardownErrors = await suiteContext.runTeardowns();
    if (!suiteSkip && suite.definition.teardown && !setupError) {
      await suite.definition.teardown(suiteContext).catch((error: unknown) => teardownErrors.push(error));
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
  if (dut.state === 'broken') await dut.recover();
  else await dut.boot();
}

async function runTest(plan: RunPlan, suite: string, test: TestDefinition, log: (message: string) => void): Promise<TestResult> {
  const startedAt = Date.now();
  plan.reporter.testStart({ suite, title: test.title, startedAt });
  const artifacts = path.join(plan.reportsDir, 'artifacts', suite, slug(test.title));
  const context = createContext({ ...contextBase(plan, log), artifacts });
  const knownFlaky = plan.knownFlaky?.some((re) => re.test(`${suite}/${test.title}`)) ?? false;
  let result: TestResult;
  try {
    if (plan.dut.state === 'broken') throw plan.dut.cause ?? new DutError('broken', 'the DUT is broken', { dut: plan.dut.name });
    await withTimeout(test.run(context), test.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS, plan.dut.name, test.title);
    result = { suite, title: test.title, status: 'pass', durationMs: Date.now() - startedAt, startedAt };
  } catch (error) {
    result = failed(suite, test.title, startedAt, error);
  }
  const teardownErrors = await context.runTeardowns();
  if (result.status === 'pass' && teardownErrors.length > 0) result = failed(suite, test.title, startedAt, teardownErrors[0], 'teardown: ');

  const files: string[] = [];
  await mkdir(context.artifacts, { recursive: true });
  if (result.status !== 'pass') {
    files.push(...(await collectFailureArtifacts(plan.dut, context.artifacts).catch(() => [])));
  }
  const endedAt = Date.now();
  const serial = serialSlice(plan.dut, startedAt, endedAt);
  const serialFile = path.join(context.artifacts, 'serial.log');
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

function failed(suite: string, title: string, startedAt: number, error: unknown, prefix = ''): TestResult {
  const verdict = classify(error);
  return { suite, title, status: verdict.status, message: `${prefix}${verdict.message}`, diagnostics: verdict.diagnostics, durationMs: Date.now() - startedAt, startedAt };
}

async function withTimeout(work: Promise<void>, ms: number, dut: string, title: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DutError('timeout', `test "${title}" did not finish within ${ms / 1000} s`, { dut, step: 'test' })), ms);
  });
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}
