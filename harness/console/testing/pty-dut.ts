/**
 * A real program behind a real pty, reached the way the harness reaches a
 * QEMU guest: the program runs on one pty (with its line discipline, echo and
 * job control, like the guest's ttyS0), and a relay copies bytes to a second,
 * raw pty whose /dev/pts path we open with `serialport`, like `-chardev pty`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { SerialPort } from 'serialport';

const RELAY = String.raw`
import os, pty, select, sys, tty
pid, guest = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
host, host_slave = os.openpty()
tty.setraw(host_slave)
print(os.ttyname(host_slave), flush=True)
while True:
    ready, _, _ = select.select([guest, host], [], [])
    try:
        if guest in ready:
            data = os.read(guest, 4096)
            if not data:
                break
            os.write(host, data)
        if host in ready:
            os.write(guest, os.read(host, 4096))
    except OSError:
        break
`;

export interface PtyDut {
  port: SerialPort;
  path: string;
  relay: ChildProcess;
  /** Kills the relay (the guest side goes with it) and closes the port. */
  close(): Promise<void>;
}

export async function spawnPtyDut(argv: readonly string[], env: Record<string, string> = {}): Promise<PtyDut> {
  const relay = spawn('python3', ['-c', RELAY, ...argv], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/tmp', TERM: 'xterm-256color', ...env },
  });
  const [first] = (await once(relay.stdout!, 'data')) as [Buffer];
  const path = first.toString().trim();
  const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  return {
    port,
    path,
    relay,
    async close() {
      if (relay.exitCode === null && relay.signalCode === null) {
        relay.kill();
        await once(relay, 'exit');
      }
      if (port.isOpen) await new Promise((resolve) => port.close(resolve));
    },
  };
}
