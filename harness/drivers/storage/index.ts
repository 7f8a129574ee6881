import type { StorageConfig } from '../../boards/types.ts';
import type { StorageDriver } from '../../dut/drivers.ts';
import { commandStorage } from './command.ts';
import { sdWireStorage } from './sdwire.ts';
import { usbSdMuxStorage } from './usbsdmux.ts';

type StorageFactories = { [K in StorageConfig['kind']]: (config: Extract<StorageConfig, { kind: K }>, board: string) => StorageDriver };

/** One entry per mux model the board schema knows: adding a model is adding a line. */
const MUXES: StorageFactories = {
  usbsdmux: usbSdMuxStorage,
  sdwire: sdWireStorage,
  command: commandStorage,
};

/** The storage driver a physical board's `storage` section describes. */
export function bindStorage(config: StorageConfig, board: string): StorageDriver {
  const factory = MUXES[config.kind] as (config: StorageConfig, board: string) => StorageDriver;
  return factory(config, board);
}
