import type { Dut } from '../dut/dut.ts';

/** How much each test starts from the golden state: before each test, before each suite, or never. */
export type Isolation = 'none' | 'suite' | 'test';

export const ISOLATIONS: readonly Isolation[] = ['none', 'suite', 'test'];

/**
 * Rewinds the DUT to its golden state at the isolation's boundaries, when
 * something ran on it since it booted or was last rewound. The rewind is the
 * harness's step: one that fails is thrown for the caller to charge to the
 * tests it was for, as an error, never as their failure. A DUT with no
 * golden state (booted cold, a board that cannot save states) is not
 * isolated, said once.
 */
export class Isolator {
  /** Something ran on the DUT since its state was fresh. */
  private used = false;
  private saidUnavailable = false;

  constructor(
    private readonly dut: Dut,
    private readonly mode: Isolation,
    private readonly log: (message: string) => void,
  ) {}

  /** The DUT was booted from idle: nothing ran on it yet. */
  booted(): void {
    this.used = false;
  }

  /** A test (or a suite's setup) ran on the DUT. */
  ran(): void {
    this.used = true;
  }

  /** Before a suite's setup: per-suite isolation, and per-test for a suite with a setup, whose work the tests need. */
  async beforeSuite(suite: string, hasSetup: boolean): Promise<void> {
    if (this.mode === 'suite' || (this.mode === 'test' && hasSetup)) {
      if (this.mode === 'test') this.log(`isolation: suite ${suite} has a setup its tests rely on: rewound once before it, not before each test`);
      await this.rewind(`suite ${suite}`);
    }
  }

  /** Before a test, or a batch of tests sharing one reboot (they are one unit: prepared in one boot). */
  async beforeTest(what: string, suiteHasSetup: boolean): Promise<void> {
    if (this.mode === 'test' && !suiteHasSetup) await this.rewind(what);
  }

  private async rewind(what: string): Promise<void> {
    if (!this.used) return;
    if (!this.dut.rewindable) {
      if (!this.saidUnavailable) this.log(`isolation: ${this.mode} asked for, but the DUT holds no golden state to rewind to (booted cold, or the board cannot save states): tests share the DUT as it is`);
      this.saidUnavailable = true;
      return;
    }
    const started = Date.now();
    await this.dut.settled();
    await this.dut.rewind();
    this.used = false;
    this.log(`isolation: rewound to the golden state before ${what} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
