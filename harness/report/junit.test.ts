import test from 'ava';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { outputKey, tapToJUnit } from './junit.ts';
import { Reporter } from './reporter.ts';
import type { RunSummary } from './summary.ts';
import { TapWriter } from './tap-writer.ts';
import { feedAll, haveXsd, junitXsd, run, runEnd, sink, SERIAL, tempDirs, xmllint, xpathString } from './testing/fixtures.ts';

const temp = tempDirs('dutlab-junit-');
test.after.always(() => temp.cleanup());

const noXsd = `skipped: the strict Ant schema ${junitXsd} is absent (it is shared beside the repo, not part of it)`;
const withSchema = haveXsd ? test : test.skip;
const schemaTitle = (title: string) => (haveXsd ? title : `${title} (${noXsd})`);

function fixtureReports(): { dir: string; junit: string; summary: RunSummary } {
  const dir = temp.make();
  const reporter = new Reporter({ reportsDir: dir, out: sink(), hostname: 'lab-host' });
  feedAll(reporter);
  reporter.end(runEnd);
  return { dir, junit: join(dir, 'junit.xml'), summary: reporter.summary! };
}

withSchema(schemaTitle('junit.xml of a run with every outcome is valid against the strict Ant schema'), (t) => {
  const { junit } = fixtureReports();
  const result = xmllint(junit, junitXsd);
  t.true(result.ok, result.output);
});

withSchema(schemaTitle('the schema check catches an invalid report (per-testcase system-out)'), (t) => {
  const { junit } = fixtureReports();
  const bad = junit.replace(/junit\.xml$/, 'bad.xml');
  // <system-out> per testcase is what most tools write and what the strict schema forbids.
  writeFileSync(bad, readFileSync(junit, 'utf8').replace('<testcase name="runs hello" classname="qemu-x86_64.engine" time="0.800"/>',
    '<testcase name="runs hello" classname="qemu-x86_64.engine" time="0.800"><system-out>x</system-out></testcase>'));
  const result = xmllint(bad, junitXsd);
  t.false(result.ok);
  t.regex(result.output, /system-out/);
});

test('python3-junitparser reads the same counts per suite as summary.json', (t) => {
  const { junit, summary } = fixtureReports();
  const script = String.raw`
import json, sys
from junitparser import JUnitXml, Failure, Error, Skipped
suites = []
for s in JUnitXml.fromfile(sys.argv[1]):
    kinds = {"failures": 0, "errors": 0, "skipped": 0}
    cases = 0
    for case in s:
        cases += 1
        for r in case.result:
            key = "errors" if isinstance(r, Error) else "failures" if isinstance(r, Failure) else "skipped" if isinstance(r, Skipped) else None
            if key: kinds[key] += 1
    suites.append({"name": s.name, "tests": s.tests, "failures": s.failures, "errors": s.errors, "skipped": s.skipped, "cases": cases, "caseKinds": kinds})
print(json.dumps(suites))
`;
  let stdout: string;
  try {
    // The Debian package, not whatever python3 is first on PATH (pyenv shims lack it).
    stdout = execFileSync('/usr/bin/python3', ['-c', script, junit], { encoding: 'utf8' });
  } catch (error) {
    t.fail(`python3-junitparser could not read junit.xml (run scripts/install-deps.sh): ${(error as Error).message}`);
    return;
  }
  const parsed = JSON.parse(stdout) as { name: string; tests: number; failures: number; errors: number; skipped: number; cases: number; caseKinds: Record<string, number> }[];
  const expected = summary.suites.map((s) => ({
    name: s.suite,
    tests: s.counts.total,
    failures: s.counts.failed,
    errors: s.counts.errors,
    skipped: s.counts.skipped,
    cases: s.counts.total,
    caseKinds: { failures: s.counts.failed, errors: s.counts.errors, skipped: s.counts.skipped },
  }));
  t.deepEqual(parsed, expected);
  // and the fixture is not trivially all zeros
  t.deepEqual(expected.map((s) => [s.tests, s.failures, s.errors, s.skipped]), [[3, 1, 0, 1], [3, 0, 1, 0]]);
});

test('errors and failures land in <error> and <failure> with the kind as type; skips and flaky as the schema allows', (t) => {
  const { junit } = fixtureReports();
  const at = (xpath: string) => xpathString(junit, xpath);
  t.is(at('count(//testcase/failure)'), '1');
  t.is(at('count(//testcase/error)'), '1');
  t.is(at('count(//testcase/skipped)'), '1');
  t.is(at('//testcase[@name="hostname is set # from config.json"]/failure/@type'), 'command');
  t.is(at('//testcase[@name="hostname is set # from config.json"]/failure/@message'), 'hostname mismatch');
  t.regex(at('//testcase[@name="hostname is set # from config.json"]/failure'), /command: hostname\nexitCode: 1\n/);
  t.is(at('//testcase[@name="engine starts"]/error/@type'), 'timeout');
  t.is(at('//testcase[@name="host update"]/skipped/@message'), 'requires feature hup, board lacks it');
  t.is(at('count(//testcase[@name="pull is fast"]/*)'), '0', 'a known-flaky failure does not count as a failure');
  t.regex(at('//testsuite[@name="engine"]/system-out'), /=== \[2\] pull is fast — flaky \(3\.000 s\) ===\nknown flaky: failed/);
  t.is(at('//testsuite[@id="1"]/@name'), 'engine');
  t.is(at('//testsuite[@name="engine"]/@timestamp'), '2025-01-02T03:04:15');
  t.is(at('//testsuite[@name="engine"]/@time'), '74.000');
  t.is(at('//testsuite[@name="engine"]/@package'), 'qemu-x86_64');
  t.is(at('//testsuite[@name="engine"]/properties/property[@name="imageVersion"]/@value'), '6.0.13');
  t.is(at('//testsuite[@name="os-basics"]/testcase[1]/@classname'), 'qemu-x86_64.os-basics');
});

test('serial excerpts with ESC sequences, NUL, BEL, "]]>", "<" and "&" stay valid XML and readable', (t) => {
  const { junit } = fixtureReports();
  const wellFormed = xmllint(junit);
  t.true(wellFormed.ok, wellFormed.output);
  const raw = readFileSync(junit, 'utf8');
  // eslint-disable-next-line no-control-regex
  t.notRegex(raw, /[\x00-\x08\x0b\x0c\x0e-\x1f]/, 'no C0 control left in the file');
  const out = xpathString(junit, '//testsuite[@name="os-basics"]/system-out');
  t.true(out.includes('=== [1] boots to a login prompt — pass (1.200 s) ===\nroot@dut:~# ␛[?2004hls␛[?2004l\n␛[0;31mred␛[0m␀ ]]> <tag> & "q"␇\n'), out);
  t.true(out.includes('[[ATTACHMENT|os-basics/hostname/journal.txt]]\nhostname\nlocalhost\n'));
});

test('hostile text in names, messages and diagnostics is valid XML too', (t) => {
  const chunks: string[] = [];
  const w = new TapWriter((c) => chunks.push(c));
  const nasty = `${SERIAL}\ud800\uffff`;
  w.header({ ...run, image: `x${nasty}` });
  w.suiteStart({ suite: `s ${nasty}`, title: nasty, testCount: 2, startedAt: run.startedAt });
  w.test({ suite: 's', title: `t ${nasty}`, status: 'error', durationMs: 1, startedAt: 0, message: nasty, diagnostics: { outputTail: nasty, actual: { nested: nasty }, stack: nasty } });
  w.test({ suite: 's', title: 'skip', status: 'skip', durationMs: 1, startedAt: 0, skipReason: nasty });
  w.suiteEnd('s', 2);
  w.finish();
  const dir = temp.make();
  const file = join(dir, 'junit.xml');
  writeFileSync(file, tapToJUnit(chunks.join(''), { hostname: `h\x1bost`, outputs: new Map([[outputKey(0, 1), { serialExcerpt: nasty }]]) }));
  const result = xmllint(file, haveXsd ? junitXsd : undefined);
  t.true(result.ok, result.output);
  t.is(xpathString(file, 'count(//testcase/error)'), '1');
  t.is(xpathString(file, 'count(//testcase/skipped)'), '1');
  t.true(xpathString(file, '//testcase/error').includes('actual:\n  nested:'));
});

test('long excerpts keep their tail and say what was cut', (t) => {
  const chunks: string[] = [];
  const w = new TapWriter((c) => chunks.push(c));
  w.suiteStart({ suite: 's', title: 's', testCount: 1, startedAt: 0 });
  w.test({ suite: 's', title: 't', status: 'pass', durationMs: 1, startedAt: 0 });
  w.suiteEnd('s', 1);
  w.finish();
  const xml = tapToJUnit(chunks.join(''), { outputs: new Map([[outputKey(0, 1), { serialExcerpt: `${'a'.repeat(50)}END` }]]), maxExcerptChars: 10 });
  t.true(xml.includes('[… 43 earlier characters cut]\naaaaaaaEND'));
});
