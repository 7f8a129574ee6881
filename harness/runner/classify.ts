import { AssertionError } from 'node:assert';
import { CommandError, DutError } from '../errors.ts';
import { tail } from '../errors.ts';
import type { TestDiagnostics } from '../report/index.ts';

export interface Verdict {
  status: 'fail' | 'error';
  message: string;
  diagnostics: TestDiagnostics;
}

/**
 * A test *fails* when what it checked on the device was wrong: an assertion,
 * or a command on the DUT exiting non-zero. Anything else is an *error*: the
 * infrastructure broke (console lost, QEMU died, a panic, the lifecycle
 * latched broken, a timeout) or the test itself is buggy.
 */
export function classify(error: unknown): Verdict {
  if (error instanceof AssertionError) {
    return {
      status: 'fail',
      message: error.message.split('\n')[0] ?? 'assertion failed',
      diagnostics: { expected: error.expected, actual: error.actual, stack: stackOf(error) },
    };
  }
  if (error instanceof CommandError) {
    return {
      status: 'fail',
      message: `\`${error.command}\` exited ${error.exitCode}`,
      diagnostics: {
        command: error.command,
        exitCode: error.exitCode,
        outputTail: tail(error.output, 20),
        errorKind: error.kind,
        ...(error.dut ? { dut: error.dut } : {}),
        ...(error.step ? { step: error.step } : {}),
      },
    };
  }
  if (error instanceof DutError) {
    return {
      status: 'error',
      message: error.message.split('\n')[0] ?? error.kind,
      diagnostics: {
        errorKind: error.kind,
        ...(error.dut ? { dut: error.dut } : {}),
        ...(error.step ? { step: error.step } : {}),
        ...(error.excerpt ? { outputTail: tail(error.excerpt, 20) } : {}),
        stack: stackOf(error),
      },
    };
  }
  const plain = error instanceof Error ? error : new Error(String(error));
  return { status: 'error', message: plain.message.split('\n')[0] ?? 'error', diagnostics: { errorKind: plain.name, stack: stackOf(plain) } };
}

function stackOf(error: Error): string {
  return tail(error.stack ?? '', 8);
}
