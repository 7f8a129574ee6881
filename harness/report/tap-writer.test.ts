import test from 'ava';
import { Parser } from 'tap-parser';
import type { FinalResults } from 'tap-parser';
import { readTap } from './tap-read.ts';
import { escapeName, oneLine, TapWriter } from './tap-writer.ts';
import { basics, engine, results, run } from './testing/fixtures.ts';

function writeFixture(): string {
  const chunks: string[] = [];
  const writer = new TapWriter((chunk) => chunks.push(chunk));
  writer.header(run);
  for (const [suite, durationMs] of [[basics, 2000], [engine, 74_000]] as const) {
    writer.suiteStart(suite);
    for (const result of results.filter((r) => r.suite === suite.suite)) writer.test(result);
    writer.suiteEnd(suite.suite, durationMs);
  }
  writer.finish();
  return chunks.join('');
}

const EXPECTED = String.raw`TAP version 13
# dutlab run
# board: qemu-x86_64
# deviceType: genericx86-64-ext
# image: images/out/balena os.img
# imageVersion: 6.0.13
# accel: kvm
# started: 2025-01-02T03:04:05.678Z
# Subtest: os-basics
    # title: OS basics
    # started: 2025-01-02T03:04:06.678Z
    ok 1 - boots to a login prompt # time=1200ms
    not ok 2 - hostname is set \# from config.json
      ---
      severity: fail
      message: hostname mismatch
      cause: command
      dut: qemu-1
      step: test
      command: hostname
      exitCode: 1
      outputTail: "line one\n\e[31mline two\e[0m"
      expected: dut-1
      actual: localhost
      duration_ms: 500.25
      artifacts:
        - os-basics/hostname/journal.txt
      ...
    ok 3 - host update # SKIP requires feature hup, board lacks it
    1..3
not ok 1 - os-basics # time=2000ms
# Subtest: engine
    # title: Container engine
    # started: 2025-01-02T03:04:15.678Z
    not ok 1 - engine starts
      ---
      severity: error
      message: "dut qemu-1, step booting: no login prompt within 60000 ms"
      cause: timeout
      dut: qemu-1
      step: booting
      duration_ms: 60000
      ...
    not ok 2 - pull is fast # TODO known flaky
      ---
      severity: fail
      message: pull took 31 s
      duration_ms: 3000
      knownFlaky: true
      ...
    ok 3 - runs hello # time=800ms
    1..3
not ok 2 - engine # time=74000ms
1..2
# dutlab: pass 2, fail 1, error 1, skip 1, flaky 1
`;

test('TAP 13: one subtest per suite, trailing plans, directives and YAML diagnostics', (t) => {
  t.is(writeFixture(), EXPECTED);
});

test('tap-parser reads the stream with the expected counts per suite', (t) => {
  const children: FinalResults[] = [];
  let final: FinalResults | undefined;
  const parser = new Parser((r) => (final = r));
  parser.on('child', (child: Parser) => child.on('complete', (r: FinalResults) => children.push(r)));
  parser.end(writeFixture());

  t.truthy(final);
  t.like(final, { ok: false, count: 2, pass: 0, fail: 2, bailout: false, plan: { start: 1, end: 2 } });
  t.is(children.length, 2);
  // os-basics: pass, fail, skip
  t.like(children[0], { count: 3, pass: 2, fail: 1, skip: 1, todo: 0 });
  t.deepEqual(children[0]?.failures.map((f) => f.name), ['hostname is set # from config.json']);
  t.deepEqual(children[0]?.skips.map((s) => s.skip), ['requires feature hup, board lacks it']);
  // engine: error, known-flaky failure (a TODO, so not among the failures), pass
  t.like(children[1], { count: 3, pass: 1, fail: 2, todo: 1 });
  t.deepEqual(children[1]?.failures.map((f) => [f.name, f.diag?.severity]), [['engine starts', 'error']]);
  t.deepEqual(children[1]?.todos.map((f) => f.todo), ['known flaky']);
  t.false(children.some((c) => c.failures.some((f) => f.tapError)), 'no TAP syntax errors');
});

test('reading the TAP back keeps errors, failures, skips and flaky failures apart', (t) => {
  const back = readTap(writeFixture());
  t.is(back.bailOut, undefined);
  t.like(back.facts, { board: 'qemu-x86_64', image: 'images/out/balena os.img', started: '2025-01-02T03:04:05.678Z' });
  t.deepEqual(
    back.suites.map((s) => [s.name, s.facts.title, s.timeMs, s.closed]),
    [
      ['os-basics', 'OS basics', 2000, true],
      ['engine', 'Container engine', 74_000, true],
    ],
  );
  t.deepEqual(
    back.suites.flatMap((s) => s.cases.map((c) => [c.name, c.status, c.timeMs, c.message])),
    [
      ['boots to a login prompt', 'pass', 1200, undefined],
      ['hostname is set # from config.json', 'fail', 500.25, 'hostname mismatch'],
      ['host update', 'skip', 0, 'requires feature hup, board lacks it'],
      ['engine starts', 'error', 60_000, 'dut qemu-1, step booting: no login prompt within 60000 ms'],
      ['pull is fast', 'flaky', 3000, 'pull took 31 s'],
      ['runs hello', 'pass', 800, undefined],
    ],
  );
  t.like(back.suites[0]?.cases[1]?.diag, { command: 'hostname', exitCode: 1, outputTail: 'line one\n\x1b[31mline two\x1b[0m' });
});

test('a run cut short ends with Bail out! instead of a plan, and a cut-off stream still reads', (t) => {
  const chunks: string[] = [];
  const writer = new TapWriter((chunk) => chunks.push(chunk));
  writer.header(run);
  writer.suiteStart(basics);
  writer.test(results[0]!);
  const cutOff = chunks.join('');
  writer.suiteEnd('os-basics', 5);
  writer.finish('run interrupted by SIGINT');
  const text = chunks.join('');
  t.true(text.endsWith('# dutlab: pass 1, fail 0, error 0, skip 0, flaky 0\nBail out! run interrupted by SIGINT\n'));
  t.is(readTap(text).bailOut, 'run interrupted by SIGINT');

  const partial = readTap(cutOff);
  t.is(partial.suites.length, 1);
  t.like(partial.suites[0], { name: 'os-basics', closed: false });
  t.is(partial.suites[0]?.cases.length, 1);
});

test('names and reasons are one line, without control characters, "#" escaped in names', (t) => {
  t.is(oneLine('a\r\n  b\x1b[0m\x00c\n'), 'a b[0mc');
  t.is(escapeName('x # SKIP y'), 'x \\# SKIP y');
  t.is(escapeName('x \\# y'), 'x \\# y');
  const chunks: string[] = [];
  const writer = new TapWriter((chunk) => chunks.push(chunk));
  writer.suiteStart({ suite: 's', title: 's', testCount: 1, startedAt: 0 });
  writer.test({ suite: 's', title: 'evil # SKIP not really\nok 9 - forged', status: 'fail', durationMs: 1, startedAt: 0 });
  writer.suiteEnd('s', 1);
  writer.finish();
  const back = readTap(chunks.join(''));
  t.deepEqual(back.suites[0]?.cases.map((c) => [c.name, c.status]), [['evil # SKIP not really ok 9 - forged', 'fail']]);
});
