import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Reporter } from './reporter.ts';
import { SuiteSequencer } from './suite-sequencer.ts';
import type { RunSummary } from './summary.ts';
import { tempDirs, xmllint } from './testing/fixtures.ts';

const temp = tempDirs('dutlab-sequencer-');
test.after.always(() => temp.cleanup());

const start = (suite: string, tests: string[]) => ({ suite, title: `the ${suite} suite`, testCount: tests.length, startedAt: 1, tests });
const pass = (suite: string, title: string) => ({ suite, title, status: 'pass' as const, durationMs: 1, startedAt: 1 });

test('suites that ran at once are reported one after another, each whole; an interrupt closes each unfinished one with the reason', (t) => {
  const dir = temp.make();
  const reporter = new Reporter({ reportsDir: dir, out: null, hostname: 'lab' });
  reporter.start({ board: 'fake', deviceType: 'generic-amd64', image: 'x.img', startedAt: 1 });
  const sequencer = new SuiteSequencer(reporter);
  sequencer.suiteStart(start('a', ['a1', 'a2']));
  sequencer.suiteStart(start('b', ['b1', 'b2']));
  sequencer.suiteStart(start('c', ['c1']));
  sequencer.testResult(pass('b', 'b1'));
  sequencer.testResult(pass('a', 'a1'));
  sequencer.testResult(pass('c', 'c1'));
  sequencer.suiteEnd({ suite: 'c', durationMs: 1 });
  sequencer.testStart({ suite: 'b', title: 'b2', startedAt: 1 });
  sequencer.testStart({ suite: 'a', title: 'a2', startedAt: 1 });
  sequencer.finish('SIGINT');
  reporter.end({ durationMs: 1, timeline: [], interrupted: 'SIGINT' });
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
  const lines = summary.suites.map((s) => s.tests.map((x) => `${x.title}:${x.status}${x.message ? ` (${x.message})` : ''}`));
  t.deepEqual(lines, [
    ['a1:pass', 'a2:error (not finished: run interrupted by SIGINT)'],
    ['b1:pass', 'b2:error (not finished: run interrupted by SIGINT)'],
    ['c1:pass'],
  ]);
  t.true(xmllint(join(dir, 'junit.xml')).ok);
});

test('with one suite at a time every event passes straight through', (t) => {
  const dir = temp.make();
  const out: string[] = [];
  const reporter = new Reporter({ reportsDir: dir, out: { write: (chunk: string) => out.push(chunk) } });
  reporter.start({ board: 'fake', deviceType: 'generic-amd64', image: 'x.img', startedAt: 1 });
  const sequencer = new SuiteSequencer(reporter);
  sequencer.suiteStart(start('a', ['a1']));
  sequencer.testResult(pass('a', 'a1'));
  t.regex(out.join(''), /ok 1 - a1/, 'streamed live');
  sequencer.suiteEnd({ suite: 'a', durationMs: 1 });
  sequencer.suiteStart(start('b', ['b1']));
  sequencer.testResult(pass('b', 'b1'));
  t.regex(out.join(''), /ok 1 - b1/);
});
