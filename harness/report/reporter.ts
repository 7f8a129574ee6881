/**
 * Ties the report outputs to the runner's events. TAP streams to `out`
 * (stdout) and to <reportsDir>/results.tap(.part) as results arrive; end()
 * closes whatever is open, then writes junit.xml (from that TAP) and
 * summary.json, and returns the exit code.
 *
 * Crash-safe by construction: end() may come at any point (a SIGINT handler
 * calls it mid-suite). Tests the open suite announced but did not report
 * become errors saying why ("not run: run interrupted by SIGINT"), the TAP
 * ends with "Bail out!", and every file is complete and valid. It is
 * synchronous and idempotent; events after it are ignored. Events out of order
 * do not throw either: a result for a suite never started starts it, and a
 * new suite closes one left open, its unreported tests as errors.
 */
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { RunEnd, RunInfo, SuiteEnd, SuiteStart, TestResult, TestStart } from './events.ts';
import { exitCodeFor, EXIT_ERROR, type ExitCode } from './exit-code.ts';
import { StreamedFile, writeFileAtomic } from './files.ts';
import { outputKey, tapToJUnit, type TestOutput } from './junit.ts';
import { buildSummary, countResults, type RunSummary, type SuiteRecord } from './summary.ts';
import { TapWriter } from './tap-writer.ts';
import { unfinishedResults } from './unfinished.ts';

export const REPORT_FILES = { tap: 'results.tap', junit: 'junit.xml', summary: 'summary.json' } as const;

export interface ReporterOptions {
  /** reports/<run>; created if missing. */
  reportsDir: string;
  /** Live TAP; defaults to process.stdout, null for none. */
  out?: { write(chunk: string): unknown } | null;
  /** JUnit hostname; defaults to this machine's. */
  hostname?: string;
  /** Clock, for tests. */
  now?: () => number;
}

/** What the runner tells the reporter as it goes (a SuiteSequencer stands between them when DUTs run suites at once). */
export type RunEvents = Pick<Reporter, 'suiteStart' | 'testStart' | 'testResult' | 'suiteEnd'>;

/** Why a suite's unreported tests are errors when the run ends before the suite did. */
export function unfinishedBy(interrupted: string | undefined): { reason: string; kind: string } {
  return interrupted !== undefined ? { reason: `run interrupted by ${interrupted}`, kind: 'interrupted' } : { reason: 'run ended before the suite did', kind: 'incomplete' };
}

export class Reporter {
  private readonly suites: SuiteRecord[] = [];
  private readonly outputs = new Map<string, TestOutput>();
  private readonly now: () => number;
  private readonly out: { write(chunk: string): unknown } | null;
  private run: RunInfo | undefined;
  private tapFile: StreamedFile | undefined;
  private tapText = '';
  private writer: TapWriter | undefined;
  private open: SuiteRecord | undefined;
  /** Announced by testStart, no result yet: one test, or the tests of a shared reboot. */
  private running: TestStart[] = [];
  private exitCode: ExitCode | undefined;
  private result: RunSummary | undefined;

  constructor(private readonly options: ReporterOptions) {
    this.now = options.now ?? Date.now;
    this.out = options.out === undefined ? process.stdout : options.out;
  }

  /** The summary end() wrote, once it has run. */
  get summary(): RunSummary | undefined {
    return this.result;
  }

  start(run: RunInfo): void {
    if (this.run || this.ended) return;
    this.run = run;
    this.tapFile = new StreamedFile(join(this.options.reportsDir, REPORT_FILES.tap));
    this.writer = new TapWriter((chunk) => this.emit(chunk));
    this.writer.header(run);
  }

  suiteStart(suite: SuiteStart): void {
    if (this.ended) return;
    const writer = this.started();
    if (this.open) this.closeOpen(`suite ${this.open.start.suite} got no suiteEnd before ${suite.suite} started`, 'incomplete');
    this.open = { start: suite, results: [], durationMs: 0 };
    this.suites.push(this.open);
    writer.suiteStart(suite);
  }

  testStart(test: TestStart): void {
    if (this.ended) return;
    this.suiteFor(test.suite, test.startedAt);
    this.running.push(test);
  }

  testResult(result: TestResult): void {
    if (this.ended) return;
    const suite = this.suiteFor(result.suite, result.startedAt);
    this.running = this.running.filter((test) => test.title !== result.title);
    this.record(suite, result);
  }

  suiteEnd(end: SuiteEnd): void {
    if (this.ended || !this.open || this.open.start.suite !== end.suite) return;
    const { testCount } = this.open.start;
    const reported = this.open.results.length;
    if (reported < testCount) this.addUnfinished(`suite ended after ${reported} of ${testCount} tests`, 'incomplete');
    this.closeSuite(end.durationMs);
  }

  /** Closes suite `name` if it is the open one, its unreported tests errors that say why. */
  abandon(name: string, reason: string, kind: string): void {
    if (this.ended || this.open?.start.suite !== name) return;
    this.closeOpen(reason, kind);
  }

  /** Closes what is open, writes results.tap, junit.xml and summary.json, and returns the exit code. */
  end(runEnd: RunEnd): ExitCode {
    if (this.exitCode !== undefined) return this.exitCode;
    const writer = this.started();
    const interrupted = runEnd.interrupted;
    const bailOut = interrupted !== undefined ? unfinishedBy(interrupted).reason : undefined;
    if (this.open) this.closeOpen(unfinishedBy(interrupted).reason, unfinishedBy(interrupted).kind);
    const counts = countResults(this.suites.flatMap((s) => s.results));
    let exitCode = exitCodeFor({ failed: counts.failed, errors: counts.errors, interrupted });
    writer.finish(bailOut);
    this.tapFile?.complete();

    let junitError: string | undefined;
    try {
      const xml = tapToJUnit(this.tapText, { outputs: this.outputs, hostname: this.options.hostname ?? osHostname() });
      writeFileAtomic(join(this.options.reportsDir, REPORT_FILES.junit), xml);
    } catch (error) {
      junitError = error instanceof Error ? error.message : String(error);
      exitCode = EXIT_ERROR;
    }
    this.exitCode = exitCode;
    this.result = buildSummary({
      run: this.run ?? placeholderRun(this.now()),
      suites: this.suites,
      end: runEnd,
      exitCode,
      files: { ...REPORT_FILES },
      ...(junitError !== undefined ? { junitError } : {}),
    });
    writeFileAtomic(join(this.options.reportsDir, REPORT_FILES.summary), `${JSON.stringify(this.result, null, 2)}\n`);
    return exitCode;
  }

  private get ended(): boolean {
    return this.exitCode !== undefined;
  }

  private started(): TapWriter {
    if (!this.writer) this.start(placeholderRun(this.now()));
    return this.writer as TapWriter;
  }

  /** The open suite named `name`, starting it (and closing another) if needed. */
  private suiteFor(name: string, startedAt: number): SuiteRecord {
    if (this.open?.start.suite === name) return this.open;
    this.suiteStart({ suite: name, title: name, testCount: 0, startedAt });
    return this.open as unknown as SuiteRecord;
  }

  private record(suite: SuiteRecord, result: TestResult): void {
    suite.results.push(result);
    const id = suite.results.length;
    if (result.serialExcerpt || result.artifacts?.length) {
      this.outputs.set(outputKey(this.suites.indexOf(suite), id), {
        ...(result.serialExcerpt ? { serialExcerpt: result.serialExcerpt } : {}),
        ...(result.artifacts?.length ? { artifacts: result.artifacts } : {}),
      });
    }
    this.writer?.test(result);
  }

  private addUnfinished(reason: string, kind: string): void {
    if (!this.open) return;
    const results = unfinishedResults({
      suite: this.open.start,
      done: this.open.results,
      running: this.running,
      reason,
      kind,
      now: this.now(),
    });
    this.running = [];
    for (const result of results) this.record(this.open, result);
  }

  private closeOpen(reason: string, kind: string): void {
    if (!this.open) return;
    this.addUnfinished(reason, kind);
    this.closeSuite(Math.max(0, this.now() - this.open.start.startedAt));
  }

  private closeSuite(durationMs: number): void {
    if (!this.open) return;
    this.open.durationMs = durationMs;
    this.writer?.suiteEnd(this.open.start.suite, durationMs);
    this.open = undefined;
    this.running = [];
  }

  private emit(chunk: string): void {
    this.tapText += chunk;
    this.tapFile?.append(chunk);
    try {
      this.out?.write(chunk);
    } catch {
      // A closed stdout must not lose the report files.
    }
  }
}

function placeholderRun(startedAt: number): RunInfo {
  return { board: 'unknown', deviceType: 'unknown', image: 'unknown', startedAt };
}
