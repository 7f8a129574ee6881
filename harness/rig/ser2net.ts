import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { freePort } from '../qemu/ports.ts';
import { startDaemon, type Daemon } from '../services/daemon.ts';

/**
 * Debian's ser2net serving a serial device on a TCP port, as a farm's
 * console server does: raw bytes, or telnet with RFC 2217 so the client sets
 * the line's baud rate.
 */
export class Ser2net {
  private constructor(
    readonly port: number,
    private readonly daemon: Daemon,
  ) {}

  static async start(options: { device: string; protocol: 'raw' | 'rfc2217'; baud: number; port?: number }): Promise<Ser2net> {
    const port = options.port ?? (await freePort());
    const accepter = options.protocol === 'rfc2217' ? `telnet(rfc2217),tcp,127.0.0.1,${port}` : `tcp,127.0.0.1,${port}`;
    const daemon = await startDaemon({
      what: `ser2net on TCP ${port}`,
      command: 'ser2net',
      async args(dir) {
        const config = path.join(dir, 'ser2net.yaml');
        await writeFile(
          config,
          [
            'connection: &console',
            `  accepter: ${accepter}`,
            `  connector: serialdev,${options.device},${options.baud}n81,local`,
            '  options:',
            // A harness that redials after a dropped link must not find its own dead session holding the port.
            '    kickolduser: true',
            '',
          ].join('\n'),
        );
        return ['-n', '-d', '-c', config];
      },
      ready: () => accepts(port),
    });
    return new Ser2net(port, daemon);
  }

  stop(): Promise<void> {
    return this.daemon.stop();
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
