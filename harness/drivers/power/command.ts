import type { CommandPower } from '../../boards/types.ts';
import { runBoardCommand } from './run-command.ts';
import type { PowerSwitch } from './switched.ts';

/**
 * Any switch scriptable from a shell, as labgrid's ExternalPowerDriver: the
 * board file's `on` and `off` argv, and optionally a `status` argv whose
 * output says `on` or `off` as a word.
 */
export function commandSwitch(config: CommandPower): PowerSwitch {
  const status = config.status;
  return {
    device: `power command \`${config.on.join(' ')}\``,
    async set(on, signal) {
      await runBoardCommand(on ? config.on : config.off, signal);
    },
    ...(status ? { get: async (signal: AbortSignal) => parseOnOff(await runBoardCommand(status, signal), status) } : {}),
  };
}

function parseOnOff(output: string, argv: readonly string[]): boolean {
  const words = new Set(output.toLowerCase().match(/\b(on|off)\b/g) ?? []);
  if (words.size === 1) return words.has('on');
  throw new Error(`\`${argv.join(' ')}\` printed ${words.size ? 'both on and off' : 'neither on nor off'}: ${JSON.stringify(output.trim().slice(0, 200))}`);
}
