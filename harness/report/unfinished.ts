/**
 * Stand-ins for the tests of a suite that never reported a result: the ones
 * running when the run stopped ("not finished: …") and those never started
 * ("not run: …"). They are errors, so a cut-short run never looks green and
 * the counts still add up to what the suite announced.
 */
import type { SuiteStart, TestResult, TestStart } from './events.ts';

export interface Unfinished {
  suite: SuiteStart;
  /** Results the suite did report. */
  done: readonly TestResult[];
  /** The tests that were announced by testStart and have no result yet. */
  running: readonly TestStart[];
  /** Why, e.g. "run interrupted by SIGINT". */
  reason: string;
  /** cause in the diagnostics, e.g. "interrupted". */
  kind: string;
  now: number;
}

export function unfinishedResults({ suite, done, running, reason, kind, now }: Unfinished): TestResult[] {
  const results: TestResult[] = [];
  const make = (title: string, message: string, startedAt: number): TestResult => ({
    suite: suite.suite,
    title,
    status: 'error',
    durationMs: Math.max(0, now - startedAt),
    startedAt,
    message,
    diagnostics: { cause: kind },
  });
  for (const test of running) results.push(make(test.title, `not finished: ${reason}`, test.startedAt));

  const reported = new Set([...done.map((r) => r.title), ...running.map((test) => test.title)]);
  const left = Math.max(0, suite.testCount - done.length - running.length);
  const titles = (suite.tests ?? []).filter((title) => !reported.has(title)).slice(0, left);
  for (let i = 0; i < left; i++) {
    const position = suite.testCount - left + i + 1;
    const title = titles[i] ?? `test ${position} of ${suite.testCount}`;
    results.push(make(title, `not run: ${reason}`, now));
  }
  return results;
}
