import test from 'ava';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser, type FinalResults } from 'tap-parser';
import type { TestResult } from './events.ts';
import { Reporter } from './reporter.ts';
import type { RunSummary } from './summary.ts';
import { basics, engine, feedAll, haveXsd, junitXsd, results, run, runEnd, sink, T0, tempDirs, xmllint, xpathString } from './testing/fixtures.ts';

const temp = tempDirs('dutlab-report-');
test.after.always(() => temp.cleanup());

function reportsDir(): string {
  return temp.make();
}

function readSummary(dir: string): RunSummary {
  return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
}

function validJUnit(dir: string) {
  return xmllint(join(dir, 'junit.xml'), haveXsd ? junitXsd : undefined);
}

test('a full run writes results.tap (the TAP streamed to out), junit.xml and summary.json, and nothing else', (t) => {
  const dir = reportsDir();
  const out = sink();
  const reporter = new Reporter({ reportsDir: dir, out, hostname: 'lab-host' });
  feedAll(reporter);
  t.true(existsSync(join(dir, 'results.tap.part')), 'TAP is on disk while the run goes on');
  t.false(existsSync(join(dir, 'results.tap')));

  t.is(reporter.end(runEnd), 2);
  t.deepEqual(readdirSync(dir).sort(), ['junit.xml', 'results.tap', 'summary.json']);
  t.is(readFileSync(join(dir, 'results.tap'), 'utf8'), out.text());
  const junit = validJUnit(dir);
  t.true(junit.ok, junit.output);

  const summary = readSummary(dir);
  t.deepEqual(summary, reporter.summary);
  t.like(summary, {
    format: 'dutlab-summary/1',
    board: 'qemu-x86_64',
    deviceType: 'genericx86-64-ext',
    image: 'images/out/balena os.img',
    imageVersion: '6.0.13',
    accel: 'kvm',
    startedAt: '2025-01-02T03:04:05.678Z',
    durationMs: 80_000,
    interrupted: false,
    exitCode: 2,
    counts: { total: 6, passed: 2, failed: 1, errors: 1, skipped: 1, flaky: 1 },
    files: { tap: 'results.tap', junit: 'junit.xml', summary: 'summary.json' },
  });
  t.is(summary.interruptedBy, undefined);
  t.deepEqual(summary.timeline, runEnd.timeline);
  t.deepEqual(
    summary.suites.map((s) => [s.suite, s.title, s.durationMs, s.counts.total]),
    [
      ['os-basics', 'OS basics', 2000, 3],
      ['engine', 'Container engine', 74_000, 3],
    ],
  );
  t.deepEqual(
    summary.suites.flatMap((s) => s.tests.map((x) => [x.title, x.status, x.knownFlaky, x.durationMs])),
    results.map((r) => [r.title, r.status, r.knownFlaky === true, r.durationMs]),
  );
  t.like(summary.suites[0]?.tests[1], { cause: 'command', message: 'hostname mismatch', artifacts: ['os-basics/hostname/journal.txt'] });
  t.like(summary.suites[0]?.tests[2], { skipReason: 'requires feature hup, board lacks it' });
});

function runWith(statuses: Partial<TestResult>[]): { code: number; dir: string } {
  const dir = reportsDir();
  const reporter = new Reporter({ reportsDir: dir, out: null });
  reporter.start(run);
  reporter.suiteStart({ ...basics, testCount: statuses.length });
  statuses.forEach((s, i) => reporter.testResult({ suite: basics.suite, title: `t${i}`, status: 'pass', durationMs: 1, startedAt: T0, ...s }));
  reporter.suiteEnd({ suite: basics.suite, durationMs: 10 });
  return { code: reporter.end({ ...runEnd }), dir };
}

test('exit code through the reporter: passes and skips 0, a known-flaky failure 0, a failure 1, an error 2', (t) => {
  t.is(runWith([{ status: 'pass' }, { status: 'skip', skipReason: 'n/a' }]).code, 0);
  t.is(runWith([{ status: 'pass' }, { status: 'fail', knownFlaky: true, message: 'flaked' }]).code, 0);
  t.is(runWith([{ status: 'fail', message: 'wrong' }, { status: 'pass', knownFlaky: true }]).code, 1);
  t.is(runWith([{ status: 'fail' }, { status: 'error', knownFlaky: true, message: 'console lost' }]).code, 2);
  const { dir } = runWith([{ status: 'fail', knownFlaky: true }]);
  t.like(readSummary(dir).counts, { failed: 0, flaky: 1, passed: 0 });
  t.is(xpathString(join(dir, 'junit.xml'), '//testsuite/@failures'), '0');
});

test('SIGINT mid-suite: the running test and the unrun ones become errors with the reason; files complete and valid; exit 2', (t) => {
  const dir = reportsDir();
  const out = sink();
  let now = T0 + 20_000;
  const reporter = new Reporter({ reportsDir: dir, out, hostname: 'lab-host', now: () => now });
  reporter.start(run);
  reporter.suiteStart(basics);
  for (const r of results.filter((x) => x.suite === basics.suite)) reporter.testResult(r);
  reporter.suiteEnd({ suite: basics.suite, durationMs: 2000 });
  reporter.suiteStart({ ...engine, testCount: 4, tests: ['engine starts', 'pull is fast', 'runs hello', 'prunes'] });
  reporter.testResult({ ...results[3]!, status: 'pass', message: undefined, diagnostics: undefined });
  reporter.testStart({ suite: engine.suite, title: 'pull is fast', startedAt: T0 + 15_000 });

  t.is(reporter.end({ ...runEnd, interrupted: 'SIGINT' }), 2);
  // late events from tests still winding down change nothing
  now += 1000;
  reporter.testResult({ ...results[4]!, knownFlaky: false });
  reporter.suiteEnd({ suite: engine.suite, durationMs: 1 });
  t.is(reporter.end(runEnd), 2, 'end() is idempotent');

  t.deepEqual(readdirSync(dir).sort(), ['junit.xml', 'results.tap', 'summary.json']);
  const tap = readFileSync(join(dir, 'results.tap'), 'utf8');
  t.is(tap, out.text());
  t.true(tap.endsWith('not ok 2 - engine # time=10000ms\n# dutlab: pass 2, fail 1, error 3, skip 1, flaky 0\nBail out! run interrupted by SIGINT\n'), tap);
  let final: FinalResults | undefined;
  new Parser((r) => (final = r)).end(tap);
  t.like(final, { ok: false, bailout: 'run interrupted by SIGINT', count: 2 });

  const summary = readSummary(dir);
  t.like(summary, { interrupted: true, interruptedBy: 'SIGINT', exitCode: 2, counts: { total: 7, passed: 2, failed: 1, errors: 3, skipped: 1 } });
  t.deepEqual(
    summary.suites[1]?.tests.map((x) => [x.title, x.status, x.message, x.cause, x.durationMs]),
    [
      ['engine starts', 'pass', undefined, undefined, 60_000],
      ['pull is fast', 'error', 'not finished: run interrupted by SIGINT', 'interrupted', 5000],
      ['runs hello', 'error', 'not run: run interrupted by SIGINT', 'interrupted', 0],
      ['prunes', 'error', 'not run: run interrupted by SIGINT', 'interrupted', 0],
    ],
  );
  t.is(summary.suites[1]?.durationMs, 10_000);

  const junit = validJUnit(dir);
  t.true(junit.ok, junit.output);
  const file = join(dir, 'junit.xml');
  t.is(xpathString(file, '//testsuite[@name="engine"]/@errors'), '3');
  t.is(xpathString(file, '//testsuite[@name="engine"]/@tests'), '4');
  t.is(xpathString(file, '//testcase[@name="prunes"]/error/@message'), 'not run: run interrupted by SIGINT');
  t.is(xpathString(file, '//testcase[@name="prunes"]/error/@type'), 'interrupted');
  t.is(xpathString(file, '//testsuite[@name="engine"]/properties/property[@name="interrupted"]/@value'), 'run interrupted by SIGINT');
  t.is(xpathString(file, '//testsuite[@name="engine"]/system-err'), 'Run interrupted: run interrupted by SIGINT');
});

test('interrupted before any testStart and without titles: the unrun tests are numbered stand-ins', (t) => {
  const dir = reportsDir();
  const reporter = new Reporter({ reportsDir: dir, out: null, now: () => T0 + 1500 });
  reporter.start(run);
  reporter.suiteStart(basics);
  reporter.testResult(results[0]!);
  t.is(reporter.end({ durationMs: 1500, timeline: [], interrupted: 'SIGTERM' }), 2);
  t.deepEqual(
    readSummary(dir).suites[0]?.tests.map((x) => [x.title, x.status, x.message]),
    [
      ['boots to a login prompt', 'pass', undefined],
      ['test 2 of 3', 'error', 'not run: run interrupted by SIGTERM'],
      ['test 3 of 3', 'error', 'not run: run interrupted by SIGTERM'],
    ],
  );
  const junit = validJUnit(dir);
  t.true(junit.ok, junit.output);
});

test('a suite that ends short of its announced tests reports the rest as errors', (t) => {
  const dir = reportsDir();
  const reporter = new Reporter({ reportsDir: dir, out: null });
  reporter.start(run);
  reporter.suiteStart(basics);
  reporter.testResult(results[0]!);
  reporter.suiteEnd({ suite: basics.suite, durationMs: 1300 });
  t.is(reporter.end(runEnd), 2);
  const tests = readSummary(dir).suites[0]?.tests ?? [];
  t.deepEqual(tests.map((x) => [x.status, x.message, x.cause]).slice(1), [
    ['error', 'not run: suite ended after 1 of 3 tests', 'incomplete'],
    ['error', 'not run: suite ended after 1 of 3 tests', 'incomplete'],
  ]);
});

test('end() before anything else still writes valid, empty reports', (t) => {
  const dir = reportsDir();
  const reporter = new Reporter({ reportsDir: dir, out: null });
  t.is(reporter.end({ durationMs: 0, timeline: [], interrupted: 'SIGINT' }), 2);
  t.deepEqual(readdirSync(dir).sort(), ['junit.xml', 'results.tap', 'summary.json']);
  t.like(readSummary(dir), { board: 'unknown', counts: { total: 0 }, interrupted: true });
  const junit = validJUnit(dir);
  t.true(junit.ok, junit.output);
});

test('a result for a suite never started starts it; a new suite closes one left open', (t) => {
  const dir = reportsDir();
  const reporter = new Reporter({ reportsDir: dir, out: null });
  reporter.start(run);
  reporter.testResult(results[0]!); // no suiteStart
  reporter.suiteStart({ ...engine, testCount: 1 });
  reporter.testResult({ ...results[5]! });
  reporter.suiteEnd({ suite: engine.suite, durationMs: 900 });
  t.is(reporter.end(runEnd), 0);
  t.deepEqual(
    readSummary(dir).suites.map((s) => [s.suite, s.counts.total, s.counts.passed]),
    [
      ['os-basics', 1, 1],
      ['engine', 1, 1],
    ],
  );
  const junit = validJUnit(dir);
  t.true(junit.ok, junit.output);
});
