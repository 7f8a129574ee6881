/**
 * JUnit XML made from the TAP text the run streamed (read back by tap-read.ts),
 * valid against the strict Apache Ant schema (windyroad JUnit.xsd).
 *
 * Why not tap-junit: it flattens everything into one <testsuite> (it only sees
 * top-level test points, so subtests collapse into one case each), always
 * writes <failure> (severity only lands in @type, so errors are not counted
 * as errors), and emits attributes the strict schema rejects (@id on
 * <testcase>, @name/@tests on <testsuites>) while leaving out required ones
 * (timestamp, hostname, time, package, id). So we shape the XML ourselves from
 * tap-parser's events and build it with xmlbuilder2, which does the escaping.
 *
 * What the strict schema forces, and what we do about it:
 * - <testsuites> takes no attributes; each <testsuite> needs name, timestamp
 *   (YYYY-MM-DDTHH:MM:SS, no fraction, no zone: we write UTC), hostname,
 *   tests, failures, errors, time, and inside <testsuites> also package and id
 *   (0, 1, ...). package is the board; classname is "<board>.<suite>".
 * - Children in this order, all required but testcase: <properties>,
 *   <testcase>*, <system-out>, <system-err> (written even when empty).
 * - <testcase> holds at most one of <skipped message>, <error message type>,
 *   <failure message type>, and no <system-out>: the per-test serial excerpts
 *   and artifact paths go in the suite's <system-out>, one section per test
 *   headed "=== [id] title — status (time) ===". Artifacts are also written
 *   as [[ATTACHMENT|path]] lines (paths relative to the reports dir), which
 *   the Jenkins attachments plugin and GitLab pick up.
 * - There is no "flaky" outcome: a known-flaky failure is a <testcase> with no
 *   child (it does not fail the run), and its diagnostics go in system-out.
 * - @type of <failure> and <error> is the verdict's cause (panic,
 *   reboot-hung, console-lost, interrupted, ...: harness/runner/classify.ts).
 */
import { hostname as osHostname } from 'node:os';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { stringify } from 'yaml';
import { readTap, type TapCase, type TapRun, type TapSuite } from './tap-read.ts';
import { SEVERITY_KEY } from './tap-writer.ts';
import { firstLine, keepTail, normalizeNewlines, xmlCharReplacement } from './xml-text.ts';

/** What a test left beside its TAP line: goes in the suite's system-out. */
export interface TestOutput {
  serialExcerpt?: string;
  artifacts?: string[];
}

export interface JUnitOptions {
  /** Defaults to this machine's hostname, or "localhost". */
  hostname?: string;
  /** Per-test output, keyed by `outputKey(suiteIndex, testId)` (TAP ids, suites counted from 0). */
  outputs?: ReadonlyMap<string, TestOutput>;
  /** Each excerpt keeps at most this many trailing characters (default 200,000). */
  maxExcerptChars?: number;
}

export function outputKey(suiteIndex: number, testId: number): string {
  return `${suiteIndex}:${testId}`;
}

const RUN_PROPERTIES = ['board', 'deviceType', 'image', 'imageVersion', 'accel', 'started'] as const;

export function tapToJUnit(tap: string, options: JUnitOptions = {}): string {
  return runToJUnit(readTap(tap), options);
}

export function runToJUnit(run: TapRun, options: JUnitOptions = {}): string {
  const host = token(options.hostname ?? osHostname()) || 'localhost';
  const board = token(run.facts.board ?? '');
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: xmlCharReplacement });
  const root = doc.ele('testsuites');
  run.suites.forEach((suite, index) => addSuite(root, run, suite, index, { ...options, host, board }));
  return `${doc.end({ prettyPrint: true })}\n`;
}

interface Context extends JUnitOptions {
  host: string;
  board: string;
}

function addSuite(root: XMLBuilder, run: TapRun, suite: TapSuite, index: number, ctx: Context): void {
  const name = token(suite.name) || `suite-${index}`;
  const count = (status: TapCase['status']) => suite.cases.filter((c) => c.status === status).length;
  const timeMs = suite.closed ? suite.timeMs : suite.cases.reduce((sum, c) => sum + c.timeMs, 0);
  const el = root.ele('testsuite', {
    name,
    timestamp: junitTimestamp(suite.facts.started ?? run.facts.started),
    hostname: ctx.host,
    tests: String(suite.cases.length),
    failures: String(count('fail')),
    errors: String(count('error')),
    skipped: String(count('skip')),
    time: seconds(timeMs),
    package: ctx.board || 'dutlab',
    id: String(index),
  });

  const props = el.ele('properties');
  const property = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== '') props.ele('property', { name: key, value }).up();
  };
  property('title', suite.facts.title);
  for (const key of RUN_PROPERTIES) property(key, run.facts[key]);
  property('interrupted', run.bailOut);

  const classname = ctx.board ? `${ctx.board}.${name}` : name;
  const sections: string[] = [];
  for (const test of suite.cases) {
    addCase(el, test, classname);
    const section = outputSection(test, ctx.outputs?.get(outputKey(index, test.id)), ctx.maxExcerptChars ?? 200_000);
    if (section) sections.push(section);
  }

  const notes: string[] = [];
  if (!suite.closed) notes.push('The TAP stream ended inside this suite: its results are incomplete.');
  if (run.bailOut !== undefined) notes.push(`Run interrupted: ${run.bailOut}`);
  el.ele('system-out').txt(normalizeNewlines(sections.join('\n'))).up();
  el.ele('system-err').txt(notes.join('\n')).up();
}

function addCase(suite: XMLBuilder, test: TapCase, classname: string): void {
  const el = suite.ele('testcase', { name: token(test.name), classname, time: seconds(test.timeMs) });
  const kind = typeof test.diag?.cause === 'string' ? test.diag.cause : undefined;
  const message = firstLine(test.message ?? '');
  if (test.status === 'skip') {
    el.ele('skipped', { message: message || 'skipped' }).up();
  } else if (test.status === 'fail' || test.status === 'error') {
    el.ele(test.status === 'fail' ? 'failure' : 'error', {
      message: message || (test.status === 'fail' ? 'failed' : 'error'),
      type: kind ?? (test.status === 'fail' ? 'assertion' : 'error'),
    })
      .txt(normalizeNewlines(diagText(test.diag)))
      .up();
  }
  el.up();
}

function outputSection(test: TapCase, output: TestOutput | undefined, maxExcerpt: number): string | undefined {
  const lines: string[] = [];
  if (test.status === 'flaky') lines.push('known flaky: failed, not counted as a failure', diagText(test.diag).trimEnd());
  for (const path of output?.artifacts ?? []) lines.push(`[[ATTACHMENT|${path}]]`);
  if (output?.serialExcerpt) lines.push(keepTail(output.serialExcerpt, maxExcerpt).trimEnd());
  if (!lines.length) return undefined;
  return [`=== [${test.id}] ${test.name} — ${test.status} (${seconds(test.timeMs)} s) ===`, ...lines, ''].join('\n');
}

/** The TAP diagnostics as YAML text (without the severity, which the element name says). */
function diagText(diag: Record<string, unknown> | undefined): string {
  if (!diag) return '';
  const { [SEVERITY_KEY]: _severity, ...rest } = diag;
  return stringify(rest, { lineWidth: 0 });
}

/** xs:decimal seconds with millisecond precision. */
function seconds(ms: number): string {
  return (Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0).toFixed(3);
}

/** The schema's ISO8601_DATETIME_PATTERN: UTC, no fraction, no zone. */
function junitTimestamp(iso: string | undefined): string {
  const date = new Date(iso ?? Number.NaN);
  return (Number.isNaN(date.getTime()) ? new Date() : date).toISOString().slice(0, 19);
}

/** xs:token: no line ends or tabs, no leading/trailing or doubled spaces. */
function token(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
