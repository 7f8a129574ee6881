/**
 * A private OpenSSH server on loopback, for the SSH transport's tests: its own
 * config, host key, authorized_keys and pid file in a temporary directory,
 * run in the foreground (`sshd -D -e`) under the harness's supervisor (own
 * process group, killed if the harness dies, in the clean-up registry).
 *
 * sshd forks a process per connection and that process calls setsid(), so
 * stopping it means killing the whole tree by parentage, not just the group:
 * that is how the tests drop a live connection.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRunning, signalPid, waitUntilGone } from '../../proc/pids.ts';
import { spawnSupervised, type Supervised } from '../../proc/supervise.ts';
import { freePort } from '../../qemu/ports.ts';

export const SSHD = '/usr/sbin/sshd';

export interface TestSshdOptions {
  /** authorized_keys line(s) for root. */
  publicKey: string;
  /** Offer the SFTP subsystem. Default true. */
  sftp?: boolean;
  port?: number;
}

export class TestSshd {
  readonly dir: string;
  private server: Supervised | undefined;
  private log = '';

  private constructor(
    readonly port: number,
    private readonly options: TestSshdOptions,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'dutlab-sshd-'));
    writeFileSync(join(this.dir, 'authorized_keys'), `${options.publicKey}\n`, { mode: 0o600 });
    this.newHostKey();
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(this.dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${join(this.dir, 'authorized_keys')}`,
      `PidFile ${join(this.dir, 'sshd.pid')}`,
      'PermitRootLogin prohibit-password',
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PrintMotd no',
      'LogLevel VERBOSE',
      'MaxStartups 100',
      ...(options.sftp === false ? [] : ['Subsystem sftp internal-sftp']),
    ];
    writeFileSync(join(this.dir, 'sshd_config'), `${config.join('\n')}\n`);
  }

  /** A server on a free loopback port, not yet started. */
  static async create(options: TestSshdOptions): Promise<TestSshd> {
    return new TestSshd(options.port ?? (await freePort()), options);
  }

  get pid(): number | undefined {
    return this.server?.pid;
  }

  /** What sshd logged (stderr, -e). */
  get output(): string {
    return this.log;
  }

  /** Starts sshd; resolves once it listens. */
  async start(): Promise<void> {
    if (this.server && !this.server.exitInfo()) throw new Error('sshd already running');
    // The privilege separation directory, which Debian's sshd needs and systemd would make.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const server = spawnSupervised(SSHD, ['-D', '-e', '-f', join(this.dir, 'sshd_config')], { name: `test sshd :${this.port}` });
    this.server = server;
    server.onOutput((text) => (this.log += text));
    const listening = new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.log.includes(`Server listening on 127.0.0.1 port ${this.port}`)) resolve();
      };
      server.onOutput(check);
      check();
      void server.exited.then((info) => reject(new Error(`sshd exited (${JSON.stringify(info)}):\n${server.outputTail(20)}`)));
      setTimeout(() => reject(new Error(`sshd not listening after 10 s:\n${server.outputTail(20)}`)), 10_000).unref();
    });
    await listening;
  }

  /**
   * SIGKILLs sshd and every process it forked: live connections drop, the way
   * they do when a DUT vanishes. The listener is stopped first, so no
   * connection is accepted (and no session forked) while the tree is killed:
   * a client redialling at once must find nobody. The per-connection sshds go
   * before what they run, so the connection dies before a command's exit
   * could be reported. Their zombies pass to init with the listener.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server || server.exitInfo()) return;
    signalPid(server.pid, 'SIGSTOP');
    const tree = descendants(server.pid);
    const sessions = tree.filter((pid) => parentOf(pid) === server.pid);
    for (const pid of sessions) signalPid(pid, 'SIGKILL');
    for (const pid of tree) if (!sessions.includes(pid)) signalPid(pid, 'SIGKILL');
    signalPid(server.pid, 'SIGKILL');
    // exited waits for sshd's output pipe too, which a process that escaped would hold open: bounded.
    let timer: NodeJS.Timeout | undefined;
    const exited = await Promise.race([
      server.exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), 5000);
      }),
    ]);
    clearTimeout(timer);
    if (!exited) throw new Error(`sshd :${this.port} not gone 5 s after SIGKILL; still running: ${descendants(server.pid).join(' ') || 'none found'}`);
    for (const pid of tree) await waitUntilGone(pid, 2000);
  }

  /** A new host key for the next start, as a root filesystem update brings. */
  newHostKey(): void {
    const key = join(this.dir, 'host_ed25519');
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dutlab-test-host', '-f', key]);
  }

  /** `ssh-keygen -l` of the current host key: `SHA256:...`. */
  hostFingerprint(): string {
    const line = execFileSync('ssh-keygen', ['-l', '-f', join(this.dir, 'host_ed25519.pub')], { encoding: 'utf8' });
    return line.split(' ')[1] ?? '';
  }

  /** Stops the server and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The parent pid, from /proc; undefined once the process is gone. */
export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Running pids whose parent chain leads to `root`, parents before children, from /proc. */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    const ppid = Number.isInteger(pid) ? parentOf(pid) : undefined;
    if (ppid !== undefined) parents.set(pid, ppid);
  }
  const found: number[] = [];
  const wanted = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (wanted.has(ppid) && !wanted.has(pid)) {
        wanted.add(pid);
        found.push(pid);
        grew = true;
      }
    }
  }
  return found.filter((pid) => isRunning(pid));
}
