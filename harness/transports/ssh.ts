/**
 * The SSH transport: commands on exec channels (stdout, stderr and exit code
 * apart), files over SFTP (or exec streams where there is no SFTP).
 *
 * Across reboots: `connect()` and `reconnect()` dial until a deadline. An
 * operation that finds the connection already gone reconnects first (nothing
 * of it has run yet). A connection lost *during* an operation is re-tried
 * once only for idempotent work (put, get, exec with `idempotent: true`); any
 * other exec reports `console-lost`, since it may or may not have run.
 */
import ssh2 from 'ssh2';
import { DutError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { fileMethod, getFile, putFile, type FileContext, type FileMethod } from './ssh-files.ts';
import { runOnLink } from './ssh-exec.ts';
import type { HostKeySeen } from './ssh-keys.ts';
import { dialUntil, type DialOptions, type SshLink } from './ssh-link.ts';
import {
  describeStats,
  transferStats,
  type ExecOptions,
  type ExecResult,
  type GetOptions,
  type PutOptions,
  type TransferStats,
  type Transport,
} from './types.ts';

export interface SshConnectOptions {
  host: string;
  /** 22222 on balenaOS. */
  port: number;
  /** root, as on balenaOS. */
  username?: string;
  /** OpenSSH-format private key, e.g. from generateRunKey(). */
  privateKey: string | Buffer;
  dut: string;
  /** How long connect() and reconnect() keep dialling. Default 120 s. */
  deadlineMs?: number;
  /** Bound on one dial's TCP connect and handshake. Default 15 s. */
  attemptTimeoutMs?: number;
  /** Keep-alive period; `keepaliveCountMax` unanswered ones mean the DUT hung. Default 5 s × 3. */
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Timeout of an exec that names none. Default 60 s. */
  timeoutMs?: number;
  /** Timeout of a put/get that names none. Default 300 s. */
  transferTimeoutMs?: number;
  /** Receives progress notes: connections, host keys, transfers and their rates. */
  note?: (text: string) => void;
}

export interface SshExecOptions extends ExecOptions {
  /** Safe to run twice: a connection lost mid-command reconnects and runs it again, once. */
  idempotent?: boolean;
}

export interface ReconnectOptions {
  /** Defaults to the transport's `deadlineMs`. */
  deadlineMs?: number;
  step?: string;
}

export class SshTransport implements Transport {
  readonly kind = 'ssh' as const;
  readonly dut: string;
  /** Every host key the DUT presented, one entry per change (a HUP brings a new one). */
  readonly hostKeys: HostKeySeen[] = [];
  /** Every completed transfer, with its rate. */
  readonly transfers: TransferStats[] = [];
  private readonly dial: DialOptions;
  private readonly deadlineMs: number;
  private readonly timeoutMs: number;
  private readonly transferTimeoutMs: number;
  private readonly note: (text: string) => void;
  private link: SshLink | undefined;
  private connecting: Promise<SshLink> | undefined;
  private method: { link: SshLink; method: Promise<FileMethod> } | undefined;
  private closed = false;
  /** Numbers the commands in the transcript, where concurrent ones interleave. */
  private commands = 0;

  private constructor(options: SshConnectOptions) {
    this.dut = options.dut;
    this.dial = {
      host: options.host,
      port: options.port,
      username: options.username ?? 'root',
      privateKey: options.privateKey,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 15_000,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 5000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
    };
    this.deadlineMs = options.deadlineMs ?? 120_000;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.transferTimeoutMs = options.transferTimeoutMs ?? 300_000;
    this.note = options.note ?? (() => undefined);
  }

  /** Dials until connected or `deadlineMs` passes (a `timeout` DutError naming the last failure). */
  static async connect(options: SshConnectOptions): Promise<SshTransport> {
    const parsed = ssh2.utils.parseKey(options.privateKey);
    if (parsed instanceof Error) throw new DutError('config', `the SSH private key cannot be used: ${parsed.message}`, { dut: options.dut, step: 'ssh connect' });
    const transport = new SshTransport(options);
    await transport.reconnect({ step: 'ssh connect' });
    return transport;
  }

  /** The host key of the current connection. */
  get hostKey(): HostKeySeen | undefined {
    return this.link?.hostKey;
  }

  /** True while the current connection is up. */
  get connected(): boolean {
    return this.link?.alive ?? false;
  }

  /** Drops the current connection (if any) and dials anew until the deadline; e.g. after a reboot. */
  reconnect(options: ReconnectOptions = {}): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError(options.step ?? 'ssh reconnect'));
    if (!this.connecting) {
      this.link?.end('replaced by a new connection');
      this.link = undefined;
      const dialling = dialUntil(this.dial, {
        deadlineMs: options.deadlineMs ?? this.deadlineMs,
        dut: this.dut,
        step: options.step ?? 'ssh reconnect',
        note: this.note,
      });
      this.connecting = dialling;
      dialling.then(
        (link) => {
          this.connecting = undefined;
          if (this.closed) return link.end();
          this.link = link;
          this.recordHostKey(link.hostKey);
          link.onLost((reason) => this.note(`ssh: connection lost: ${reason}`));
        },
        () => {
          this.connecting = undefined;
        },
      );
    }
    return this.connecting.then(() => undefined);
  }

  async exec(command: string, options: SshExecOptions = {}): Promise<ExecResult> {
    const step = options.step ?? 'exec';
    const id = ++this.commands;
    const run = async (): Promise<ExecResult> => {
      const link = await this.live(step);
      // As the serial shell does: the transcript is the run's timeline over either transport.
      this.note(`ssh #${id}: ${command}`);
      const started = Date.now();
      const raw = await runOnLink(link, command, {
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
        dut: this.dut,
        step,
        ...(options.signal ? { signal: options.signal } : {}),
      }).catch((error: unknown) => {
        // A command that timed out or lost its connection ends in the timeline too; the error goes on as it was.
        this.note(`ssh #${id} ended without an exit code after ${Date.now() - started} ms: ${error instanceof Error ? error.message : String(error)}`);
        throw error;
      });
      const result: ExecResult = { stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8'), exitCode: raw.exitCode, durationMs: raw.durationMs };
      if (raw.signal) result.signal = raw.signal;
      this.note(`ssh #${id} ${raw.signal ? `killed by ${raw.signal}` : `exited ${raw.exitCode}`} after ${Math.round(raw.durationMs)} ms`);
      return result;
    };
    return options.idempotent ? this.retryOnce(step, run) : run();
  }

  async put(localPath: string, remotePath: string, options: PutOptions = {}): Promise<void> {
    const step = options.step ?? `put ${remotePath}`;
    const started = Date.now();
    // A transfer cut short leaves at most its temporary file behind: the remote path only ever holds a whole file.
    const { bytes, method } = await untilAborted(
      this.retryOnce(step, async () => {
        const context = await this.fileContext(step, options.timeoutMs);
        const method = await this.fileMethod(context);
        return { bytes: await putFile(context, method, localPath, remotePath, options.mode), method };
      }),
      options.signal,
    );
    this.recordTransfer(transferStats('put', remotePath, bytes, Date.now() - started, method));
  }

  async get(remotePath: string, localPath: string, options: GetOptions = {}): Promise<void> {
    const step = options.step ?? `get ${remotePath}`;
    const started = Date.now();
    const { bytes, method } = await untilAborted(
      this.retryOnce(step, async () => {
        const context = await this.fileContext(step, options.timeoutMs);
        const method = await this.fileMethod(context);
        return { bytes: await getFile(context, method, remotePath, localPath), method };
      }),
      options.signal,
    );
    this.recordTransfer(transferStats('get', remotePath, bytes, Date.now() - started, method));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.link?.end();
    this.link = undefined;
    await this.connecting?.catch(() => undefined);
  }

  /** The live link; a link already lost is replaced first (the caller's work has not started). */
  private async live(step: string): Promise<SshLink> {
    if (this.closed) throw this.closedError(step);
    if (this.link?.alive) return this.link;
    if (this.link) this.note(`ssh: reconnecting before ${step}; the connection was lost: ${this.link.lostReason ?? ''}`);
    await this.reconnect({ step });
    if (!this.link) throw this.closedError(step);
    return this.link;
  }

  /** Runs idempotent work; a connection lost during it reconnects and runs it once more. */
  private async retryOnce<T>(step: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof DutError) || error.kind !== 'console-lost' || this.closed) throw error;
      this.note(`ssh: ${error.message}; reconnecting and retrying once (idempotent)`);
      await this.reconnect({ step });
      return work();
    }
  }

  private async fileContext(step: string, timeoutMs: number | undefined): Promise<FileContext> {
    const link = await this.live(step);
    return { link, dut: this.dut, step, deadline: Date.now() + (timeoutMs ?? this.transferTimeoutMs), note: this.note };
  }

  /** SFTP or exec streams, decided once per connection. */
  private fileMethod(context: FileContext): Promise<FileMethod> {
    if (this.method?.link !== context.link) this.method = { link: context.link, method: fileMethod(context) };
    const decided = this.method.method;
    decided.catch(() => {
      if (this.method?.method === decided) this.method = undefined;
    });
    return decided;
  }

  private recordHostKey(key: HostKeySeen): void {
    const last = this.hostKeys.at(-1);
    if (last?.fingerprint === key.fingerprint) return;
    if (last) this.note(`ssh: host key changed from ${last.type} ${last.fingerprint} to ${key.type} ${key.fingerprint} (not pinned)`);
    this.hostKeys.push(key);
  }

  private recordTransfer(stats: TransferStats): void {
    this.transfers.push(stats);
    this.note(`ssh: ${describeStats(stats)}`);
  }

  private closedError(step: string): DutError {
    return new DutError('console-lost', 'the SSH transport was closed by the harness', { dut: this.dut, step });
  }
}
