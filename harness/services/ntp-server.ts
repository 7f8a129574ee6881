import { createSocket } from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startDaemon, type Daemon } from './daemon.ts';

/** NTP's port: a DUT's chrony asks servers named in config.json there and nowhere else. */
export const NTP_PORT = 123;

/**
 * Debian's chronyd serving this host's clock over NTP, as a farm's time
 * server would: it never adjusts the host clock (-x), has no sources of its
 * own and answers at a fixed stratum, so a DUT syncs to exactly this host.
 */
export function startNtpServer(): Promise<Daemon> {
  return startDaemon({
    what: `chronyd serving NTP on UDP ${NTP_PORT}`,
    command: 'chronyd',
    async args(dir) {
      const config = path.join(dir, 'chrony.conf');
      await writeFile(config, [`port ${NTP_PORT}`, 'allow all', 'local stratum 8', 'cmdport 0', `pidfile ${path.join(dir, 'chronyd.pid')}`, ''].join('\n'));
      return ['-d', '-x', '-u', 'root', '-f', config];
    },
    ready: () => ntpAnswers('127.0.0.1', NTP_PORT),
  });
}

/** One SNTP client request (RFC 4330: version 4, mode 3): true when a server-mode reply comes back. */
export function ntpAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('message', (reply) => done(reply.length >= 48 && ((reply[0] ?? 0) & 0x7) === 4));
    socket.on('error', () => done(false));
    const request = Buffer.alloc(48);
    request[0] = (4 << 3) | 3;
    socket.send(request, port, host);
  });
}
