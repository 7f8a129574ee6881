import type { Dut, ExecResult } from '../dut/dut.ts';

/**
 * What a suite can ask of a board and image. A test whose requirements are
 * not met is skipped with the reason, never failed.
 *   serial: a shell and the kernel's messages on the serial console (not on
 *           a production image, reached over SSH alone)
 *   ssh:    a network path to sshd on 22222
 *   hup:    a hostapp of the next OS version to update to
 *   hard-reset: power can be cut without the OS's consent
 *   host-network: the DUT reaches the harness host (QEMU user networking's
 *           gateway, or a farm board's network.hostAddress), so a test can
 *           serve it HTTP or NTP from there
 */
export type Feature = 'serial' | 'ssh' | 'hup' | 'hard-reset' | 'host-network';

export interface Requirements {
  deviceTypes?: string[];
  features?: Feature[];
}

/** The images a run has at hand, as the suites see them. */
export interface RunImages {
  /** The image the DUT boots. */
  image: string;
  version?: string;
  /** The next OS version as a hostapp tarball, for update tests. */
  nextHostapp?: string;
  nextVersion?: string;
  /** The hostapp of the booted version itself (HUP to the same version). */
  currentHostapp?: string;
  /** A `docker save` tarball with dutlab/busybox and dutlab/busybox-health. */
  busybox?: string;
}

/**
 * The DUT as a test holds it: the Dut's own calls, each carrying the test's
 * signal, so a test that is stopped stops talking to the device.
 */
export type TestDut = Pick<Dut, 'name' | 'board' | 'state' | 'defaultTransport' | 'exec' | 'put' | 'get' | 'reboot' | 'hardReset' | 'relogin' | 'toleratingTraces' | 'reach'>;

/** An HTTP server on the harness host, for one test. */
export interface HostHttp {
  /** What the DUT fetches: GET answers `body`, made for this server alone. */
  readonly url: string;
  readonly body: string;
  /** The requests that reached `url`, with the peer as this host saw it. */
  hits(): { from: string; userAgent: string; at: number }[];
}

/** The harness host as a peer on the DUT's network. Requires the host-network feature. */
export interface HostPeer {
  /** This host's address as the DUT reaches it. */
  readonly address: string;
  /** Starts an HTTP server on this host, stopped after the test. */
  http(): Promise<HostHttp>;
  /** Starts an NTP server on this host (chronyd serving the host's clock on UDP 123), stopped after the test. */
  ntp(): Promise<void>;
  /**
   * Starts a DNS server on this host (dnsmasq on UDP 53) that answers only
   * `records` (name → IPv4 address), stopped after the test; `queries()`
   * lists the names it was asked, in order.
   */
  dns(records: Record<string, string>): Promise<{ queries(): string[] }>;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Pause between attempts, default 2 s. */
  intervalMs?: number;
  /** What is waited for, as the not-ready message names it. */
  what?: string;
}

export interface TestContext {
  readonly dut: TestDut;
  readonly images: RunImages;
  readonly board: { name: string; deviceType: string; features: ReadonlySet<Feature> };
  /** The harness host on the DUT's network (a test using it declares `requires: { features: ['host-network'] }`). */
  readonly host: HostPeer;
  /** This test's own artifact folder (created on demand). */
  readonly artifacts: string;
  /**
   * Runs a command on the DUT and returns its stdout without the trailing
   * newline; a non-zero exit fails the test (a CommandError, reported with
   * the command, exit code and output tail).
   */
  sh(command: string, options?: { timeoutMs?: number; transport?: 'serial' | 'ssh' }): Promise<string>;
  /**
   * Makes a host file readable on the DUT and returns its path there: the
   * board's read-only media when it carries the file (a QEMU extra disk),
   * else a verified copy under /mnt/data over the transport.
   */
  stage(hostPath: string): Promise<string>;
  /**
   * Runs a command whose exit code the test reads itself: a non-zero exit is
   * returned, not thrown (a DUT fault or timeout still ends the test).
   */
  exec(command: string, options?: { timeoutMs?: number; transport?: 'serial' | 'ssh' }): Promise<ExecResult>;
  /**
   * Polls until `command` exits 0 and returns its stdout; past the deadline
   * the test ends as not-ready with the last output.
   */
  waitUntil(command: string, options: WaitOptions): Promise<string>;
  /**
   * Polls until `check` returns something truthy and returns it (an error it
   * throws ends the wait and the test: use `t.exec` inside for commands that
   * may fail); past the deadline the test ends as not-ready with `what`.
   */
  waitUntil<T>(check: () => Promise<T> | T, options: WaitOptions): Promise<NonNullable<T>>;
  /** Registers clean-up that runs after the test (or suite), even after a failure, last first. */
  teardown(fn: () => unknown): void;
  /**
   * Ends the test as skipped with the reason: a prerequisite the run lacks
   * (no hostapp of another version, a production image) is not a failure.
   */
  skip(reason: string): never;
  /**
   * Aborted when the test must stop: it ran out of time, the DUT panicked or
   * reset under it, or the run was interrupted. `t.sh`, `t.dut.exec` and the
   * other DUT calls of this context already honour it; pass it to any other
   * long wait of your own.
   */
  readonly signal: AbortSignal;
  log(message: string): void;
}

interface TestBase {
  title: string;
  requires?: Requirements;
  /** Default 10 minutes; for a test that shares a reboot, the bound of each of its two parts. */
  timeoutMs?: number;
}

export interface PlainTest extends TestBase {
  run(t: TestContext): Promise<void>;
}

/**
 * A test of the form "set something up, reboot, check it survived". The
 * runner runs the `beforeReboot` part of every such test of a suite, reboots
 * the DUT once, then runs each `afterReboot` part with what its own
 * `beforeReboot` returned. Each is still its own test case, with its own
 * verdict, transcript and artifacts; these tests run after the suite's plain
 * ones. A fault is charged to the part that was running, and a reboot that
 * fails is every prepared test's verdict (each one's reboot failed).
 */
export interface RebootTest<Prepared = unknown> extends TestBase {
  beforeReboot(t: TestContext): Promise<Prepared>;
  afterReboot(t: TestContext, prepared: Prepared): Promise<void>;
  /**
   * Tests of one group share a reboot; tests without a group share the
   * suite's common one. A test whose reboot wipes what the others'
   * preparations live on (a factory reset) names a group of its own, and a
   * test indifferent to that wipe may join it.
   */
  rebootGroup?: string;
}

export type TestDefinition = PlainTest | RebootTest;

export function isRebootTest(test: TestDefinition): test is RebootTest {
  return 'beforeReboot' in test;
}

export interface SuiteDefinition {
  title: string;
  requires?: Requirements;
  setup?(t: TestContext): Promise<void>;
  /** Runs before every test (before the first part of one that shares a reboot), with that test's context; a failure here is that test's verdict. */
  beforeEach?(t: TestContext): Promise<void>;
  teardown?(t: TestContext): Promise<void>;
}

export function defineSuite(suite: SuiteDefinition): SuiteDefinition {
  return suite;
}

export function defineTests(...tests: TestDefinition[]): TestDefinition[] {
  return tests;
}

/**
 * A RebootTest whose `afterReboot` is typed by what its `beforeReboot`
 * returns; inside `defineTests(...)` a bare object literal would leave it unknown.
 */
export function acrossReboot<Prepared>(test: RebootTest<Prepared>): TestDefinition {
  return test as RebootTest;
}
