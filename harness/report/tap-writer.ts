/**
 * Streams a run as TAP version 13, one line at a time, to a sink (stdout and
 * results.tap). The dialect, which tap-read.ts reads back for JUnit:
 *
 *   TAP version 13
 *   # dutlab run                       run facts as "# key: value" comments
 *   # board: qemu-x86_64               (board, deviceType, image, imageVersion,
 *   # started: 2025-01-01T00:00:00.000Z  accel, started)
 *   # Subtest: os-basics               one subtest per suite, named by its id
 *       # title: OS basics             suite facts as comments inside it
 *       # started: 2025-01-01T00:00:01.000Z
 *       ok 1 - boots # time=1200ms     pass: duration as node-tap's time directive
 *       ok 2 - hup # SKIP requires feature hup, board lacks it
 *       not ok 3 - hostname is set     fail: YAML diagnostics with severity: fail
 *         ---
 *         severity: fail
 *         message: …
 *         duration_ms: 500
 *         ...
 *       not ok 4 - boots again         error (infrastructure): severity: error,
 *         ---                          cause names the verdict's cause
 *         severity: error
 *         ...
 *       not ok 5 - flaky # TODO known flaky   a known-flaky failure: TAP's TODO,
 *         ---                          so TAP consumers do not count it as a
 *         severity: fail               failure; its diagnostics are kept
 *         knownFlaky: true
 *         ...
 *       1..5                           trailing plan: the count is what ran
 *   not ok 1 - os-basics # time=9000ms   "not ok" when a test failed or errored
 *   1..1
 *   # dutlab: pass 2, fail 1, error 1, skip 1, flaky 1
 *
 * Error versus failure therefore lives in the `severity` diagnostic, which
 * every "not ok" line carries. A known-flaky test that errors is an error (no
 * TODO): flakiness excuses the test, not the infrastructure. An interrupted run
 * ends with `Bail out! <reason>` in place of the final plan. "#" in titles is
 * escaped as "\#"; titles, reasons and comments are cut to one line and lose
 * control characters (YAML escapes them in diagnostics).
 */
import { stringify } from 'yaml';
import { inspect } from 'node:util';
import type { RunInfo, SuiteStart, TestResult } from './events.ts';

export const SEVERITY_KEY = 'severity';
export const DURATION_KEY = 'duration_ms';
export const FLAKY_TODO = 'known flaky';

export type TapSink = (chunk: string) => void;

const SUB = '    ';

export class TapWriter {
  private suiteCount = 0;
  private testCount = 0;
  private suiteNotOk = false;
  private readonly totals = { pass: 0, fail: 0, error: 0, skip: 0, flaky: 0 };

  constructor(private readonly sink: TapSink) {}

  header(run: RunInfo): void {
    const facts: [string, string | undefined][] = [
      ['board', run.board],
      ['deviceType', run.deviceType],
      ['image', run.image],
      ['imageVersion', run.imageVersion],
      ['accel', run.accel],
      ['started', isoTime(run.startedAt)],
    ];
    this.lines('', ['TAP version 13', '# dutlab run', ...comments(facts)]);
  }

  suiteStart(suite: SuiteStart): void {
    this.testCount = 0;
    this.suiteNotOk = false;
    this.lines('', [`# Subtest: ${escapeName(suite.suite)}`]);
    this.lines(SUB, comments([['title', suite.title], ['started', isoTime(suite.startedAt)]]));
  }

  test(result: TestResult): void {
    const id = ++this.testCount;
    const name = escapeName(result.title);
    const flaky = result.status === 'fail' && result.knownFlaky === true;
    if (result.status === 'pass') {
      this.totals.pass++;
      this.lines(SUB, [`ok ${id} - ${name} # time=${ms(result.durationMs)}ms`]);
    } else if (result.status === 'skip') {
      this.totals.skip++;
      this.lines(SUB, [`ok ${id} - ${name} # SKIP ${oneLine(result.skipReason ?? '') || 'skipped'}`]);
    } else {
      this.totals[flaky ? 'flaky' : result.status]++;
      if (!flaky) this.suiteNotOk = true;
      this.lines(SUB, [`not ok ${id} - ${name}${flaky ? ` # TODO ${FLAKY_TODO}` : ''}`]);
      this.lines(SUB + '  ', yamlBlock(diagnosticsOf(result)));
    }
  }

  suiteEnd(suite: string, durationMs: number): void {
    const id = ++this.suiteCount;
    this.lines(SUB, [`1..${this.testCount}`]);
    this.lines('', [`${this.suiteNotOk ? 'not ok' : 'ok'} ${id} - ${escapeName(suite)} # time=${ms(durationMs)}ms`]);
  }

  /** Ends the stream: the plan, or `Bail out!` when the run was cut short. */
  finish(bailOut?: string): void {
    const t = this.totals;
    const tally = `# dutlab: pass ${t.pass}, fail ${t.fail}, error ${t.error}, skip ${t.skip}, flaky ${t.flaky}`;
    if (bailOut === undefined) this.lines('', [`1..${this.suiteCount}`, tally]);
    else this.lines('', [tally, `Bail out! ${oneLine(bailOut)}`]);
  }

  private lines(indent: string, lines: string[]): void {
    if (lines.length) this.sink(lines.map((line) => `${indent}${line}\n`).join(''));
  }
}

/** The YAML diagnostics of a failed or errored test, in reading order. */
export function diagnosticsOf(result: TestResult): Record<string, unknown> {
  const d = result.diagnostics ?? {};
  const fields: Record<string, unknown> = {
    [SEVERITY_KEY]: result.status === 'error' ? 'error' : 'fail',
    message: result.message,
    cause: d.cause,
    dut: d.dut,
    step: d.step,
    command: d.command,
    exitCode: d.exitCode,
    outputTail: d.outputTail,
    excerpt: d.excerpt,
    expected: d.expected,
    actual: d.actual,
    stack: d.stack,
    [DURATION_KEY]: ms(result.durationMs),
    knownFlaky: result.knownFlaky || undefined,
    artifacts: result.artifacts?.length ? result.artifacts : undefined,
  };
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

function yamlBlock(fields: Record<string, unknown>): string[] {
  let text: string;
  try {
    text = stringify(fields, { lineWidth: 0 });
  } catch {
    // expected/actual may hold values YAML cannot represent (functions, cycles through classes, ...)
    const printable = Object.fromEntries(
      Object.entries(fields).map(([k, v]) => [k, v !== null && typeof v === 'object' ? inspect(v) : v]),
    );
    text = stringify(printable, { lineWidth: 0 });
  }
  return ['---', ...text.trimEnd().split('\n'), '...'];
}

function comments(facts: [string, string | undefined][]): string[] {
  return facts.filter(([, value]) => value !== undefined && value !== '').map(([key, value]) => `# ${key}: ${oneLine(value ?? '')}`);
}

/** One line without control characters: what may stand in a TAP line. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trim();
}

/** A test or suite name: one line, "#" escaped so it cannot start a directive. */
export function escapeName(text: string): string {
  // tap-parser reads "\#" as "#" but has no escape for a backslash itself.
  return oneLine(text).replace(/\\?#/g, '\\#');
}

/** A duration in ms with at most 3 decimals; 0 for nonsense. */
export function ms(value: number): number {
  return Number.isFinite(value) && value > 0 ? Math.round(value * 1000) / 1000 : 0;
}

export function isoTime(epochMs: number): string | undefined {
  const date = new Date(epochMs);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}
