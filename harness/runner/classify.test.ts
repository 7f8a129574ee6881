import test from 'ava';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { CommandError, DutError, type DutErrorKind } from '../errors.ts';
import { classify, VERDICT_TABLE, type Cause } from './classify.ts';

const cases: [string, unknown, 'fail' | 'error', Cause][] = [
  ['an assertion', (() => { try { assert.equal(1, 2); } catch (e) { return e; } })(), 'fail', 'assertion'],
  ['a command exiting non-zero', new CommandError('false', 1, 'nope'), 'fail', 'command-exit'],
  ['a service that never came up', new DutError('not-ready', 'the engine answering not true within 180 s'), 'fail', 'not-ready'],
  ['a kernel panic', new DutError('panic', 'kernel trace: Kernel panic - not syncing'), 'fail', 'panic'],
  ['an unexpected reset', new DutError('reset', 'boot banner: BdsDxe: loading Boot0001'), 'fail', 'unexpected-reset'],
  ['a reboot the harness rescued', new DutError('reboot-hung', 'the OS did not come back by itself'), 'fail', 'reboot-hung'],
  ['QEMU dying', new DutError('process', 'QEMU exited (signal SIGKILL)'), 'error', 'board-died'],
  ['the console going away', new DutError('console-lost', 'the console stream closed'), 'error', 'console-lost'],
  ['a power driver not answering', new DutError('power', 'relay /dev/ttyUSB3 did not answer'), 'error', 'power'],
  ['SSH never reachable', new DutError('ssh-unreachable', 'sshd not reachable'), 'error', 'ssh-unreachable'],
  ['a timeout', new DutError('timeout', 'test did not finish within 600 s'), 'error', 'timeout'],
  ['a host tool failing', new DutError('tool', 'qemu-img failed'), 'error', 'tool'],
  ['bad input', new DutError('config', '--image x: not found'), 'error', 'config'],
  ['an interruption', new DutError('interrupted', 'run interrupted by SIGINT'), 'error', 'interrupted'],
  ['a DUT broken by an earlier test', new DutError('broken', 'broken since an earlier failure'), 'error', 'broken'],
  ['a bug in the test code', new TypeError("Cannot read properties of undefined (reading 'x')"), 'error', 'test-bug'],
  ['something thrown that is not an Error', 'a string', 'error', 'test-bug'],
];

for (const [what, thrown, status, cause] of cases) {
  test(`${what} → ${status} (${cause})`, (t) => {
    const verdict = classify(thrown);
    t.is(verdict.status, status);
    t.is(verdict.cause, cause);
    t.is(verdict.diagnostics.cause, cause);
  });
}

test('every DutErrorKind has a cause, and every cause is in the table', (t) => {
  const kinds: DutErrorKind[] = ['config', 'tool', 'timeout', 'panic', 'reset', 'reboot-hung', 'not-ready', 'console-lost', 'ssh-unreachable', 'power', 'process', 'command', 'interrupted', 'broken'];
  for (const kind of kinds) t.true(classify(new DutError(kind, 'x')).cause in VERDICT_TABLE, kind);
});

test('the excerpt of the event goes into the diagnostics, its last 40 lines', (t) => {
  const excerpt = Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n');
  const verdict = classify(new DutError('panic', 'kernel trace', { dut: 'qemu-1', step: 'ssh exec', excerpt }));
  t.is(verdict.diagnostics.excerpt?.split('\n').length, 40);
  t.is(verdict.diagnostics.dut, 'qemu-1');
  t.is(verdict.diagnostics.step, 'ssh exec');
});

test('README documents every cause of the table with its verdict', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  for (const [cause, { verdict }] of Object.entries(VERDICT_TABLE)) {
    t.regex(readme, new RegExp(`\\| \`${cause}\` \\| ${verdict} \\|`), cause);
  }
});
