/**
 * How the harness reaches a DUT over its network: SSH dialled after a boot
 * and held to the boot the console logged in to, and this host's endpoints
 * of the DUT's ports, resolved by the board's network driver.
 */
import type { Transcript } from '../console/index.ts';
import { DutError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { SshTransport, type RunKey, type SerialTransport } from '../transports/index.ts';
import type { BoundBoard, NetworkDriver, NetworkEndpoint } from './drivers.ts';
import { diagnoseSsh, SSH_DIAGNOSIS_INTERVAL_MS } from './ssh-diagnosis.ts';

export const BOOT_ID = 'cat /proc/sys/kernel/random/boot_id';

/** What network access needs of its DUT; read when used, since the shell and the key change across boots and resumes. */
export interface NetworkAccessHost {
  name: string;
  board: BoundBoard;
  transcript: Transcript;
  /** How long SSH is dialled after a boot before the DUT is diagnosed over serial. */
  dialMs: number;
  runKey(): RunKey | undefined;
  /** The console shell of this boot, if logged in on the console. */
  serial(): SerialTransport | undefined;
  /** The console's recent text, for errors. */
  recentText(): string;
}

export class NetworkAccess {
  private ssh: SshTransport | undefined;
  /** Set when SSH was diagnosed unreachable in this boot: later SSH requests fail at once with it. */
  private down: DutError | undefined;

  constructor(private readonly host: NetworkAccessHost) {}

  /** SSH was found unreachable in this boot. */
  get sshUnreachable(): boolean {
    return this.down !== undefined;
  }

  /** A new boot: SSH may answer again. */
  newBoot(): void {
    this.down = undefined;
  }

  /**
   * Dials until sshd answers with a boot id other than `previous` and keeps
   * that connection; returns the new boot id. Before a reboot takes sshd
   * down, the old boot may still answer.
   */
  async waitForBoot(previous: string | undefined, timeoutMs: number, step: string): Promise<string> {
    const { name, board, transcript } = this.host;
    const deadline = Date.now() + timeoutMs;
    const endpoint = await this.sshEndpoint();
    this.down = undefined;
    for (;;) {
      const left = deadline - Date.now();
      const ssh =
        left > 0
          ? await board.whileAlive(this.connect(endpoint, left)).catch((error: unknown) => {
              if (error instanceof DutError && error.kind === 'timeout') return undefined;
              throw error;
            })
          : undefined;
      if (!ssh) {
        throw new DutError('timeout', `no${previous ? ' new' : ''} boot answered over SSH within ${Math.round(timeoutMs / 1000)} s${previous ? ` (the last boot id was ${previous})` : ''}`, {
          dut: name,
          step,
          excerpt: this.host.recentText(),
        });
      }
      const id = await ssh.exec(BOOT_ID, { timeoutMs: 30_000, step: `${step}: boot id` }).catch(() => undefined);
      const bootId = id?.exitCode === 0 ? id.stdout.trim() : undefined;
      if (bootId && bootId !== previous) {
        this.ssh = ssh;
        transcript.info(`${step}: boot ${bootId} answers over SSH`);
        return bootId;
      }
      await ssh.close().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }

  /**
   * The SSH transport of boot `bootId`: the live connection, or a new one.
   * A lost connection is not redialled behind the caller's back without a
   * check: a dead link may mean the DUT rebooted, which the boot id tells.
   */
  async transport(bootId: string | undefined, signal: AbortSignal): Promise<SshTransport> {
    if (this.down) throw this.down;
    if (this.ssh?.connected) return this.ssh;
    if (this.ssh) {
      this.host.transcript.info('ssh: the connection was lost; dialling again and checking the boot id');
      await this.drop();
    }
    this.ssh = await this.dial(bootId, signal);
    return this.ssh;
  }

  /** After a reboot the connection is dead anyway; the next SSH request dials again. */
  async drop(): Promise<void> {
    const ssh = this.ssh;
    this.ssh = undefined;
    await ssh?.close().catch(() => undefined);
  }

  /** Where the DUT's sshd is reachable (a static address, a DHCP lease, or the DUT asked over its console). */
  sshEndpoint(signal?: AbortSignal): Promise<NetworkEndpoint> {
    return this.network('ssh endpoint').endpoint(this.askConsole('ssh endpoint', signal), signal);
  }

  /** Where this host reaches the DUT's TCP `port`, e.g. the engine's 2375. */
  reach(port: number, signal?: AbortSignal): Promise<NetworkEndpoint> {
    const step = `port ${port}`;
    return this.network(step).reach(port, this.askConsole(step, signal), signal);
  }

  private connect(endpoint: NetworkEndpoint, deadlineMs: number): Promise<SshTransport> {
    const { name, transcript } = this.host;
    const key = this.host.runKey();
    if (!key) throw new DutError('config', 'SSH is not available on this board: no run key', { dut: name, step: 'ssh' });
    return SshTransport.connect({ ...endpoint, privateKey: key.privateKey, dut: name, deadlineMs, note: (text) => transcript.info(text) });
  }

  /**
   * Dials sshd after a boot, with a deadline (sshd starts after the serial
   * login). Meanwhile the serial console is asked whether waiting makes sense:
   * once the system has finished booting and nothing listens on the SSH port,
   * dialling on is pointless, and the error says what was found. The boot id
   * over SSH must be `bootId`, the one the console logged in to: a different
   * one is a reset nobody asked for.
   */
  private async dial(bootId: string | undefined, signal: AbortSignal): Promise<SshTransport> {
    const { name, board } = this.host;
    if (!this.host.runKey() || !board.network) throw new DutError('config', 'SSH is not available on this board', { dut: name, step: 'ssh' });
    const started = Date.now();
    const endpoint = await this.sshEndpoint(signal);
    const dialling = board.whileAlive(this.connect(endpoint, this.host.dialMs));
    const serial = this.host.serial();
    // Ends the serial watch with the dial, or with the caller: no console wait may outlive this request.
    const done = new AbortController();
    const watching = serial ? this.watchFromSerial(serial, AbortSignal.any([done.signal, signal])) : new Promise<never>(() => undefined);
    let ssh: SshTransport;
    try {
      ssh = await untilAborted(Promise.race([dialling, watching]), signal);
    } catch (error) {
      void dialling.then((late) => late.close(), () => undefined);
      if (error instanceof DutError && error.kind === 'ssh-unreachable') throw (this.down = error);
      if (error instanceof DutError && error.kind === 'timeout' && serial) {
        done.abort();
        const found = await diagnoseSsh(serial, signal).catch((e: unknown) => ({ hopeless: false, text: `serial diagnosis failed: ${String(e)}` }));
        throw (this.down = new DutError('ssh-unreachable', `sshd not reachable for ${Math.round((Date.now() - started) / 1000)} s (${error.reason}); over the serial console: ${found.text}`, {
          dut: name,
          step: 'ssh connect',
          excerpt: found.text,
          cause: error,
        }));
      }
      throw error;
    } finally {
      done.abort();
    }
    const id = await ssh.exec(BOOT_ID, { timeoutMs: 30_000, step: 'ssh connect: boot id', signal });
    if (bootId && id.exitCode === 0 && id.stdout.trim() !== bootId) {
      await ssh.close();
      throw new DutError('reset', `the DUT rebooted without being asked: its boot id is ${id.stdout.trim()}, the console logged in to ${bootId}`, {
        dut: name,
        step: 'ssh connect',
        excerpt: this.host.recentText(),
      });
    }
    return ssh;
  }

  /**
   * Rejects with ssh-unreachable as soon as the console says the OS booted
   * and nothing listens for SSH, or with the reset or panic the console saw
   * meanwhile (a DUT that went away is why SSH does not answer).
   */
  private async watchFromSerial(serial: SerialTransport, stop: AbortSignal): Promise<never> {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, SSH_DIAGNOSIS_INTERVAL_MS));
      if (stop.aborted) return new Promise<never>(() => undefined);
      const found = await diagnoseSsh(serial, stop).catch((error: unknown) => {
        if (error instanceof DutError && (error.kind === 'reset' || error.kind === 'panic')) throw error;
        return undefined;
      });
      if (stop.aborted) return new Promise<never>(() => undefined);
      if (found?.hopeless) {
        throw new DutError('ssh-unreachable', `sshd is not reachable and will not be: ${found.text}`, { dut: this.host.name, step: 'ssh connect', excerpt: found.text });
      }
    }
  }

  private network(step: string): NetworkDriver {
    if (!this.host.board.network) throw new DutError('config', 'the board has no network', { dut: this.host.name, step });
    return this.host.board.network;
  }

  /** How a network driver asks the DUT for its address: a command on the console shell. */
  private askConsole(step: string, signal: AbortSignal | undefined): (command: string) => Promise<string> {
    const serial = this.host.serial();
    return async (command) => {
      if (!serial) throw new DutError('console-lost', 'no shell on the console to ask for the address', { dut: this.host.name, step });
      const result = await serial.exec(command, { timeoutMs: 30_000, step, ...(signal ? { signal } : {}) });
      return result.stdout;
    };
  }
}
