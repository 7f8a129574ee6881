/**
 * The process exit code of a run:
 *   0  every test passed or was skipped (known-flaky failures do not count)
 *   1  a test failed: the product is wrong
 *   2  the infrastructure broke (a test errored) or the run was interrupted;
 *      this wins over 1, since failures seen on a broken rig prove nothing
 */
export const EXIT_PASSED = 0;
export const EXIT_FAILED = 1;
export const EXIT_ERROR = 2;
export type ExitCode = typeof EXIT_PASSED | typeof EXIT_FAILED | typeof EXIT_ERROR;

export interface Outcome {
  /** Failures, not counting known-flaky ones. */
  failed: number;
  errors: number;
  /** The reason the run was cut short, e.g. "SIGINT". */
  interrupted?: string;
}

export function exitCodeFor(outcome: Outcome): ExitCode {
  if (outcome.errors > 0 || outcome.interrupted !== undefined) return EXIT_ERROR;
  if (outcome.failed > 0) return EXIT_FAILED;
  return EXIT_PASSED;
}
