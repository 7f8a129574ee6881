import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnSupervised, type Supervised } from '../proc/supervise.ts';
import { freePort } from '../qemu/ports.ts';

/**
 * Debian's ser2net serving a serial device on a TCP port, as a farm's
 * console server does: raw bytes, or telnet with RFC 2217 so the client sets
 * the line's baud rate.
 */
export class Ser2net {
  private constructor(
    readonly port: number,
    private readonly child: Supervised,
    private readonly dir: string,
  ) {}

  static async start(options: { device: string; protocol: 'raw' | 'rfc2217'; baud: number; port?: number }): Promise<Ser2net> {
    const port = options.port ?? (await freePort());
    const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-ser2net-'));
    const config = path.join(dir, 'ser2net.yaml');
    const accepter = options.protocol === 'rfc2217' ? `telnet(rfc2217),tcp,127.0.0.1,${port}` : `tcp,127.0.0.1,${port}`;
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
    const child = spawnSupervised('ser2net', ['-n', '-d', '-c', config], { name: `ser2net :${port}` });
    const server = new Ser2net(port, child, dir);
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitInfo() || Date.now() > deadline) {
        const tail = child.outputTail(10);
        await server.stop();
        throw new Error(`ser2net did not start serving port ${port}: ${tail}`);
      }
      await sleep(100);
    }
    return server;
  }

  async stop(): Promise<void> {
    await this.child.terminate({ termMs: 2000, killMs: 2000 }).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
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
