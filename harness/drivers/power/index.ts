import type { PowerConfig } from '../../boards/types.ts';
import { commandSwitch } from './command.ts';
import { gpioSwitch } from './gpio.ts';
import { lcusSwitch } from './lcus.ts';
import { shellySwitch } from './shelly.ts';
import { switchedPower, type PowerSwitch, type ReleasablePower } from './switched.ts';
import { tasmotaSwitch } from './tasmota.ts';
import { usbRelaySwitch } from './usbrelay.ts';

type SwitchFactories = { [K in PowerConfig['kind']]: (config: Extract<PowerConfig, { kind: K }>, board: string) => PowerSwitch };

/** One entry per switch model the board schema knows: adding a model is adding a line. */
const SWITCHES: SwitchFactories = {
  lcus: lcusSwitch,
  usbrelay: usbRelaySwitch,
  gpio: gpioSwitch,
  tasmota: tasmotaSwitch,
  shelly: shellySwitch,
  command: commandSwitch,
};

/** The power driver a physical board's `power` section describes; release() closes what it keeps open. */
export function bindPower(config: PowerConfig, board: string): ReleasablePower {
  const factory = SWITCHES[config.kind] as (config: PowerConfig, board: string) => PowerSwitch;
  return switchedPower(factory(config, board), config, board);
}
