import { AssertionError } from 'node:assert';
import { CommandError, DutError, tail, type DutErrorKind } from '../errors.ts';
import type { TestDiagnostics } from '../report/index.ts';

/**
 * The verdict table: what ended a test → fail or error, and the cause a
 * report names. A farm's retry policy keys on it: an error retries the job on
 * another board, a failure files a bug against the OS. README.md prints it.
 *
 * fail  = the OS under test misbehaved;
 * error = the harness or the board infrastructure broke, or the test is buggy.
 *
 * Timeouts are errors: past a generous bound the harness cannot tell a hung
 * OS from a slow host, and "never fail a test only because the machine is
 * slow" wins; a timeout that repeats on another board points at the OS. What
 * the OS owes in bounded time (a reboot coming back, a service coming up) has
 * its own fail causes, reboot-hung and not-ready.
 */
export const VERDICT_TABLE = {
  assertion: { verdict: 'fail', when: 'a check of the test found the OS wrong' },
  'command-exit': { verdict: 'fail', when: 'a command the test required to succeed exited non-zero' },
  'not-ready': { verdict: 'fail', when: 'a service or condition the test waited for never came up' },
  panic: { verdict: 'fail', when: 'the kernel printed a panic, Oops, BUG or WARNING trace outside a tolerance window' },
  'unexpected-reset': { verdict: 'fail', when: 'the DUT rebooted while nobody asked it to (boot banner on the console)' },
  'reboot-hung': { verdict: 'fail', when: 'a reboot did not come back by itself; the harness had to power-cycle' },
  'board-died': { verdict: 'error', when: 'QEMU or a board helper process died' },
  'console-lost': { verdict: 'error', when: 'the console or the SSH link to the DUT went away' },
  power: { verdict: 'error', when: 'the power driver did not answer, or the board gave no sign of restarting after a reset, a power cycle or the OS restarting it' },
  'ssh-unreachable': { verdict: 'error', when: 'sshd could not be dialled although the OS booted (diagnosed over serial)' },
  timeout: { verdict: 'error', when: 'the test or one of its commands outlived its bound' },
  tool: { verdict: 'error', when: 'a host tool or a file transfer failed' },
  config: { verdict: 'error', when: 'bad input: a board file, a flag, an image' },
  interrupted: { verdict: 'error', when: 'the run was stopped by SIGINT/SIGTERM' },
  broken: { verdict: 'error', when: 'the DUT was latched broken by an earlier test and could not be recovered' },
  'boot-lost': { verdict: 'error', when: 'a test sharing a reboot was not checked: the boot it was prepared for ended first (another test\'s fault and its recovery)' },
  'test-bug': { verdict: 'error', when: 'the test code threw something that is not a verdict (a TypeError, ...)' },
} as const satisfies Record<string, { verdict: 'fail' | 'error'; when: string }>;

export type Cause = keyof typeof VERDICT_TABLE;

/** DutErrorKind → cause; the kinds are the harness's words, causes the report's. */
const CAUSE_OF_KIND: Record<DutErrorKind, Cause> = {
  command: 'command-exit',
  'not-ready': 'not-ready',
  panic: 'panic',
  reset: 'unexpected-reset',
  'reboot-hung': 'reboot-hung',
  process: 'board-died',
  'console-lost': 'console-lost',
  power: 'power',
  'ssh-unreachable': 'ssh-unreachable',
  timeout: 'timeout',
  tool: 'tool',
  config: 'config',
  interrupted: 'interrupted',
  broken: 'broken',
  'boot-lost': 'boot-lost',
};

export interface Verdict {
  status: 'fail' | 'error';
  cause: Cause;
  message: string;
  diagnostics: TestDiagnostics;
}

/** The one place that decides fail versus error, and why. */
export function classify(error: unknown): Verdict {
  if (error instanceof AssertionError) {
    return verdict('assertion', error.message, { expected: error.expected, actual: error.actual, stack: stackOf(error) });
  }
  if (error instanceof CommandError) {
    return verdict('command-exit', `\`${error.command}\` exited ${error.exitCode}`, {
      command: error.command,
      exitCode: error.exitCode,
      outputTail: tail(error.output, 20),
      ...where(error),
    });
  }
  if (error instanceof DutError) {
    return verdict(CAUSE_OF_KIND[error.kind], error.message, {
      ...where(error),
      ...(error.excerpt ? { excerpt: tail(error.excerpt, 40) } : {}),
      stack: stackOf(error),
    });
  }
  const plain = error instanceof Error ? error : new Error(String(error));
  return verdict('test-bug', `${plain.name}: ${plain.message}`, { stack: stackOf(plain) });
}

function verdict(cause: Cause, message: string, diagnostics: TestDiagnostics): Verdict {
  return { status: VERDICT_TABLE[cause].verdict, cause, message: message.split('\n')[0] ?? cause, diagnostics: { cause, ...diagnostics } };
}

function where(error: DutError): Pick<TestDiagnostics, 'dut' | 'step'> {
  return { ...(error.dut ? { dut: error.dut } : {}), ...(error.step ? { step: error.step } : {}) };
}

function stackOf(error: Error): string {
  return tail(error.stack ?? '', 8);
}
