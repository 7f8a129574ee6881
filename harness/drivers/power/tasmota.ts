import type { TasmotaPower } from '../../boards/types.ts';
import { getJson } from './http-json.ts';
import type { PowerSwitch } from './switched.ts';

/**
 * A Tasmota plug through its HTTP command API: `/cm?cmnd=Power<n> On|Off`
 * switches, `Power<n>` alone reports. Both answer `{"POWER<n>":"ON"}`, or
 * `{"POWER":"ON"}` on a device with one output; an output the device does
 * not have answers `{"Command":"Unknown"}`.
 */
export function tasmotaSwitch(config: TasmotaPower): PowerSwitch {
  const base = config.url.replace(/\/+$/, '');
  const command = async (payload: string, signal: AbortSignal): Promise<boolean> => {
    const cmnd = `Power${config.output}${payload ? ` ${payload}` : ''}`;
    return tasmotaPowerState(await getJson(`${base}/cm?cmnd=${encodeURIComponent(cmnd)}`, signal), config.output);
  };
  return {
    device: `Tasmota plug ${base} output ${config.output}`,
    // The answer must name the output's state: `{"Command":"Unknown"}` means the plug has no such output.
    async set(on, signal) {
      await command(on ? 'On' : 'Off', signal);
    },
    get: (signal) => command('', signal),
  };
}

export function tasmotaPowerState(reply: unknown, output: number): boolean {
  const fields = typeof reply === 'object' && reply !== null ? (reply as Record<string, unknown>) : {};
  const value = fields[`POWER${output}`] ?? (output === 1 ? fields['POWER'] : undefined);
  if (value === 'ON' || value === 'OFF') return value === 'ON';
  throw new Error(`answered ${JSON.stringify(reply)}, not the state of output ${output}`);
}
