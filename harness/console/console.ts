/**
 * The console engine over any duplex byte stream: a pty from QEMU opened with
 * `serialport`, a real UART, a TCP socket. It is the stream's only reader:
 * every chunk goes to the transcript raw, then, cleaned of escape codes, to
 * the watchers and to whoever is waiting.
 *
 * One wait at a time. A wait is bounded by its own timeout, and fails early on
 * a watcher verdict (kernel trace, unexpected reset) or on the stream closing.
 * Every verdict also goes to `onFault` at once, whoever waits: the test that
 * runs over SSH is judged by it too. Without an `onFault`, a verdict reached
 * while nobody waits is kept and fails the next wait, so it is not lost.
 */
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { abortReason, DutError } from '../errors.ts';
import { describePatterns, PatternReader, type ExpectMatch, type Pattern } from './expect.ts';
import { Transcript } from './transcript.ts';
import { VtStripper } from './vt.ts';
import { Watchers, type Detection, type WatcherConfig } from './watchers.ts';

export interface ReadResult<T> {
  value: T;
  /** Text after what the reader consumed; the next wait starts with it. */
  rest: string;
}

/** Consumes cleaned console text until it has a result. */
export interface Reader<T> {
  /** Offered text as it arrives; returns the result once complete. */
  feed(text: string): ReadResult<T> | undefined;
  /** The wait ended without a result: text a later wait may still need. */
  unread(): string;
}

export interface WaitOptions {
  timeoutMs: number;
  /** Names the step in errors: "dut qemu-1, step login: ...". */
  step?: string;
  /**
   * A boot banner during this wait: `fail` at once (default), `defer` the
   * verdict to the wait's outcome (a command that prints /proc/version
   * completes; a board that reset does not), or `allow` it.
   */
  reset?: 'fail' | 'defer' | 'allow';
  /** `false` while the awaited text itself holds kernel traces (dmesg). */
  traces?: boolean;
  /** Ends the wait with the signal's reason. */
  signal?: AbortSignal;
}

export interface ConsoleOptions {
  stream: Duplex;
  /** The DUT's name, for errors. */
  name: string;
  transcript?: Transcript;
  watchers?: WatcherConfig;
  /** Told of every panic or reset that is not expected or tolerated, the moment it is seen. */
  onFault?: (error: DutError) => void;
  /** A new console usually watches a boot; `login()` arms the reset watcher once a shell is up. */
  rebootExpected?: boolean;
  /** Writes are cut into chunks this big, with a pause between, so a slow UART does not overrun. */
  sendChunkBytes?: number;
  sendPauseMs?: number;
  /** Unread text kept between waits, and by `expect()`. */
  maxBufferChars?: number;
  /** See PatternReaderOptions. */
  maxMatchChars?: number;
}

interface Wait {
  reader: Reader<unknown>;
  what: string;
  options: WaitOptions;
  timer: NodeJS.Timeout;
  settle: (error: DutError | undefined, value?: unknown) => void;
  /** A reset seen under `reset: 'defer'`: the error if the wait fails. */
  deferred?: DutError;
}

const EXCERPT_CHARS = 2048;

export class Console {
  readonly name: string;
  readonly transcript: Transcript;
  private readonly stream: Duplex;
  private readonly stripper = new VtStripper();
  private readonly watchers: Watchers;
  private readonly sendChunkBytes: number;
  private readonly sendPauseMs: number;
  private readonly maxBufferChars: number;
  private readonly maxMatchChars: number;
  private readonly onFault: ((error: DutError) => void) | undefined;
  private rebootExpected: boolean;
  private bootSigns: { at: number; line: string }[] = [];
  private tracesTolerated = false;
  private buffer = '';
  private uses = 0;
  private recent = '';
  private lastDataAt = Date.now();
  private wait: Wait | undefined;
  private fault: DutError | undefined;
  private lost: DutError | undefined;
  private sending: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer): void => this.received(chunk);
  private readonly onEnd = (): void => this.closed('the console stream ended');
  private readonly onClose = (): void => this.closed('the console stream closed');
  private readonly onError = (error: Error): void => this.closed(`the console stream failed: ${error.message}`, error);

  constructor(options: ConsoleOptions) {
    this.name = options.name;
    this.stream = options.stream;
    this.transcript = options.transcript ?? new Transcript();
    this.watchers = new Watchers(options.watchers ?? {}, (detection) => this.detected(detection));
    this.rebootExpected = options.rebootExpected ?? true;
    this.onFault = options.onFault;
    this.sendChunkBytes = options.sendChunkBytes ?? 512;
    this.sendPauseMs = options.sendPauseMs ?? 10;
    this.maxBufferChars = options.maxBufferChars ?? 1 << 20;
    this.maxMatchChars = options.maxMatchChars ?? 8192;
    this.stream.on('data', this.onData).on('end', this.onEnd).on('close', this.onClose).on('error', this.onError);
  }

  /**
   * Changes with every send and wait, and when buffered text is dropped: a
   * caller that saw the same value after its own last use knows that nobody
   * else has written to the line or taken text from it since.
   */
  get useCount(): number {
    return this.uses;
  }

  /** Writes to the target, in paced chunks; concurrent sends do not interleave. */
  send(text: string): Promise<void> {
    this.uses += 1;
    const done = this.sending.then(() => this.write(text));
    this.sending = done.catch(() => undefined);
    return done;
  }

  /** Waits for the earliest of `patterns`; consumes the text through the match. */
  expect(patterns: readonly Pattern[], options: WaitOptions): Promise<ExpectMatch> {
    const reader = new PatternReader(patterns, { maxMatchChars: this.maxMatchChars, maxBufferChars: this.maxBufferChars });
    return this.read(reader, describePatterns(patterns), options);
  }

  /** Runs a custom reader as a wait. `what` names the awaited thing in a timeout message. */
  read<T>(reader: Reader<T>, what: string, options: WaitOptions): Promise<T> {
    this.uses += 1;
    // A verdict kept from between waits goes first: it is why the stream may have closed.
    const fault = this.fault;
    this.fault = undefined;
    const refusal =
      fault ??
      this.lost ??
      (options.signal?.aborted ? abortReason(options.signal, this.name, options.step) : undefined) ??
      (this.wait && new Error(`console ${this.name}: a wait is already active`));
    if (refusal) return Promise.reject(refusal);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => this.timedOut(), options.timeoutMs);
      const { signal } = options;
      // A reset deferred to this wait's outcome is real once the wait is given up.
      const onAbort = (): void => this.finish(this.wait?.deferred ? this.raised(this.wait.deferred) : abortReason(signal as AbortSignal, this.name, options.step));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wait = {
        reader,
        what,
        options,
        timer,
        settle: (error, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(error);
          else resolve(value as T);
        },
      };
      this.watchers.tracesArmed = options.traces !== false;
      this.offer();
    });
  }

  /** A reboot is coming: boot banners are expected until `bootComplete()`. */
  expectReboot(): void {
    this.rebootExpected = true;
    this.note('reboot expected: boot banners allowed');
  }

  /**
   * Kernel traces are part of what is expected (a test breaks a boot on
   * purpose): they are noted in the transcript, not raised, until switched off.
   */
  tolerateTraces(on: boolean): void {
    this.tracesTolerated = on;
    this.note(on ? 'kernel traces expected: noted, not raised' : 'kernel traces raise errors again');
  }

  /** The DUT is up: a boot banner from now on means it reset. */
  bootComplete(): void {
    this.rebootExpected = false;
    this.note('boot complete: reset watcher armed');
  }

  /**
   * The boot banners and restart announcements seen since `since` (ms since
   * the epoch), expected or not: whether a board that did not boot at least
   * started to.
   */
  bootSignsSince(since: number): string[] {
    return this.bootSigns.filter((sign) => sign.at >= since).map((sign) => sign.line);
  }

  /** Milliseconds since the target last sent anything. */
  get idleMs(): number {
    return Date.now() - this.lastDataAt;
  }

  /** The last ~2 KB of cleaned target text, for error excerpts. */
  recentText(): string {
    return this.recent;
  }

  note(text: string): void {
    this.transcript.info(text);
  }

  /** Stops reading; the stream itself belongs to the caller. */
  close(): void {
    this.stream.off('data', this.onData).off('end', this.onEnd).off('close', this.onClose).off('error', this.onError);
    this.closed('the console was closed by the harness');
  }

  private async write(text: string): Promise<void> {
    if (this.lost) throw this.lost;
    this.transcript.input(text);
    this.watchers.sent(text);
    const bytes = Buffer.from(text, 'utf8');
    for (let offset = 0; offset < bytes.length; offset += this.sendChunkBytes) {
      if (offset > 0) await sleep(this.sendPauseMs);
      await new Promise<void>((resolve, reject) => {
        this.stream.write(bytes.subarray(offset, offset + this.sendChunkBytes), (error) => {
          if (error) reject(this.lost ?? this.lostError(`writing to the console failed: ${error.message}`, error));
          else resolve();
        });
      });
    }
  }

  private received(chunk: Buffer): void {
    this.lastDataAt = Date.now();
    const text = this.stripper.push(this.transcript.target(chunk));
    if (text === '') return;
    this.recent = (this.recent + text).slice(-EXCERPT_CHARS);
    this.buffer += text;
    if (this.buffer.length > this.maxBufferChars) {
      this.buffer = this.buffer.slice(-this.maxBufferChars);
      this.uses += 1;
    }
    this.watchers.feed(text);
    this.offer();
  }

  // Hands buffered text to the waiting reader, unless a trace is being
  // captured: then the wait must fail with it, not succeed past it.
  private offer(): void {
    const wait = this.wait;
    if (!wait || this.watchers.capturing || this.buffer === '') return;
    const text = this.buffer;
    this.buffer = '';
    const result = wait.reader.feed(text);
    if (!result) return;
    this.buffer = result.rest;
    if (wait.deferred) this.note(`ignored ${wait.deferred.message}: the wait succeeded, so the DUT did not reset`);
    this.finish(undefined, result.value);
  }

  private detected(detection: Detection): void {
    const wait = this.wait;
    const error = new DutError(detection.kind, detection.message, {
      dut: this.name,
      step: wait?.options.step,
      excerpt: detection.excerpt,
    });
    if (detection.kind === 'panic' && this.tracesTolerated) {
      this.note(`expected ${detection.message}`);
      return;
    }
    if (detection.kind === 'reset') {
      this.bootSigns.push({ at: Date.now(), line: detection.message.replace(/^boot banner: /, '') });
      this.bootSigns = this.bootSigns.slice(-32);
      const mode = this.rebootExpected ? 'allow' : (wait?.options.reset ?? 'fail');
      if (mode === 'allow') {
        this.note(`expected ${detection.message}`);
        return;
      }
      if (mode === 'defer' && wait) {
        wait.deferred ??= error;
        this.note(`deferred ${detection.message}`);
        return;
      }
    }
    this.note(`${detection.kind}: ${detection.message}`);
    this.onFault?.(error);
    if (wait) this.finish(error);
    else if (!this.onFault) this.fault ??= error;
  }

  private timedOut(): void {
    const wait = this.wait;
    if (!wait) return;
    const error = wait.deferred
      ? this.raised(wait.deferred)
      : new DutError('timeout', `${wait.what} not seen within ${wait.options.timeoutMs} ms`, {
        dut: this.name,
        step: wait.options.step,
        excerpt: this.recent,
      });
    this.finish(error);
  }

  /** A verdict that ends a wait is also told to `onFault`, as one seen between waits is. */
  private raised(error: DutError): DutError {
    this.onFault?.(error);
    return error;
  }

  private closed(message: string, cause?: unknown): void {
    if (this.lost) return;
    // A panic is often the last thing before QEMU exits: report it, not just the close.
    this.watchers.flush();
    this.lost = this.lostError(message, cause);
    this.note(message);
    if (this.wait) this.finish(this.lost);
  }

  private lostError(message: string, cause?: unknown): DutError {
    return new DutError('console-lost', message, { dut: this.name, step: this.wait?.options.step, excerpt: this.recent, cause });
  }

  private finish(error: DutError | undefined, value?: unknown): void {
    const wait = this.wait;
    if (!wait) return;
    this.wait = undefined;
    clearTimeout(wait.timer);
    this.watchers.tracesArmed = true;
    if (error) this.buffer = (wait.reader.unread() + this.buffer).slice(-this.maxBufferChars);
    wait.settle(error, value);
  }
}
