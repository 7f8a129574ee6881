import path from 'node:path';
import type { Dut } from '../dut/dut.ts';
import { untilAborted } from '../proc/abort.ts';
import type { RunEvents, TestResult } from '../report/index.ts';
import { createContext } from './context.ts';
import type { LoadedSuite } from './discover.ts';
import { Isolator, type Isolation } from './isolation.ts';
import { unmetRequirement } from './requirements.ts';
import { rebootBatches, runRebootBatch, type RebootMode } from './shared-reboot.ts';
import { bounded, failed, phase, TestRun, type TestEnv } from './test-run.ts';
import { isRebootTest, type Feature, type PlainTest, type RebootTest, type RunImages, type TestDefinition } from './types.ts';

export interface RunPlan {
  suites: LoadedSuite[];
  dut: Dut;
  images: RunImages;
  features: ReadonlySet<Feature>;
  reporter: RunEvents;
  reportsDir: string;
  /** Only tests whose "suite/title" matches run; the rest are not reported. */
  grep?: RegExp;
  /** Stop at the first failure or error: the remaining tests are skipped with the reason. */
  bail?: boolean;
  /** "suite/title" patterns of tests whose failures do not fail the run. */
  knownFlaky?: RegExp[];
  /** Rewind the DUT to its golden state before each test, each suite (default), or never. */
  isolate?: Isolation;
  /** Tests written in two parts share one reboot (default), or each reboots alone as a one-part test would. */
  reboots?: RebootMode;
  /**
   * Aborted when the run must stop (SIGINT, SIGTERM): the running test is
   * stopped and reported as interrupted, nothing else starts. Its reason
   * should be a DutError of kind `interrupted`.
   */
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/**
 * Runs the suites in order against one DUT, test by test, feeding the
 * reporter as it goes: a suite's plain tests in the order written, then its
 * tests that share a reboot, batched (shared-reboot.ts). The DUT boots
 * before the first test that needs it, and is rewound to its golden state
 * at the isolation's boundaries (isolation.ts); a DUT latched broken makes
 * every later test an error at once, with the first cause, instead of each
 * waiting out its timeout.
 */
export async function runSuites(plan: RunPlan): Promise<void> {
  const { dut, ...rest } = plan;
  await runSuitesOn({ ...rest, duts: [dut] });
}

/**
 * The same on several DUTs at once (`--parallel`): each DUT takes the next
 * piece of work not yet taken. A piece is a whole suite, so its tests share
 * one DUT, its setup, isolation and reboots; under `--isolate test` a suite
 * without a setup or teardown is split by test instead (tests sharing a
 * reboot stay one piece), since every test starts from the golden state
 * whichever DUT runs it. The first DUT boots alone: the others start once
 * it is up, from the golden state it saved, instead of every DUT booting
 * cold at once on shared cores. A DUT out of work is powered off. --bail
 * stops every DUT. With more than one DUT the reporter should be a
 * SuiteSequencer: suites that ran at once are reported one after another.
 */
export async function runSuitesOn(plan: Omit<RunPlan, 'dut'> & { duts: readonly Dut[] }): Promise<void> {
  const byTest = plan.isolate === 'test' && plan.duts.length > 1;
  const queue = plan.suites.flatMap((suite) => piecesOf(planSuite(suite, plan.grep, plan.reboots), byTest));
  const shared: SharedState = { stopReason: undefined };
  let working = plan.duts.length;
  const work = async (dut: Dut): Promise<void> => {
    const tag = plan.duts.length > 1 ? `[${dut.name}] ` : '';
    const log = (message: string): void => plan.log?.(`${tag}${message}`);
    const worker: Worker = { plan: { ...plan, dut, log }, env: { ...plan, dut, log }, isolator: new Isolator(dut, plan.isolate ?? 'suite', log) };
    for (let piece = queue.shift(); piece && !plan.signal?.aborted; piece = queue.shift()) await runPiece(worker, piece, shared);
    working--;
    // Out of work while others still run: an idle guest still takes CPU time under TCG, from them.
    if (working > 0 && dut.state === 'ready' && !plan.signal?.aborted) await dut.powerOff().catch(() => undefined);
  };
  const [first, ...others] = plan.duts;
  if (!first) return;
  const firstWork = work(first);
  const firstUp = Promise.race([firstWork, upOnce(first)]).catch(() => undefined);
  await Promise.all([
    firstWork,
    ...others.map(async (dut) => {
      await firstUp;
      await work(dut);
    }),
  ]);
}

interface SharedState {
  /** Set once the run must not start more tests (--bail), whichever DUT set it. */
  stopReason: string | undefined;
}

interface Worker {
  plan: RunPlan;
  env: TestEnv;
  isolator: Isolator;
}

/** A suite's selected tests as they run: its plain tests in the order written, then its reboot batches. */
interface SuitePlan {
  suite: LoadedSuite;
  plain: PlainTest[];
  batches: RebootTest[][];
  /** Pieces not finished yet; the suite ends with its last. */
  piecesLeft: number;
  startedAt: number | undefined;
}

/** Work one DUT takes at a time: tests of one suite (all of them, or one test or reboot batch). */
interface Piece {
  suite: SuitePlan;
  plain: PlainTest[];
  batches: RebootTest[][];
}

function planSuite(suite: LoadedSuite, grep: RegExp | undefined, reboots: RebootMode | undefined): SuitePlan {
  const selected = suite.tests.filter((t) => !grep || grep.test(`${suite.name}/${t.title}`));
  const plain = selected.filter((t): t is PlainTest => !isRebootTest(t));
  return { suite, plain, batches: rebootBatches(selected.filter(isRebootTest), reboots), piecesLeft: 0, startedAt: undefined };
}

/** A suite whose tests rely on its setup or teardown stays one piece: it runs on one DUT. */
function piecesOf(suite: SuitePlan, byTest: boolean): Piece[] {
  const { setup, teardown } = suite.suite.definition;
  const pieces =
    byTest && !setup && !teardown
      ? [...suite.plain.map((test) => ({ suite, plain: [test], batches: [] })), ...suite.batches.map((batch) => ({ suite, plain: [], batches: [batch] }))]
      : suite.plain.length + suite.batches.length > 0
        ? [{ suite, plain: suite.plain, batches: suite.batches }]
        : [];
  suite.piecesLeft = pieces.length;
  return pieces;
}

/** Resolves once the DUT has been ready or broken for the first time: its boot is over, a golden state saved if it could be. */
function upOnce(dut: Dut): Promise<void> {
  return new Promise((resolve) => {
    const done = (state: string): boolean => state === 'ready' || state === 'broken';
    if (done(dut.state)) return resolve();
    const unsubscribe = dut.timeline.subscribe((entry) => {
      if (!done(entry.state)) return;
      unsubscribe();
      resolve();
    });
  });
}

/** Runs a piece of a suite on the worker's DUT; the suite starts with its first piece and ends with its last, whichever DUTs ran them. */
async function runPiece({ plan, env, isolator }: Worker, piece: Piece, shared: SharedState): Promise<void> {
  const log = env.log;
  if (plan.signal?.aborted) return;
  const { suite } = piece.suite;
  const { plain, batches } = piece;
  if (piece.suite.startedAt === undefined) {
    const order: TestDefinition[] = [...piece.suite.plain, ...piece.suite.batches.flat()];
    piece.suite.startedAt = Date.now();
    plan.reporter.suiteStart({ suite: suite.name, title: suite.definition.title, testCount: order.length, startedAt: piece.suite.startedAt, tests: order.map((t) => t.title) });
  }
  const suitePhase = phase(plan.signal);
  const suiteContext = createContext({ ...env, signal: () => suitePhase.signal, artifacts: path.join(plan.reportsDir, 'artifacts', suite.name, '_suite') });
  const suiteSkip = shared.stopReason ?? unmetRequirement(suite.definition.requires, plan.dut.board.deviceType, plan.features);
  const hasSetup = suite.definition.setup !== undefined;
  let setupError: unknown;
  if (!suiteSkip) {
    setupError = await untilAborted(
      (async () => {
        await prepareDut(plan.dut, isolator);
        await isolator.beforeSuite(suite.name, hasSetup).catch((error: unknown) => {
          throw new IsolationError(error, 'the suite');
        });
        if (hasSetup) isolator.ran();
        await suite.definition.setup?.(suiteContext);
      })(),
      plan.signal,
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
  }
  // Interrupted during boot or setup: the reporter marks this suite's tests as not run.
  if (plan.signal?.aborted) return;

  const blocked = (test: TestDefinition): TestResult | undefined => {
    const skip = shared.stopReason ?? suiteSkip ?? unmetRequirement(test.requires, plan.dut.board.deviceType, plan.features);
    if (skip) return { suite: suite.name, title: test.title, status: 'skip', skipReason: skip, durationMs: 0, startedAt: Date.now() };
    if (setupError instanceof IsolationError) return isolationFailed(suite.name, test.title, setupError);
    if (setupError) return { ...failed(suite.name, test.title, Date.now(), setupError, 'suite setup failed: '), status: 'error' };
    return undefined;
  };
  const isolated = async (what: string): Promise<IsolationError | undefined> => {
    if (plan.signal?.aborted) return undefined;
    return isolator.beforeTest(what, hasSetup).then(
      () => undefined,
      (error: unknown) => new IsolationError(error, 'the test'),
    );
  };
  const report = (result: TestResult): void => {
    plan.reporter.testResult(result);
    if (plan.bail && !shared.stopReason && (result.status === 'fail' || result.status === 'error') && !result.knownFlaky) {
      shared.stopReason = `not run: --bail after "${suite.name}/${result.title}" ${result.status === 'fail' ? 'failed' : 'errored'}`;
    }
  };

  for (const test of plain) {
    const skipped = blocked(test);
    if (skipped) {
      report(skipped);
      continue;
    }
    const lost = await isolated(`"${suite.name}/${test.title}"`);
    report(lost ? isolationFailed(suite.name, test.title, lost) : await runPlain(env, suite, test));
    isolator.ran();
    if (plan.signal?.aborted) return;
  }
  for (const batch of batches) {
    // Tests sharing a reboot are one unit: prepared in one boot, rewound before together.
    const runnable = batch.some((test) => !blocked(test));
    const lost = runnable ? await isolated(`the ${batch.length} tests sharing a reboot in ${suite.name}`) : undefined;
    await runRebootBatch(env, suite, batch, { blocked: (test) => blocked(test) ?? (lost ? isolationFailed(suite.name, test.title, lost) : undefined), stopReason: () => shared.stopReason, report });
    if (runnable) isolator.ran();
    if (plan.signal?.aborted) return;
  }

  const teardownErrors = await suiteContext.runTeardowns((fn) => bounded(fn, suitePhase, 'suite teardown'));
  if (!suiteSkip && suite.definition.teardown && !setupError) {
    await bounded(() => suite.definition.teardown?.(suiteContext), suitePhase, 'suite teardown').catch((error: unknown) => teardownErrors.push(error));
  }
  for (const error of teardownErrors) log(`suite ${suite.name} teardown: ${error instanceof Error ? error.message : String(error)}`);
  if (--piece.suite.piecesLeft === 0) plan.reporter.suiteEnd({ suite: suite.name, durationMs: Date.now() - piece.suite.startedAt });
}

/** Boots the DUT if it is not up; a broken one is power-cycled once per suite. */
async function prepareDut(dut: Dut, isolator: Isolator): Promise<void> {
  await dut.settled();
  const fresh = dut.state === 'idle';
  if (dut.state === 'broken') await dut.recover();
  else await dut.boot();
  if (fresh) isolator.booted();
}

/** The golden state could not be restored before a test or suite: the harness's error, for every test it was for. */
class IsolationError extends Error {
  constructor(
    readonly error: unknown,
    readonly before: string,
  ) {
    super(`the golden state could not be restored before ${before}`);
  }
}

function isolationFailed(suite: string, title: string, lost: IsolationError): TestResult {
  return { ...failed(suite, title, Date.now(), lost.error, `not run: ${lost.message}: `), status: 'error' };
}

async function runPlain(env: TestEnv, suite: LoadedSuite, test: PlainTest): Promise<TestResult> {
  const run = await TestRun.start(env, suite, test);
  const outcome = await run.part(async (t) => {
    await suite.definition.beforeEach?.(t);
    await test.run(t);
  });
  return run.finish(outcome);
}
