import type { PowerCommon } from '../../boards/types.ts';
import type { PowerDriver, PowerState } from '../../dut/drivers.ts';
import { DutError } from '../../errors.ts';
import { within } from '../../proc/abort.ts';

/**
 * What a power switch model has to provide: one way to switch, and maybe one
 * way to read the switch back. Bounds, read-back checks, the minimum off time
 * and the errors a report shows are the same for every model and live in
 * switchedPower, so a model is only its protocol.
 */
export interface PowerSwitch {
  /** For messages: "LCUS relay /dev/ttyUSB1 channel 1". */
  device: string;
  /** Resolves once the switch has switched; stops its I/O when `signal` aborts. */
  set(on: boolean, signal: AbortSignal): Promise<void>;
  /** What the switch reports now, for switches that can tell. */
  get?(signal: AbortSignal): Promise<boolean>;
  /** Closes what the switch keeps open between operations (a serial port, a process holding a line). */
  release?(): Promise<void>;
}

export type ReleasablePower = PowerDriver & { release(): Promise<void> };

type Step = 'power on' | 'power off' | 'power cycle';

const word = (on: boolean): 'on' | 'off' => (on ? 'on' : 'off');

export function switchedPower(sw: PowerSwitch, config: PowerCommon, board: string): ReleasablePower {
  let state: PowerState = 'unknown';
  // When power last went off, so that any later power-on (in a cycle or not) keeps the board off minOffMs.
  let offSince: number | undefined;
  // Operations run one after another: a relay told on and off at once would end in either state.
  let queue: Promise<unknown> = Promise.resolve();

  const serialised = <T>(operation: () => Promise<T>): Promise<T> => {
    const next = queue.then(operation);
    queue = next.catch(() => undefined);
    return next;
  };

  const failure = (step: Step, reason: string, cause?: unknown): DutError =>
    new DutError('power', `${sw.device}: ${reason}`, { dut: board, step, cause });

  /** Runs one exchange with the switch within timeoutMs; on expiry its signal aborts so it stops its I/O. */
  const bounded = async <T>(step: Step, doing: string, exchange: (signal: AbortSignal) => Promise<T>): Promise<T> => {
    const controller = new AbortController();
    try {
      return await within(exchange(controller.signal), config.timeoutMs, () => {
        const error = new DutError('power', `${sw.device} did not answer within ${config.timeoutMs / 1000} s (${doing})`, { dut: board, step });
        controller.abort(error);
        return error;
      });
    } catch (error) {
      // The locator's verdict on a missing device stays a config error; everything else the switch throws is the power switch failing.
      if (error instanceof DutError && (error.kind === 'power' || error.kind === 'config')) throw error;
      throw failure(step, error instanceof DutError ? error.reason : error instanceof Error ? error.message : String(error), error);
    }
  };

  const switchTo = async (on: boolean, step: Step): Promise<void> => {
    if (on && offSince !== undefined) {
      const wait = offSince + config.minOffMs - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
    const wasOff = state === 'off';
    state = 'unknown';
    let switchedAt: number;
    let actual: boolean;
    try {
      await bounded(step, `switching ${word(on)}`, (signal) => sw.set(on, signal));
      // Counted from when the switch confirmed (for a relay that never acknowledges: when its frame left), never from before.
      switchedAt = Date.now();
      const get = sw.get;
      actual = get ? await bounded(step, `reading the state back after switching ${word(on)}`, (signal) => get.call(sw, signal)) : on;
    } catch (error) {
      // A switch that failed to confirm may still have cut the power: a later power-on keeps the off time anyway.
      if (!on) offSince = Date.now();
      throw error;
    }
    if (actual) offSince = undefined;
    else if (!wasOff) offSince = switchedAt;
    state = word(actual);
    if (actual !== on) throw failure(step, `reads ${word(actual)} after switching ${word(on)}`);
  };

  return {
    on: () => serialised(() => switchTo(true, 'power on')),
    off: () => serialised(() => switchTo(false, 'power off')),
    cycle: () =>
      serialised(async () => {
        await switchTo(false, 'power cycle');
        await switchTo(true, 'power cycle');
      }),
    state: () => state,
    release: () => serialised(async () => sw.release?.()),
  };
}
