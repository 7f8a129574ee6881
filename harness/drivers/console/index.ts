import type { PhysicalConsole } from '../../boards/types.ts';
import type { ConsoleDriver } from '../../dut/drivers.ts';
import { networkSerialConsole } from './ser2net.ts';
import { serialDeviceConsole, type SerialDeviceOptions } from './serial-device.ts';

export type ConsoleOptions = SerialDeviceOptions;

type ConsoleFactories = { [K in PhysicalConsole['kind']]: (config: Extract<PhysicalConsole, { kind: K }>, board: string, options: ConsoleOptions) => ConsoleDriver };

/** One entry per console the board schema knows: adding a kind is adding a line. */
const CONSOLES: ConsoleFactories = {
  serial: serialDeviceConsole,
  ser2net: networkSerialConsole,
};

/** The console driver a physical board's `console` section describes. */
export function bindConsole(config: PhysicalConsole, board: string, options: ConsoleOptions = {}): ConsoleDriver {
  const factory = CONSOLES[config.kind] as (config: PhysicalConsole, board: string, options: ConsoleOptions) => ConsoleDriver;
  return factory(config, board, options);
}
