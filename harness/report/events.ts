/**
 * What the runner tells a Reporter, in the order it happens:
 *   start(RunInfo) → (suiteStart(SuiteStart) → [testStart(TestStart)] → testResult(TestResult) … → suiteEnd(SuiteEnd)) … → end(RunEnd)
 * `testStart` is optional; when given, a test that is running when the run is
 * interrupted is reported as "not finished" rather than "not run".
 */

/**
 * fail  = the OS under test misbehaved (an assertion, a command's exit code,
 *         a kernel panic, an unexpected reset, a reboot that did not come back);
 * error = the harness or the board infrastructure broke (QEMU died, the
 *         console was lost, SSH never answered, a bug in the test, a timeout).
 * The two are kept apart in every output: TAP, JUnit, summary and exit code;
 * harness/runner/classify.ts holds the table that decides.
 */
export type TestStatus = 'pass' | 'fail' | 'error' | 'skip';

export interface TestDiagnostics {
  command?: string;
  exitCode?: number;
  outputTail?: string;
  expected?: unknown;
  actual?: unknown;
  stack?: string;
  /** The named cause from the verdict table (harness/runner/classify.ts): 'panic', 'reboot-hung', 'console-lost', ... */
  cause?: string;
  /** The console transcript around the event that decided the verdict. */
  excerpt?: string;
  dut?: string;
  step?: string;
}

export interface TestResult {
  suite: string;
  title: string;
  status: TestStatus;
  durationMs: number;
  /** ms since the epoch */
  startedAt: number;
  /** Ran and is reported, but a failure of it does not fail the run (an error still does). */
  knownFlaky?: boolean;
  /** For skip, e.g. "requires feature hup, board lacks it". */
  skipReason?: string;
  /** First line of the failure or error. */
  message?: string;
  /** YAML diagnostics in TAP, the body of <failure>/<error> in JUnit. */
  diagnostics?: TestDiagnostics;
  /** The serial transcript slice for the test's time span; JUnit system-out. */
  serialExcerpt?: string;
  /** Paths, relative to the reports dir, of files collected for this test. */
  artifacts?: string[];
}

export interface SuiteStart {
  suite: string;
  title: string;
  testCount: number;
  startedAt: number;
  /** Titles of the tests in run order, if known: names the tests an interruption leaves unrun. */
  tests?: string[];
}

export interface TestStart {
  suite: string;
  title: string;
  startedAt: number;
}

export interface SuiteEnd {
  suite: string;
  durationMs: number;
}

export interface RunInfo {
  board: string;
  deviceType: string;
  image: string;
  imageVersion?: string;
  accel?: string;
  startedAt: number;
}

export interface RunEnd {
  durationMs: number;
  timeline: { state: string; at: number; afterMs: number; detail?: string }[];
  /** Set when the run was cut short, e.g. "SIGINT". */
  interrupted?: string;
  /** What the bound board says of itself (kind, drivers, devices, accelerator) and what it offers the suites. */
  boardDescription?: Record<string, unknown>;
  features?: string[];
}
