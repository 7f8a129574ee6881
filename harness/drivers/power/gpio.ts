import type { GpioPower } from '../../boards/types.ts';
import { untilAborted } from '../../proc/abort.ts';
import { settlesWithin, spawnSupervised, type Supervised } from '../../proc/supervise.ts';
import type { PowerSwitch } from './switched.ts';

/**
 * A GPIO line driving a relay, through libgpiod v1.6's `gpioset`. A line
 * keeps its value only while a process holds it, so `gpioset --mode=signal`
 * runs for as long as the value should last, supervised (killed if the
 * harness goes), and a new value replaces it: SIGTERM, wait for it to let go
 * of the line (the kernel refuses a second holder), start the next one.
 *
 * gpioset says nothing when it holds the line and exits at once when it
 * cannot, so still running after HOLD_SETTLE_MS is taken as holding: the
 * real tool fails within milliseconds, a script standing in for it (the
 * rig's emulator starts Node) within a few hundred. The line cannot be read
 * back while we hold it: this switch has no get().
 */
const HOLD_SETTLE_MS = 1000;

export function gpioSwitch(config: GpioPower): PowerSwitch {
  let holder: { child: Supervised; on: boolean } | undefined;

  const letGo = async (): Promise<void> => {
    const current = holder;
    holder = undefined;
    if (current) await current.child.terminate({ termMs: 1000, killMs: 1000 });
  };

  return {
    device: `GPIO ${config.chip} line ${config.line}${config.activeLow ? ' (active low)' : ''}`,
    async set(on, signal) {
      // Asking again for the value already held would let go of the line for a moment: a relay could drop out.
      if (holder?.on === on && !holder.child.exitInfo()) return;
      await untilAborted(letGo(), signal);
      const args = [...(config.activeLow ? ['--active-low'] : []), '--mode=signal', config.chip, `${config.line}=${on ? 1 : 0}`];
      const child = spawnSupervised(config.command, args, { name: `${config.command} ${config.chip} ${config.line}` });
      holder = { child, on };
      // An operation that ran out of time leaves nothing holding the line.
      const abandon = (): void => void letGo();
      signal.addEventListener('abort', abandon, { once: true });
      try {
        if (await untilAborted(settlesWithin(child.exited, HOLD_SETTLE_MS), signal)) {
          holder = undefined;
          const exit = child.exitInfo();
          const how = exit?.signal ? `was killed by ${exit.signal}` : `exited ${exit?.code ?? '?'}`;
          const output = child.outputTail(10);
          throw new Error(`\`${[config.command, ...args].join(' ')}\` ${how} instead of holding the line${output ? `:\n${output}` : ''}`);
        }
      } finally {
        signal.removeEventListener('abort', abandon);
      }
    },
    release: letGo,
  };
}
