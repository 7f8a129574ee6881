import { write } from 'node:fs';
import type { SerialConsole } from '../../boards/types.ts';
import type { ConsoleDriver } from '../../dut/drivers.ts';
import { DutError } from '../../errors.ts';
import { locate } from '../locate.ts';
import { closeSerialLine, openSerialLine } from '../serial-line.ts';
import { lastingConsole, type LastingOptions, type Line } from './lasting-console.ts';

export interface SerialDeviceOptions extends LastingOptions {
  /** How long the adapter may take to appear at open(). Default 30 s. */
  appearMs?: number;
}

const WHAT = 'console adapter';
const PROBE_MS = 250;
const NOTHING = Buffer.alloc(0);

/**
 * A board's console on a local serial adapter. The adapter is located again
 * each time it returns: a udev match may come back under another /dev name.
 */
export function serialDeviceConsole(config: SerialConsole, board: string, options: SerialDeviceOptions = {}): ConsoleDriver {
  const find = (timeoutMs: number, signal: AbortSignal): Promise<string> => locate(config.port, { subsystem: 'tty', what: WHAT, board, timeoutMs, signal });
  return lastingConsole(
    {
      async open(signal) {
        const device = await find(options.appearMs ?? 30_000, signal).catch((error: unknown) => {
          throw absentIsLost(error, board);
        });
        return openDevice(device, config.baud, board);
      },
      reopen: async (signal) => openDevice(await find(0, signal), config.baud, board),
    },
    board,
    options,
  );
}

async function openDevice(device: string, baud: number, dut: string): Promise<Line> {
  const port = await openSerialLine(device, baud, dut);
  // A read or write error closes the port with it: its 'close' is one way we learn the adapter went away.
  port.on('error', () => undefined);
  let closing = false;
  let probe: NodeJS.Timeout | undefined;
  const gone = new Promise<string>((resolve) => {
    const lost = (why: string): void => {
      clearInterval(probe);
      if (!closing) resolve(why);
    };
    port.once('close', (error?: Error | null) => lost(error ? `the port closed: ${error.message}` : 'the port closed'));
    // The other: a tty that hung up (a USB adapter unplugged, a pty whose
    // other side went away) reads as end of file, which serialport retries
    // forever, busy, instead of closing the port; writing nothing to it fails.
    probe = setInterval(() => {
      const fd = port.port?.fd;
      if (closing || !port.isOpen || fd === null || fd === undefined) return;
      write(fd, NOTHING, 0, 0, null, (error) => {
        if (error && error.code !== 'EAGAIN') lost(`${error.code ?? error.message}: the line hung up`);
      });
    }, PROBE_MS);
    probe.unref();
  });
  return {
    stream: port,
    name: `${WHAT} ${device}`,
    gone,
    async close() {
      closing = true;
      clearInterval(probe);
      await closeSerialLine(port);
    },
  };
}

/**
 * An adapter that is not there is a console the board cannot be reached
 * through, not a wrong board file; a locator matching several devices stays
 * the board file's error.
 */
function absentIsLost(error: unknown, board: string): unknown {
  if (!(error instanceof DutError) || error.kind !== 'config' || !/ is not present/.test(error.reason)) return error;
  return new DutError('console-lost', error.reason, { dut: board, step: 'open console', cause: error });
}
