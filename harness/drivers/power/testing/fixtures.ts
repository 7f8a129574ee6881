import type { ExecutionContext } from 'ava';
import type { PowerDriver } from '../../../dut/drivers.ts';

/**
 * How much later than the driver an emulator may notice a switch (a frame
 * crossing a pty, a file watch firing). The off time the board feels is
 * measured between two such moments, so it may fall short of minOffMs by
 * their difference; the driver's own wait is checked exactly elsewhere.
 */
export const NOTICE_JITTER_MS = 50;

/** Switch events with the time they arrived, as a board would feel them. */
export class SwitchLog {
  readonly events: { on: boolean; at: number }[] = [];
  readonly record = (on: boolean): void => {
    this.events.push({ on, at: Date.now() });
  };

  /** Waits (bounded) until `count` events have arrived; a switch reaches its emulator a moment after the driver let go of it. */
  async reach(count: number, ms = 2000): Promise<{ on: boolean; at: number }[]> {
    const deadline = Date.now() + ms;
    while (this.events.length < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.events;
  }

  /** What the events were, in order. */
  get sequence(): boolean[] {
    return this.events.map((event) => event.on);
  }
}

/**
 * From on: a cycle, then off, and what the board felt: on, off, on, off, with
 * the cycle's off time at least minOffMs.
 */
export async function checkCycleThenOff(t: ExecutionContext, power: PowerDriver, log: SwitchLog, minOffMs: number): Promise<void> {
  await power.cycle();
  await power.off();
  t.is(power.state(), 'off');
  t.deepEqual((await log.reach(4)).map((event) => event.on), [true, false, true, false]);
  const [, off, on] = log.events as [unknown, { at: number }, { at: number }];
  t.true(on.at - off.at >= minOffMs, `off for ${on.at - off.at} ms`);
}
