/**
 * The record of everything that crossed a console, kept apart by stream the way
 * LAVA's job log is: what the target said, what the harness sent, and what the
 * harness noted. Target bytes are kept raw (escape codes and all) so a report
 * shows exactly what the device printed; cleaning is the matcher's business.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { StringDecoder } from 'node:string_decoder';

export type TranscriptStream = 'target' | 'input' | 'info';

export interface TranscriptEntry {
  /** Milliseconds since the epoch when the chunk arrived or was sent. */
  readonly t: number;
  readonly stream: TranscriptStream;
  readonly data: string;
}

export interface TranscriptOptions {
  /** How target bytes become text. `utf8` turns invalid bytes into U+FFFD; `latin1` keeps every byte. */
  encoding?: 'utf8' | 'latin1';
  /** Append every entry to this file as it happens, one JSON object a line. */
  logFile?: string;
  /** Clock, replaceable in tests. */
  now?: () => number;
}

export class Transcript {
  private readonly list: TranscriptEntry[] = [];
  // One decoder for the target stream: a multi-byte character split across two
  // reads must come out whole, not as two replacement characters.
  private readonly decoder: StringDecoder;
  private readonly log: WriteStream | undefined;
  private readonly now: () => number;
  /** Where the JSONL record goes, if anywhere. */
  readonly logFile: string | undefined;

  constructor(options: TranscriptOptions = {}) {
    this.logFile = options.logFile;
    this.decoder = new StringDecoder(options.encoding ?? 'utf8');
    this.log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    this.now = options.now ?? Date.now;
  }

  /** Records bytes from the target and returns them decoded. */
  target(chunk: Buffer): string {
    const text = this.decoder.write(chunk);
    this.add('target', text);
    return text;
  }

  /** Records what the harness sent to the target. */
  input(data: string): void {
    this.add('input', data);
  }

  /** Records a harness note (a poke, a command started, a watcher verdict). */
  info(text: string): void {
    this.add('info', text);
  }

  get entries(): readonly TranscriptEntry[] {
    return this.list;
  }

  /** A position for `since()`: entries recorded so far. */
  mark(): number {
    return this.list.length;
  }

  since(mark: number): TranscriptEntry[] {
    return this.list.slice(mark);
  }

  /** Entries with `fromMs <= t < toMs`, e.g. the serial excerpt of one test. */
  slice(fromMs: number, toMs = Infinity): TranscriptEntry[] {
    return this.list.filter((entry) => entry.t >= fromMs && entry.t < toMs);
  }

  /** Flushes a half-received character and closes the log file. */
  async close(): Promise<void> {
    this.add('target', this.decoder.end());
    if (!this.log) return;
    this.log.end();
    await once(this.log, 'close');
  }

  private add(stream: TranscriptStream, data: string): void {
    if (data === '') return;
    const entry = { t: this.now(), stream, data };
    this.list.push(entry);
    this.log?.write(`${JSON.stringify(entry)}\n`);
  }
}

/** The text of the chosen streams, concatenated. */
export function textOf(entries: readonly TranscriptEntry[], streams: readonly TranscriptStream[] = ['target']): string {
  return entries
    .filter((entry) => streams.includes(entry.stream))
    .map((entry) => entry.data)
    .join('');
}
