import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dut } from '../dut/dut.ts';
import { DutError, tail } from '../errors.ts';
import { untilAborted, within } from '../proc/abort.ts';
import type { RunEvents, TestResult } from '../report/index.ts';
import { collectFailureArtifacts, serialSlice } from './artifacts.ts';
import { classify } from './classify.ts';
import { createContext, TestSkipped, type OwnedContext } from './context.ts';
import type { LoadedSuite } from './discover.ts';
import type { Feature, RunImages, TestContext, TestDefinition } from './types.ts';

/** What every test of a run shares: the DUT, the images, where reports go. */
export interface TestEnv {
  dut: Dut;
  images: RunImages;
  features: ReadonlySet<Feature>;
  reporter: RunEvents;
  reportsDir: string;
  knownFlaky?: RegExp[];
  signal?: AbortSignal;
  log: (message: string) => void;
}

const DEFAULT_TEST_TIMEOUT_MS = 10 * 60_000;
/** Bounds on what runs after a test's body; a DUT that does not answer must not hold the run. */
export const TEARDOWN_STEP_MS = 2 * 60_000;
const ARTIFACTS_MS = 2 * 60_000;
/**
 * An SSH link that drops is often the first sign of a panic or reset whose
 * console lines are still arriving: wait this long for the console's verdict
 * before calling it a lost connection.
 */
const FAULT_GRACE_MS = 3000;

/**
 * One test case from its start to its result. Its body runs as one part, or,
 * for a test sharing a reboot, as two parts with other tests' parts and the
 * reboot between them: faults, timeouts and the transcript are each part's
 * own, so nothing that happens outside them is charged to this test.
 */
export class TestRun {
  readonly startedAt = Date.now();
  readonly context: OwnedContext;
  private readonly artifacts: string;
  private readonly timeoutMs: number;
  /** [start, end] of each span of the DUT's time that is this test's: its parts, and a reboot it shared. */
  private readonly spans: [number, number][] = [];
  private current: Phase;

  /** Waits for the DUT to rest first: a recovery from whatever came before is not charged to this test, neither as time nor as a fault. */
  static async start(env: TestEnv, suite: LoadedSuite, test: TestDefinition): Promise<TestRun> {
    await env.dut.settled();
    return new TestRun(env, suite, test);
  }

  private constructor(
    private readonly env: TestEnv,
    private readonly suite: LoadedSuite,
    private readonly test: TestDefinition,
  ) {
    env.reporter.testStart({ suite: suite.name, title: test.title, startedAt: this.startedAt });
    this.artifacts = path.join(env.reportsDir, 'artifacts', suite.name, slug(test.title));
    this.timeoutMs = test.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
    this.current = phase(env.signal);
    this.context = createContext({ ...env, signal: () => this.current.signal, artifacts: this.artifacts });
  }

  /**
   * Runs one part of the test under a signal that the part's timeout, a
   * console fault or the run's interruption aborts, and returns what ended
   * it as the verdict must see it (undefined when it passed).
   */
  async part(work: (t: TestContext) => Promise<void>, name?: string): Promise<unknown> {
    const { dut } = this.env;
    const startedAt = Date.now();
    const body = phase(this.env.signal);
    this.current = body;
    // A panic or reset anywhere in the part is this test's verdict, whatever it was doing.
    const stopFaults = dut.onFault((fault) => body.abort(fault.error));
    const what = name ? `the part ${name} of test "${this.test.title}"` : `test "${this.test.title}"`;
    const timer = setTimeout(() => {
      const now = Date.now();
      const excerpt = tail(serialSlice(dut, now - 30_000, now), 20);
      body.abort(new DutError('timeout', `${what} did not finish within ${this.timeoutMs / 1000} s; it was stopped`, { dut: dut.name, step: 'test', excerpt }));
    }, this.timeoutMs);

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
        Promise.resolve().then(() => work(this.context)),
        body.signal,
      );
    } catch (error) {
      outcome = error;
    }
    clearTimeout(timer);
    stopFaults();
    // Whatever the part still has in flight stops now (its remote commands are killed).
    if (!body.signal.aborted) body.abort(new DutError('interrupted', `${what} ended`, { dut: dut.name, step: 'test' }));
    this.spans.push([startedAt, Date.now()]);
    return judged(dut, startedAt, outcome);
  }

  /** Counts a reboot this test shared with others as its own time: its transcript and duration include it. */
  shared(startedAt: number, endedAt: number): void {
    this.spans.push([startedAt, endedAt]);
  }

  /**
   * Ends the test with `outcome` (undefined: it passed): in this order and
   * each bounded, the DUT settles (back to ready after a reset, or broken),
   * failure artifacts are collected while what explains the failure is
   * still there, and the teardowns run; a fault they meet fails a test that
   * had passed.
   */
  async finish(outcome: unknown, prefix = ''): Promise<TestResult> {
    const { dut, signal, reportsDir } = this.env;
    const { name: suite } = this.suite;
    const { title } = this.test;
    const lastStart = this.spans.at(-1)?.[0] ?? this.startedAt;
    let result: TestResult = outcome === undefined ? { suite, title, status: 'pass', durationMs: 0, startedAt: this.startedAt } : resultOf(suite, title, this.startedAt, outcome, prefix);
    await dut.settled();

    const files: string[] = [];
    await mkdir(this.artifacts, { recursive: true });
    const after = phase(signal);
    this.current = after;
    if (result.status === 'fail' || result.status === 'error') {
      const collect = phase(signal);
      const collecting = collectFailureArtifacts(dut, this.artifacts, { signal: collect.signal, rebooted: dut.faultSince(lastStart) !== undefined });
      const expired = (): DutError => {
        const error = new DutError('timeout', `failure artifacts not collected within ${ARTIFACTS_MS / 1000} s`, { dut: dut.name, step: 'artifacts' });
        collect.abort(error);
        return error;
      };
      files.push(...(await within(collecting, ARTIFACTS_MS, expired).catch(() => [])));
    }
    const teardownErrors = await this.context.runTeardowns((fn) => bounded(fn, after, 'teardown'));
    if (result.status === 'pass') {
      const late = await judged(dut, lastStart, teardownErrors[0]);
      if (late !== undefined) result = resultOf(suite, title, this.startedAt, late, late === teardownErrors[0] ? 'teardown: ' : '');
    }

    const last = this.spans.at(-1);
    if (last) last[1] = Date.now();
    else this.spans.push([this.startedAt, Date.now()]);
    const serial = this.spans.map(([from, to]) => serialSlice(dut, from, to)).join(SPAN_BREAK);
    const serialFile = path.join(this.artifacts, 'serial.log');
    await writeFile(serialFile, serial);
    files.unshift(serialFile);
    const knownFlaky = this.env.knownFlaky?.some((re) => re.test(`${suite}/${title}`)) ?? false;
    return {
      ...result,
      durationMs: this.spans.reduce((sum, [from, to]) => sum + (to - from), 0),
      serialExcerpt: serial,
      ...(knownFlaky ? { knownFlaky } : {}),
      ...(files.length > 0 ? { artifacts: files.map((f) => path.relative(reportsDir, f)) } : {}),
    };
  }
}

/** Between two spans of a test's transcript, where other tests' parts ran. */
const SPAN_BREAK = '\n[dutlab: other tests ran here]\n';

/** The signal of one phase (a test's part, a teardown), which the phase's own bounds abort, and so does the run's interruption. */
export interface Phase {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
}

export function phase(run: AbortSignal | undefined): Phase {
  const own = new AbortController();
  // AbortSignal.any, not a listener on the run's signal: the run's signal outlives hundreds of phases, and would hold every one of them.
  return { signal: run ? AbortSignal.any([own.signal, run]) : own.signal, abort: (reason) => own.abort(reason) };
}

/** One teardown step, bounded; when the bound passes its DUT calls are aborted too. */
export async function bounded(fn: () => unknown, controller: Phase, step: string): Promise<unknown> {
  const expired = () => new DutError('timeout', `${step} did not finish within ${TEARDOWN_STEP_MS / 1000} s`, { step });
  try {
    return await within(untilAborted(Promise.resolve().then(fn), controller.signal), TEARDOWN_STEP_MS, expired);
  } catch (error) {
    if (!controller.signal.aborted) controller.abort(error);
    throw error;
  }
}

/**
 * What ended a span of the DUT's time, as the verdict must see it: the first
 * console fault in it wins over whatever the test saw of it (a lost SSH link,
 * a command's odd exit code), since it is what really happened.
 */
export async function judged(dut: Dut, since: number, outcome: unknown): Promise<unknown> {
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

export function failed(suite: string, title: string, startedAt: number, error: unknown, prefix = ''): TestResult {
  const verdict = classify(error);
  return { suite, title, status: verdict.status, message: `${prefix}${verdict.message}`, diagnostics: verdict.diagnostics, durationMs: Date.now() - startedAt, startedAt };
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80);
}
