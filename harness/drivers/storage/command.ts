import type { CommandStorage } from '../../boards/types.ts';
import type { StorageDriver } from '../../dut/drivers.ts';
import { muxStorage } from './mux-storage.ts';

/** Any mux scriptable from a shell: the board file's `host` and `dut` argv. */
export function commandStorage(config: CommandStorage, board: string): StorageDriver {
  return muxStorage(
    {
      device: `SD mux command \`${config.host.join(' ')}\``,
      argv: async (side) => [...(side === 'host' ? config.host : config.dut)],
    },
    config,
    board,
  );
}
