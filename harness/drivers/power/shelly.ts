import type { ShellyPower } from '../../boards/types.ts';
import { getJson } from './http-json.ts';
import type { PowerSwitch } from './switched.ts';

/**
 * A Shelly gen2 plug or relay through its RPC-over-HTTP API:
 * `/rpc/Switch.Set?id=<n>&on=true|false` switches (answering `{"was_on":..}`),
 * `/rpc/Switch.GetStatus?id=<n>` reports `{"id":n,"output":true,...}`.
 */
export function shellySwitch(config: ShellyPower): PowerSwitch {
  const base = config.url.replace(/\/+$/, '');
  return {
    device: `Shelly switch ${base} id ${config.switch}`,
    async set(on, signal) {
      await getJson(`${base}/rpc/Switch.Set?id=${config.switch}&on=${on}`, signal);
    },
    async get(signal) {
      const status = await getJson(`${base}/rpc/Switch.GetStatus?id=${config.switch}`, signal);
      const output = typeof status === 'object' && status !== null ? (status as Record<string, unknown>)['output'] : undefined;
      if (typeof output !== 'boolean') throw new Error(`Switch.GetStatus answered ${JSON.stringify(status)}, without an output state`);
      return output;
    },
  };
}
