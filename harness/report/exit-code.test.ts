import test from 'ava';
import { EXIT_ERROR, EXIT_FAILED, EXIT_PASSED, exitCodeFor, type ExitCode } from './exit-code.ts';

const cases: [string, Parameters<typeof exitCodeFor>[0], ExitCode][] = [
  ['nothing failed', { failed: 0, errors: 0 }, EXIT_PASSED],
  ['a failure', { failed: 1, errors: 0 }, EXIT_FAILED],
  ['an error', { failed: 0, errors: 1 }, EXIT_ERROR],
  ['an error wins over failures', { failed: 5, errors: 1 }, EXIT_ERROR],
  ['an interruption with nothing failed', { failed: 0, errors: 0, interrupted: 'SIGINT' }, EXIT_ERROR],
  ['an interruption wins over failures', { failed: 2, errors: 0, interrupted: 'SIGTERM' }, EXIT_ERROR],
];

for (const [title, outcome, code] of cases) {
  test(`exit code: ${title} → ${code}`, (t) => {
    t.is(exitCodeFor(outcome), code);
  });
}

test('exit codes are 0, 1, 2', (t) => {
  t.deepEqual([EXIT_PASSED, EXIT_FAILED, EXIT_ERROR], [0, 1, 2]);
});
