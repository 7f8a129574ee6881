/**
 * summary.json: what a dashboard or a script wants without parsing TAP or
 * JUnit. Every test is in exactly one count: passed, failed, errors, skipped,
 * or flaky (a known-flaky test that failed; one that passed is "passed", one
 * that errored is in "errors"). JUnit's tests/failures/errors/skipped are
 * total/failed/errors/skipped here.
 */
import type { RunEnd, RunInfo, SuiteStart, TestResult } from './events.ts';
import type { ExitCode } from './exit-code.ts';
import { isoTime } from './tap-writer.ts';

export interface Counts {
  total: number;
  passed: number;
  failed: number;
  errors: number;
  skipped: number;
  flaky: number;
}

export interface TestSummary {
  title: string;
  status: TestResult['status'];
  knownFlaky: boolean;
  startedAt: string | undefined;
  durationMs: number;
  message?: string;
  skipReason?: string;
  cause?: string;
  /** Transcript excerpt of the event behind a fail or error. */
  excerpt?: string;
  artifacts?: string[];
}

export interface SuiteSummary {
  suite: string;
  title: string;
  startedAt: string | undefined;
  durationMs: number;
  counts: Counts;
  tests: TestSummary[];
}

export interface RunSummary {
  format: 'dutlab-summary/1';
  board: string;
  deviceType: string;
  image: string;
  imageVersion?: string;
  accel?: string;
  startedAt: string | undefined;
  durationMs: number;
  interrupted: boolean;
  /** Why the run was cut short, e.g. "SIGINT". */
  interruptedBy?: string;
  exitCode: ExitCode;
  counts: Counts;
  suites: SuiteSummary[];
  timeline: RunEnd['timeline'];
  boardDescription?: Record<string, unknown>;
  features?: string[];
  /** Report files, relative to the reports dir. */
  files: { tap: string; junit: string; summary: string };
  /** Set when junit.xml could not be written; the run then exits 2. */
  junitError?: string;
}

/** One suite as the reporter saw it. */
export interface SuiteRecord {
  start: SuiteStart;
  results: TestResult[];
  durationMs: number;
}

export function countResults(results: readonly TestResult[]): Counts {
  const counts: Counts = { total: results.length, passed: 0, failed: 0, errors: 0, skipped: 0, flaky: 0 };
  for (const r of results) {
    if (r.status === 'pass') counts.passed++;
    else if (r.status === 'skip') counts.skipped++;
    else if (r.status === 'error') counts.errors++;
    else if (r.knownFlaky) counts.flaky++;
    else counts.failed++;
  }
  return counts;
}

export interface SummaryInput {
  run: RunInfo;
  suites: readonly SuiteRecord[];
  end: RunEnd;
  exitCode: ExitCode;
  files: RunSummary['files'];
  junitError?: string;
}

export function buildSummary({ run, suites, end, exitCode, files, junitError }: SummaryInput): RunSummary {
  return {
    format: 'dutlab-summary/1',
    board: run.board,
    deviceType: run.deviceType,
    image: run.image,
    ...(run.imageVersion !== undefined ? { imageVersion: run.imageVersion } : {}),
    ...(run.accel !== undefined ? { accel: run.accel } : {}),
    startedAt: isoTime(run.startedAt),
    durationMs: end.durationMs,
    interrupted: end.interrupted !== undefined,
    ...(end.interrupted !== undefined ? { interruptedBy: end.interrupted } : {}),
    exitCode,
    counts: countResults(suites.flatMap((s) => s.results)),
    suites: suites.map(suiteSummary),
    timeline: end.timeline,
    ...(end.boardDescription ? { boardDescription: end.boardDescription } : {}),
    ...(end.features ? { features: end.features } : {}),
    files,
    ...(junitError !== undefined ? { junitError } : {}),
  };
}

function suiteSummary(record: SuiteRecord): SuiteSummary {
  return {
    suite: record.start.suite,
    title: record.start.title,
    startedAt: isoTime(record.start.startedAt),
    durationMs: record.durationMs,
    counts: countResults(record.results),
    tests: record.results.map(testSummary),
  };
}

function testSummary(r: TestResult): TestSummary {
  return {
    title: r.title,
    status: r.status,
    knownFlaky: r.knownFlaky === true,
    startedAt: isoTime(r.startedAt),
    durationMs: r.durationMs,
    ...(r.message !== undefined ? { message: r.message } : {}),
    ...(r.skipReason !== undefined ? { skipReason: r.skipReason } : {}),
    ...(r.diagnostics?.cause !== undefined ? { cause: r.diagnostics.cause } : {}),
    ...(r.diagnostics?.excerpt !== undefined ? { excerpt: r.diagnostics.excerpt } : {}),
    ...(r.artifacts?.length ? { artifacts: r.artifacts } : {}),
  };
}
