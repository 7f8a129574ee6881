import type { SdWireStorage } from '../../boards/types.ts';
import type { StorageDriver } from '../../dut/drivers.ts';
import { muxStorage } from './mux-storage.ts';

/** An SDWire (Tizen's sd-mux-ctrl): `--ts` gives the card to the test server, the host, `--dut` to the board. */
export function sdWireStorage(config: SdWireStorage, board: string): StorageDriver {
  return muxStorage(
    {
      device: `SDWire ${config.serial}`,
      argv: async (side) => [config.command, `--device-serial=${config.serial}`, side === 'host' ? '--ts' : '--dut'],
    },
    config,
    board,
  );
}
