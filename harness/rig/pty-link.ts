import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { registerCleanup } from '../proc/cleanup.ts';
import { findSetpriv } from '../proc/supervise.ts';

/**
 * The relay holds the slave side open itself, so the master never reads EIO
 * while no one (or someone reopening) has the device open: a USB-serial
 * adapter stays plugged in whether or not a program uses it. Writes towards
 * a slave whose input queue is full are dropped, as a UART with nobody
 * listening drops bytes, instead of blocking the board's side.
 */
const RELAY = String.raw`
import errno, os, select, sys, tty
link = sys.argv[1]
master, slave = os.openpty()
tty.setraw(slave)
os.set_blocking(master, False)
tmp = link + '.new'
try:
    os.unlink(tmp)
except FileNotFoundError:
    pass
os.symlink(os.ttyname(slave), tmp)
os.replace(tmp, link)
sys.stderr.write('ready\n')
sys.stderr.flush()
while True:
    ready, _, _ = select.select([master, 0], [], [])
    if master in ready:
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            data = b''
        if data:
            os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if not data:
            break
        try:
            os.write(master, data)
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise
`;

/** A pty whose slave is reachable at a fixed link path, as /dev/serial/by-id names an adapter. */
export class PtyLink {
  private constructor(
    readonly link: string,
    private readonly child: ChildProcess,
    private readonly unregister: () => void,
  ) {}

  static async open(link: string, onData: (chunk: Buffer) => void): Promise<PtyLink> {
    const setpriv = findSetpriv();
    const argv = [...(setpriv ? [setpriv, '--pdeathsig', 'KILL', '--'] : []), 'python3', '-c', RELAY, link];
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    const unregister = registerCleanup({ name: `pty link ${link}`, immediate: () => void child.kill('SIGKILL') });
    child.stdout?.on('data', onData);
    child.stdin?.on('error', () => undefined);
    const [first] = (await Promise.race([once(child.stderr!, 'data'), once(child, 'exit').then(() => [Buffer.from('exited')])])) as [Buffer];
    if (!first.toString().startsWith('ready')) {
      unregister();
      throw new Error(`could not create the pty at ${link}: ${first.toString().trim()}`);
    }
    return new PtyLink(link, child, unregister);
  }

  write(chunk: Buffer): void {
    if (this.child.exitCode === null) this.child.stdin?.write(chunk);
  }

  /**
   * The device goes away: the link first (as udev removes the node), then the
   * pty, so a link never points at a freed /dev/pts number another pty takes.
   */
  async close(): Promise<void> {
    await rm(this.link, { force: true });
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = once(this.child, 'exit');
      this.child.kill('SIGTERM');
      await exited;
    }
    this.unregister();
  }
}
