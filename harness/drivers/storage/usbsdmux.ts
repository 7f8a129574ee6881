import type { UsbSdMuxStorage } from '../../boards/types.ts';
import type { StorageDriver } from '../../dut/drivers.ts';
import { describeLocator, locate } from '../locate.ts';
import { muxStorage } from './mux-storage.ts';

/** Linux Automation's USB-SD-Mux: `usbsdmux <sg> host|dut` on its SCSI generic control device. */
export function usbSdMuxStorage(config: UsbSdMuxStorage, board: string): StorageDriver {
  return muxStorage(
    {
      device: `USB-SD-Mux ${describeLocator(config.control)}`,
      argv: async (side, signal) => [config.command, await locate(config.control, { subsystem: 'scsi_generic', what: 'SD mux control', board, signal }), side],
    },
    config,
    board,
  );
}
