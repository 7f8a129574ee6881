import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { NetworkSerialConsole } from '../../boards/types.ts';
import type { ConsoleDriver } from '../../dut/drivers.ts';
import { DutError } from '../../errors.ts';
import { lastingConsole, type LastingOptions, type Line } from './lasting-console.ts';
import { comPortSession } from './telnet-rfc2217.ts';

/** A console server that does not answer by then is as unreachable as one that refuses. */
const CONNECT_MS = 10_000;
/** Probes a silent connection, so a console server that lost power is noticed, if slowly. */
const KEEPALIVE_MS = 15_000;

/**
 * A board's console on a serial port that another host serves with ser2net:
 * raw TCP carries the bytes as they are (the server's configuration sets the
 * baud rate); telnet with RFC 2217 lets us set it. A connection that drops
 * (the server restarted, the network went away) is dialled again.
 */
export function networkSerialConsole(config: NetworkSerialConsole, board: string, options: LastingOptions = {}): ConsoleDriver {
  const where = `${config.host}:${config.port}`;
  return lastingConsole(
    {
      async open(signal) {
        const socket = await dial(config.host, config.port, board, signal);
        let closing = false;
        let why = 'the server closed the connection';
        socket.on('error', (error) => {
          why = error.message;
        });
        const gone = new Promise<string>((resolve) => {
          socket.once('close', () => {
            if (!closing) resolve(why);
          });
        });
        const stream = await serialStream(socket, config, where, board);
        return {
          stream,
          name: `ser2net ${where} (${config.protocol})`,
          gone,
          async close() {
            closing = true;
            stream.destroy();
          },
        } satisfies Line;
      },
    },
    board,
    options,
  );
}

function dial(host: string, port: number, dut: string, signal: AbortSignal): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const fail = (error: Error): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      socket.destroy();
      reject(new DutError('console-lost', `cannot reach ser2net at ${host}:${port}: ${error.message}`, { dut, step: 'open console', cause: error }));
    };
    const timer = setTimeout(() => fail(new Error(`no answer within ${CONNECT_MS / 1000} s`)), CONNECT_MS);
    const abort = (): void => fail(new Error('aborted'));
    signal.addEventListener('abort', abort, { once: true });
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
      socket.off('error', fail);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, KEEPALIVE_MS);
      resolve(socket);
    });
  });
}

async function serialStream(socket: Socket, config: NetworkSerialConsole, where: string, board: string): Promise<Duplex> {
  if (config.protocol === 'raw') return socket;
  try {
    return await comPortSession(socket, { baud: config.baud, where, board });
  } catch (error) {
    socket.destroy();
    throw error;
  }
}
