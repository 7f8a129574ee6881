/**
 * The serial transport: the console's Shell as a Transport, for when the
 * network is down. stdout and stderr arrive merged (a serial line cannot
 * tell them apart), so `stderr` is always ''.
 *
 * Files travel as text. put: blocks of a few KB, each one command appending
 * `base64 -d` of a here-document (or printf octal escapes where there is no
 * base64) to a temporary file; then the DUT's size and sha256 (md5 without
 * sha256sum) of it must equal ours before it gets its mode and is renamed
 * into place. get: the DUT's size and checksum, then `base64 < file` (or
 * `od`) read back, strictly decoded and checked before the local file is
 * written. A transfer that fails a check throws a TransferError; it is not
 * silently retried.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { Shell } from '../console/shell.ts';
import { DutError, tail } from '../errors.ts';
import {
  BASE64_LINE_BYTES,
  CHECKSUM_TOOLS,
  decode,
  parseSizeAndSum,
  probeToolsCommand,
  readFileCommand,
  sizeAndSumCommand,
  writeBlockCommand,
  type Checksum,
  type Encoding,
} from './serial-codec.ts';
import { posixQuote } from './shell-words.ts';
import {
  describeStats,
  TransferError,
  transferStats,
  type ExecOptions,
  type ExecResult,
  type GetOptions,
  type PutOptions,
  type TransferStats,
  type Transport,
} from './types.ts';

export interface SerialTransportOptions {
  shell: Shell;
  /** The DUT's name in errors; the console's name by default. */
  dut?: string;
  /** Timeout of an exec that names none; the Shell's own default otherwise. */
  timeoutMs?: number;
  /** Raw bytes per put command. Default 64 lines of base64 (3,648 bytes, ~5 KB of text). */
  blockBytes?: number;
  /** Force an encoding (tests, measurements); 'auto' picks base64 when the DUT has it. */
  encoding?: 'auto' | Encoding;
  /** Force a checksum; 'auto' picks sha256, else md5. */
  checksum?: 'auto' | Checksum;
  /**
   * Line rate assumed for the default timeout of a put/get, in bytes of text
   * per second: a 115200-baud UART carries ~11 KB/s; the default leaves room.
   */
  assumedBytesPerSecond?: number;
  /** Receives notes (tools found, transfer rates); they also go to the console's transcript. */
  note?: (text: string) => void;
}

interface Facts {
  size: number;
  sum: string;
}

function facts(checksum: Checksum, data: Buffer): Facts {
  return { size: data.length, sum: createHash(checksum).update(data).digest('hex') };
}

interface Tools {
  encoding: Encoding;
  checksum: Checksum;
}

const DEFAULT_BLOCK_LINES = 64;
// Printing a file takes one command; beyond this the Shell would drop output.
const MAX_GET_BYTES = 8 << 20;

export class SerialTransport implements Transport {
  readonly kind = 'serial' as const;
  readonly dut: string;
  /** Every completed transfer, with its rate. */
  readonly transfers: TransferStats[] = [];
  private readonly shell: Shell;
  private readonly options: SerialTransportOptions;
  private readonly blockBytes: number;
  private tools: Promise<Tools> | undefined;
  private closed = false;

  constructor(options: SerialTransportOptions) {
    this.shell = options.shell;
    this.options = options;
    this.dut = options.dut ?? options.shell.console.name;
    // Whole base64 lines per block, so every line but a file's last is full.
    const lines = Math.max(1, Math.floor((options.blockBytes ?? DEFAULT_BLOCK_LINES * BASE64_LINE_BYTES) / BASE64_LINE_BYTES));
    this.blockBytes = lines * BASE64_LINE_BYTES;
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    this.checkOpen(options.step ?? 'exec');
    const result = await this.shell.run(command, {
      timeoutMs: options.timeoutMs ?? this.options.timeoutMs,
      step: options.step,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { stdout: result.output, stderr: '', exitCode: result.exitCode, durationMs: result.durationMs };
  }

  async put(localPath: string, remotePath: string, options: PutOptions = {}): Promise<void> {
    const step = options.step ?? `put ${remotePath}`;
    this.checkOpen(step);
    const started = Date.now();
    const data = await this.readLocal(localPath, remotePath, step);
    const deadline = started + (options.timeoutMs ?? this.defaultTimeout(data.length));
    const tools = await this.findTools(step, deadline);
    const part = `${remotePath}.dutlab-${randomBytes(4).toString('hex')}`;
    let blocks = 0;
    try {
      for (let at = 0; at === 0 || at < data.length; at += this.blockBytes) {
        const block = data.subarray(at, at + this.blockBytes);
        const command = block.length ? writeBlockCommand(tools.encoding, block, part, at === 0) : `: > ${posixQuote(part)}`;
        const label = `writing block ${++blocks} (bytes ${at}-${at + block.length}) of ${remotePath}`;
        await this.mustRun(command, label, step, deadline, remotePath, options.signal);
      }
      await this.verify(tools.checksum, part, remotePath, data, step, deadline);
      const chmod = options.mode === undefined ? '' : `chmod ${options.mode.toString(8)} ${posixQuote(part)} && `;
      await this.mustRun(`${chmod}mv -f ${posixQuote(part)} ${posixQuote(remotePath)}`, `installing ${remotePath}`, step, deadline, remotePath);
    } catch (error) {
      await this.shell.run(`rm -f ${posixQuote(part)}`, { timeoutMs: 5000, step }).catch(() => undefined);
      throw error;
    }
    this.record(transferStats('put', remotePath, data.length, Date.now() - started, `${tools.encoding}, ${blocks} blocks, ${tools.checksum}`));
  }

  async get(remotePath: string, localPath: string, options: GetOptions = {}): Promise<void> {
    const step = options.step ?? `get ${remotePath}`;
    this.checkOpen(step);
    const started = Date.now();
    let deadline = started + (options.timeoutMs ?? this.defaultTimeout(0));
    const tools = await this.findTools(step, deadline);
    const reported = await this.mustRun(sizeAndSumCommand(tools.checksum, remotePath), `reading the size and checksum of ${remotePath}`, step, deadline, remotePath);
    const expected = parseSizeAndSum(tools.checksum, reported);
    if (!expected) throw new TransferError('remote', remotePath, `cannot read its size and checksum: ${JSON.stringify(reported)}`, { dut: this.dut, step });
    if (expected.size > MAX_GET_BYTES) {
      throw new TransferError('remote', remotePath, `${expected.size} bytes is more than a serial get takes (${MAX_GET_BYTES})`, { dut: this.dut, step });
    }
    if (options.timeoutMs === undefined) deadline = started + this.defaultTimeout(expected.size);
    const text = await this.mustRun(readFileCommand(tools.encoding, remotePath), `reading ${remotePath}`, step, deadline, remotePath, options.signal);
    const data = decode(tools.encoding, text);
    if (!data) throw new TransferError('encoding', remotePath, `what came back is not valid ${tools.encoding === 'base64' ? 'base64' : 'od hex'}`, { dut: this.dut, step });
    this.compare(tools.checksum, remotePath, step, expected, facts(tools.checksum, data));
    const part = `${localPath}.dutlab-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(part, data);
      await rename(part, localPath);
    } catch (error) {
      await unlink(part).catch(() => undefined);
      throw new TransferError('local', remotePath, `writing ${localPath} failed: ${(error as Error).message}`, { dut: this.dut, step, cause: error });
    }
    this.record(transferStats('get', remotePath, data.length, Date.now() - started, `${tools.encoding}, ${tools.checksum}`));
  }

  /** Stops using the shell; the console and its shell belong to the caller and stay open. */
  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(step: string): void {
    if (this.closed) throw new DutError('console-lost', 'the serial transport was closed by the harness', { dut: this.dut, step });
  }

  private defaultTimeout(bytes: number): number {
    // base64 is 4/3 of the bytes plus newlines; octal 4×; count 4× to be safe.
    return 30_000 + Math.ceil((bytes * 4 * 1000) / (this.options.assumedBytesPerSecond ?? 8000));
  }

  private async readLocal(localPath: string, remotePath: string, step: string): Promise<Buffer> {
    try {
      return await readFile(localPath);
    } catch (error) {
      throw new TransferError('local', remotePath, `cannot read ${localPath}: ${(error as Error).message}`, { dut: this.dut, step, cause: error });
    }
  }

  /** Which encoding and checksum the DUT supports; asked once. */
  private findTools(step: string, deadline: number): Promise<Tools> {
    this.tools ??= (async () => {
      const wanted = ['base64', ...Object.values(CHECKSUM_TOOLS), 'od'];
      const found = new Set((await this.mustRun(probeToolsCommand(wanted), 'looking for transfer tools', step, deadline, '(tools)')).split('\n'));
      const encoding = this.options.encoding && this.options.encoding !== 'auto' ? this.options.encoding : found.has('base64') ? 'base64' : 'octal';
      const checksums = (this.options.checksum && this.options.checksum !== 'auto' ? [this.options.checksum] : (['sha256', 'md5'] as const)).filter((sum) =>
        found.has(CHECKSUM_TOOLS[sum]),
      );
      const checksum = checksums[0];
      const missing = !checksum ? 'sha256sum or md5sum' : encoding === 'base64' && !found.has('base64') ? 'base64' : encoding === 'octal' && !found.has('od') ? 'od' : '';
      if (missing || !checksum) {
        throw new TransferError('missing-tool', '(any file)', `the DUT has no ${missing}; found: ${[...found].filter(Boolean).join(', ') || 'none'}`, { dut: this.dut, step });
      }
      this.note(`serial transfers: ${encoding} encoding, ${checksum} checksums (tools found: ${[...found].filter(Boolean).join(', ')})`);
      return { encoding, checksum };
    })();
    // A failed probe (a timeout) is asked again next time.
    this.tools.catch(() => (this.tools = undefined));
    return this.tools;
  }

  /** Runs a transfer command within the deadline; its output, or a TransferError if it exits non-zero. */
  private async mustRun(command: string, label: string, step: string, deadline: number, remotePath: string, signal?: AbortSignal): Promise<string> {
    const timeoutMs = deadline - Date.now();
    if (timeoutMs <= 0) throw new DutError('timeout', `transfer of ${remotePath}: out of time before ${label}`, { dut: this.dut, step });
    const result = await this.shell.run(command, { timeoutMs, step, ...(signal ? { signal } : {}) });
    if (result.exitCode !== 0) {
      const output = tail(result.output, 5);
      throw new TransferError('remote', remotePath, `${label}: exited ${result.exitCode}${output ? `: ${output}` : ''}`, { dut: this.dut, step, excerpt: output });
    }
    if (result.truncated) throw new TransferError('size', remotePath, `${label}: output too large for the shell's buffer`, { dut: this.dut, step });
    return result.output;
  }

  private async verify(checksum: Checksum, part: string, remotePath: string, data: Buffer, step: string, deadline: number): Promise<void> {
    const output = await this.mustRun(sizeAndSumCommand(checksum, part), `checking ${remotePath}`, step, deadline, remotePath);
    const landed = parseSizeAndSum(checksum, output);
    if (!landed) throw new TransferError('remote', remotePath, `cannot read the size and checksum of what landed: ${JSON.stringify(output)}`, { dut: this.dut, step });
    this.compare(checksum, remotePath, step, facts(checksum, data), landed);
  }

  /** Throws unless what arrived has the size and checksum of what was sent. */
  private compare(checksum: Checksum, remotePath: string, step: string, sent: Facts, arrived: Facts): void {
    const options = { dut: this.dut, step };
    if (sent.size !== arrived.size) {
      throw new TransferError('size', remotePath, `${arrived.size} bytes arrived, ${sent.size} were sent`, { ...options, expected: String(sent.size), actual: String(arrived.size) });
    }
    if (sent.sum !== arrived.sum) {
      throw new TransferError('checksum', remotePath, `the ${checksum} of what arrived is ${arrived.sum}, of what was sent ${sent.sum}`, { ...options, expected: sent.sum, actual: arrived.sum });
    }
  }

  private record(stats: TransferStats): void {
    this.transfers.push(stats);
    this.note(`serial: ${describeStats(stats)}`);
  }

  private note(text: string): void {
    this.shell.console.note(text);
    this.options.note?.(text);
  }
}
