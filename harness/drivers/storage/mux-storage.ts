import type { StorageCommon } from '../../boards/types.ts';
import type { Medium, StorageDriver, WriteOptions } from '../../dut/drivers.ts';
import { runTool } from '../../storage/run-tool.ts';
import { writeImage, type WriteReport } from '../../storage/write-image.ts';
import { locate } from '../locate.ts';

/** Which way a mux points the card: at the host that writes it, or at the board that boots it. */
export type MuxSide = 'host' | 'dut';

/** One mux model: how to say "switch" to it. */
export interface MuxSwitch {
  /** The mux, for messages: its control device, serial or command. */
  device: string;
  /** The command line that switches it; async because a control device may have to be located first. */
  argv(side: MuxSide, signal?: AbortSignal): Promise<string[]>;
}

/** The card shows up on the host a moment after the switch (USB enumeration, the card reader's media poll). */
const MEDIUM_APPEARS_MS = 15_000;

/**
 * A storage driver for any SD mux: switch the card to the host, wait for it
 * to appear, write and verify the image, and on handOver switch it to the
 * board. Every switch is bounded by the board file's timeoutMs.
 */
export function muxStorage(mux: MuxSwitch, config: StorageCommon, board: string): StorageDriver {
  const flip = async (side: MuxSide, signal?: AbortSignal): Promise<void> => {
    const [file, ...args] = (await mux.argv(side, signal)) as [string, ...string[]];
    await runTool(file, args, { board, step: `switch SD mux to the ${side === 'host' ? 'host' : 'DUT'}`, device: mux.device }, { timeoutMs: config.timeoutMs, signal });
  };
  return {
    async write(image: string, options: WriteOptions = {}): Promise<Medium> {
      await flip('host', options.signal);
      const medium = await locate(config.medium, { subsystem: 'block', what: 'SD card', board, timeoutMs: MEDIUM_APPEARS_MS, signal: options.signal });
      const report = await writeImage(image, medium, { board, verify: config.verify, signal: options.signal, progress: options.progress });
      return { path: medium, format: 'raw', summary: describeWrite(report) };
    },
    handOver: () => flip('dut'),
    // Nothing to undo: the card stays with the board, which is how a farm
    // leaves a slot (bootable by hand for whoever looks at it next). Switching
    // it away here could cut the card from a board that failed to power off.
    release: async () => undefined,
  };
}

function describeWrite(report: WriteReport): string {
  const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;
  const verified = report.verified ? `, verified in ${report.verifySeconds.toFixed(1)} s` : ', not verified';
  return `${report.mode}: ${mib(report.bytes)} of ${mib(report.imageBytes)} in ${report.writeSeconds.toFixed(1)} s (${Math.round(report.mibPerSecond)} MiB/s)${verified}`;
}
