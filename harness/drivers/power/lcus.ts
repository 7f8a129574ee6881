import type { SerialPort } from 'serialport';
import type { LcusPower } from '../../boards/types.ts';
import { untilAborted } from '../../proc/abort.ts';
import { describeLocator, locate } from '../locate.ts';
import { closeSerialLine, openSerialLine } from '../serial-line.ts';
import type { PowerSwitch } from './switched.ts';

/**
 * An LCUS-type USB-serial relay (CH340 + a small MCU): 4-byte frames
 * `A0 <channel> <0|1> <sum>`, and on multi-channel modules a status query
 * 0xFF answered with one `CH<n>:ON|OFF` line per channel. The module never
 * acknowledges a switch frame, so without `status` a sent frame is all we know.
 *
 * The port stays open between operations, as a console adapter does; a port
 * that errors, closes, or is abandoned by an operation that ran out of time
 * is dropped and reopened by the next operation.
 */

const START = 0xa0;
const STATUS_QUERY = 0xff;

export function lcusFrame(channel: number, on: boolean): Buffer {
  const state = on ? 1 : 0;
  return Buffer.from([START, channel, state, (START + channel + state) & 0xff]);
}

/** The channels a status reply names so far: `CH1:ON  \r\nCH2:OFF \r\n`. Only complete lines count. */
export function parseLcusStatus(text: string): Map<number, boolean> {
  const channels = new Map<number, boolean>();
  for (const line of text.split('\n').slice(0, -1)) {
    const match = /^CH(\d+):(ON|OFF)$/i.exec(line.trim());
    if (match) channels.set(Number(match[1]), (match[2] as string).toUpperCase() === 'ON');
  }
  return channels;
}

export function lcusSwitch(config: LcusPower, board: string): PowerSwitch {
  let port: Promise<SerialPort> | undefined;
  // Everything the module sends goes here while a status query waits; unsolicited bytes are dropped as they come.
  let reply: ((chunk: Buffer) => void) | undefined;

  const drop = (stale: Promise<SerialPort>): void => {
    if (port !== stale) return;
    port = undefined;
    void stale.then(closeSerialLine, () => undefined);
  };

  const open = (): Promise<SerialPort> => {
    if (port) return port;
    const opening = (async () => {
      const device = await locate(config.port, { subsystem: 'tty', what: 'power relay', board });
      const line = await openSerialLine(device, config.baud, board);
      line.on('data', (chunk: Buffer) => reply?.(chunk));
      line.on('error', () => drop(opening));
      line.on('close', () => drop(opening));
      return line;
    })();
    opening.catch(() => drop(opening));
    port = opening;
    return opening;
  };

  /** Runs one exchange on the open port; if the operation gives up on it, the port is closed so nothing of it lingers. */
  const exchange = async <T>(signal: AbortSignal, work: (line: SerialPort) => Promise<T>): Promise<T> => {
    const opening = open();
    const onAbort = (): void => drop(opening);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await untilAborted(opening.then(work), signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };

  const send = (line: SerialPort, bytes: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      line.write(bytes);
      line.drain((error) => (error ? reject(error) : resolve()));
    });

  return {
    device: `LCUS relay ${describeLocator(config.port)} channel ${config.channel}`,
    set: (on, signal) => exchange(signal, (line) => send(line, lcusFrame(config.channel, on))),
    ...(config.status
      ? {
          get: (signal: AbortSignal) =>
            exchange(signal, async (line) => {
              let text = '';
              let listener: ((chunk: Buffer) => void) | undefined;
              const answered = new Promise<boolean>((resolve) => {
                listener = (chunk) => {
                  text += chunk.toString('latin1');
                  const state = parseLcusStatus(text).get(config.channel);
                  if (state !== undefined) resolve(state);
                };
              });
              reply = listener;
              try {
                await send(line, Buffer.from([STATUS_QUERY]));
                return await untilAborted(answered, signal);
              } finally {
                if (reply === listener) reply = undefined;
              }
            }),
        }
      : {}),
    release: async () => {
      const current = port;
      port = undefined;
      if (current) await current.then(closeSerialLine, () => undefined);
    },
  };
}
