/**
 * The fault suite through `dutlab run` in real QEMU: each provoked fault
 * must come out as the verdict and cause a farm acts on, with the console
 * excerpt that shows it, in TAP, JUnit and summary.json alike; the DUT is
 * brought back for the next test every time, and no QEMU is left.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { keepIfFailed } from '../testing/temp-dir.ts';
import { haveXsd, junitXsd, xmllint, xpathString } from '../report/testing/fixtures.ts';

const dutlab = path.resolve('bin/dutlab.js');

interface Summary {
  exitCode: number;
  suites: { tests: { title: string; status: string; cause?: string; message?: string; excerpt?: string; durationMs: number }[] }[];
}

test.serial('every provoked fault gets its verdict and cause, and the DUT comes back for the next test', async (t) => {
  const reports = await mkdtemp(path.join(tmpdir(), 'dutlab-faults-'));
  t.teardown(() => keepIfFailed(t, reports));
  // Cold: the suite judges boots and recoveries; saving a golden snapshot on the way would only cost time.
  const result = await execa('node', [dutlab, 'run', '--cold', '--parallel', '1', '--suite', 'harness/faults', '--reports', reports], { reject: false, timeout: 40 * 60_000 });
  const runs = (await readdir(reports)).filter((d) => d !== 'latest').sort();
  const dir = path.join(reports, runs.at(-1) ?? '');
  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as Summary;
  const tests = summary.suites[0]?.tests ?? [];
  for (const x of tests) t.log(`${x.status.padEnd(5)} ${(x.cause ?? '').padEnd(16)} ${(x.durationMs / 1000).toFixed(1).padStart(6)} s  ${x.title}: ${x.message ?? ''}`);
  const verdicts = tests.map((x) => [x.title, x.status, x.cause]);
  // The messages go with a mismatch: a CI log that shows only the failure still says why.
  const messages = tests.map((x) => `${x.status} ${x.cause ?? ''}: ${x.message ?? ''}`).join('\n');
  t.deepEqual(verdicts, [
    ['a reboot that hangs in shutdown', 'fail', 'reboot-hung'],
    ['a reset during an SSH command loop', 'fail', 'unexpected-reset'],
    ['a kernel panic during an SSH command', 'fail', 'panic'],
    ['a test that outlives its timeout', 'error', 'timeout'],
    ['the timed-out test left nothing running and its teardown ran', 'pass', undefined],
    ['after the faults the DUT answers over SSH and the console', 'pass', undefined],
    ['a DUT whose sshd is gone', 'error', 'ssh-unreachable'],
  ], messages);
  const [hung, reset, panic, , , , noSsh] = tests;
  t.regex(hung?.message ?? '', /did not come back by itself/);
  t.regex(reset?.message ?? '', /boot banner|boot id/);
  t.regex(panic?.excerpt ?? '', /Kernel panic - not syncing: sysrq triggered crash/);
  t.regex(noSsh?.message ?? '', /0 listener\(s\) on port 22222/);
  t.true((noSsh?.durationMs ?? Infinity) < 60_000, `the sshd diagnosis took ${noSsh?.durationMs} ms`);
  t.is(result.exitCode, 2, result.stderr.slice(-2000));

  const tap = await readFile(path.join(dir, 'results.tap'), 'utf8');
  t.regex(tap, /cause: panic/);
  t.regex(tap, /severity: error\n\s+message: .*\n\s+cause: ssh-unreachable/);
  if (haveXsd) t.true(xmllint(path.join(dir, 'junit.xml'), junitXsd).ok);
  t.is(xpathString(path.join(dir, 'junit.xml'), '//testcase[@name="a kernel panic during an SSH command"]/failure/@type'), 'panic');
  t.is(xpathString(path.join(dir, 'junit.xml'), '//testcase[@name="a DUT whose sshd is gone"]/error/@type'), 'ssh-unreachable');

  // The DUT came back by itself after the reset and the panic: the one power cycle is the hung reboot's.
  const timeline = (JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as { timeline: { state: string; detail?: string }[] }).timeline;
  const states = timeline.map((e) => e.state);
  t.is(states.filter((s) => s === 'power-cycling').length, 1, states.join(' '));
  t.is(states.filter((s) => s === 'recovering').length, 2, states.join(' '));
  t.regex(timeline.find((e) => e.state === 'power-cycling')?.detail ?? '', /kernel boot not seen|not seen on the console/);

  const left = await execa('pgrep', ['-af', `qemu-system.*${dir}`], { reject: false });
  t.is(left.stdout.trim(), '', 'no QEMU of the run is left');
});
