/**
 * Reads the TAP that tap-writer.ts streams (see its dialect) back into suites
 * and cases with tap-parser, keeping apart what JUnit must keep apart:
 * severity: error → error, other "not ok" → fail, TODO failures → flaky,
 * SKIP → skip. It also reads TAP that was cut off mid-suite (a results.tap.part
 * left by a killed run): an unclosed subtest is returned with closed: false.
 */
import { Parser, type Result } from 'tap-parser';
import { DURATION_KEY, SEVERITY_KEY } from './tap-writer.ts';

export type CaseStatus = 'pass' | 'fail' | 'error' | 'skip' | 'flaky';

export interface TapCase {
  id: number;
  name: string;
  status: CaseStatus;
  timeMs: number;
  /** Failure/error message, or the skip reason. */
  message?: string;
  diag?: Record<string, unknown>;
}

export interface TapSuite {
  name: string;
  /** The "# key: value" comments inside the subtest (title, started). */
  facts: Record<string, string>;
  timeMs: number;
  cases: TapCase[];
  /** Whether the top-level test point that closes the subtest was seen. */
  closed: boolean;
}

export interface TapRun {
  /** The "# key: value" comments at the top (board, image, started, ...). */
  facts: Record<string, string>;
  suites: TapSuite[];
  bailOut?: string;
}

const FACT = /^# ([A-Za-z][\w-]*): (.*)$/;
const SUBTEST = /^# Subtest: (.*)$/;

export function readTap(text: string): TapRun {
  const run: TapRun = { facts: {}, suites: [] };
  let open: TapSuite | undefined;
  let complete = false;
  const parser = new Parser();

  parser.on('comment', (line: string) => addFact(run.facts, line));
  parser.on('bailout', (reason: string) => {
    run.bailOut = reason;
  });
  parser.on('child', (child: Parser) => {
    const suite: TapSuite = { name: '', facts: {}, timeMs: 0, cases: [], closed: false };
    open = suite;
    run.suites.push(suite);
    child.on('comment', (line: string) => {
      const subtest = SUBTEST.exec(line.trimEnd());
      if (subtest) suite.name = (subtest[1] ?? '').replace(/\\#/g, '#');
      else addFact(suite.facts, line);
    });
    child.on('assert', (result: Result) => suite.cases.push(toCase(result)));
  });
  parser.on('assert', (result: Result) => {
    if (open && !open.closed) {
      open.name = result.name || open.name;
      open.timeMs = result.time ?? 0;
      open.closed = true;
      return;
    }
    // A test point outside any subtest: not our dialect, but keep it rather than lose it.
    let loose = run.suites.find((s) => s.name === '(top level)');
    if (!loose) run.suites.push((loose = { name: '(top level)', facts: {}, timeMs: 0, cases: [], closed: true }));
    loose.cases.push(toCase(result));
  });
  parser.on('complete', () => {
    complete = true;
  });
  parser.end(text);
  if (!complete) throw new Error('tap-parser did not complete synchronously');
  return run;
}

function toCase(result: Result): TapCase {
  const diag = isRecord(result.diag) ? result.diag : undefined;
  const duration = diag?.[DURATION_KEY];
  const timeMs = result.time ?? (typeof duration === 'number' ? duration : 0);
  const base = { id: result.id, name: result.name, timeMs, ...(diag ? { diag } : {}) };
  if (result.skip !== false) {
    return { ...base, status: 'skip', message: result.skip === true ? '' : result.skip };
  }
  if (result.ok) return { ...base, status: 'pass' };
  const message = typeof diag?.message === 'string' ? diag.message : undefined;
  const status: CaseStatus = result.todo !== false ? 'flaky' : diag?.[SEVERITY_KEY] === 'error' ? 'error' : 'fail';
  return { ...base, status, ...(message !== undefined ? { message } : {}) };
}

function addFact(facts: Record<string, string>, line: string): void {
  const fact = FACT.exec(line.trimEnd());
  if (fact?.[1] && !(fact[1] in facts)) facts[fact[1]] = fact[2] ?? '';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
