/**
 * The Transport protocol a DUT binds: run a command, move a file each way,
 * close. A QEMU board and a physical board bind the same implementations
 * (SSH over the network, or the serial console when the network is down), so
 * a suite never knows which one carries it.
 *
 * Errors are DutErrors carrying the DUT and the step. A command exiting
 * non-zero is not an error (exitCode says it); a timeout (`timeout`), a lost
 * connection (`console-lost`) or a failed transfer (TransferError) is.
 */
import { DutError, type DutErrorOptions } from '../errors.ts';

export interface ExecResult {
  stdout: string;
  /** Always '' over a serial line, where stdout and stderr arrive merged in `stdout`. */
  stderr: string;
  /** The exit status; 128+n when a signal n ended the command, as a shell reports it. */
  exitCode: number;
  durationMs: number;
  /** The signal that ended the command, when the transport can tell (SSH). */
  signal?: NodeJS.Signals;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Aborting ends the operation on the DUT too (its command killed), then it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Names the step in errors: "dut qemu-1, step hup: ...". */
  step?: string;
}

export interface PutOptions {
  timeoutMs?: number;
  /** Aborting ends the operation on the DUT too (its command killed), then it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Permission bits of the remote file (e.g. 0o755); without it the DUT's default applies. */
  mode?: number;
  step?: string;
}

export interface GetOptions {
  timeoutMs?: number;
  /** Aborting ends the operation on the DUT too (its command killed), then it rejects with the signal's reason. */
  signal?: AbortSignal;
  step?: string;
}

export interface Transport {
  readonly kind: 'ssh' | 'serial';
  /** The DUT this transport reaches, as errors name it. */
  readonly dut: string;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Copies a local file to the DUT; the remote path only ever holds the whole, verified file. */
  put(localPath: string, remotePath: string, options?: PutOptions): Promise<void>;
  /** Copies a file from the DUT; the local path only ever holds the whole, verified file. */
  get(remotePath: string, localPath: string, options?: GetOptions): Promise<void>;
  close(): Promise<void>;
}

/** What one transfer took, for the report and the debug log. */
export interface TransferStats {
  direction: 'put' | 'get';
  remotePath: string;
  bytes: number;
  durationMs: number;
  bytesPerSecond: number;
  /** How the bytes travelled: 'sftp', 'exec-stream', 'base64', 'octal', 'od'. */
  method: string;
}

export type TransferFailure =
  | 'checksum' // the bytes arrived, but not the bytes that were sent
  | 'size' // the file arrived shorter or longer than sent
  | 'encoding' // the text read back is not valid base64/hex
  | 'missing-tool' // the DUT lacks every tool a method needs
  | 'remote' // a command on the DUT or the SFTP server refused (no such file, no space, permission)
  | 'local'; // reading or writing the local file failed

/**
 * A transfer that did not deliver the file intact. The kind is `tool`: the
 * transfer machinery failed, not the device under test. `failure` tells which
 * check failed; a mismatch carries both sides.
 */
export class TransferError extends DutError {
  readonly failure: TransferFailure;
  readonly remotePath: string;
  readonly expected: string | undefined;
  readonly actual: string | undefined;
  constructor(
    reason: TransferFailure,
    remotePath: string,
    message: string,
    options: DutErrorOptions & { expected?: string; actual?: string } = {},
  ) {
    super('tool', `transfer of ${remotePath}: ${message}`, options);
    this.name = 'TransferError';
    this.failure = reason;
    this.remotePath = remotePath;
    this.expected = options.expected;
    this.actual = options.actual;
  }
}

/** Bytes per second, rounded, for notes; the duration never divides by zero. */
export function transferStats(
  direction: 'put' | 'get',
  remotePath: string,
  bytes: number,
  durationMs: number,
  method: string,
): TransferStats {
  return { direction, remotePath, bytes, durationMs, bytesPerSecond: Math.round((bytes * 1000) / Math.max(1, durationMs)), method };
}

export function describeStats(stats: TransferStats): string {
  const rate = stats.bytesPerSecond >= 1 << 20 ? `${(stats.bytesPerSecond / (1 << 20)).toFixed(1)} MiB/s` : `${(stats.bytesPerSecond / 1024).toFixed(1)} KiB/s`;
  return `${stats.direction} ${stats.remotePath}: ${stats.bytes} bytes in ${stats.durationMs} ms (${rate}, ${stats.method})`;
}
