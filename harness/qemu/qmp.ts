/**
 * QEMU Machine Protocol client over a unix socket.
 *
 * Hand-written over `node:net`: the npm registry has no maintained QMP client
 * (the few packages found are unmaintained or tied to other projects), and the
 * protocol is small — newline-delimited JSON, a greeting, `qmp_capabilities`,
 * then commands answered in order with an optional `id` we use for matching,
 * interleaved with asynchronous events.
 *
 * Every wait is bounded; a closed connection rejects everything pending with
 * DutError('process'), a command error with QmpError.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { DutError, ToolError } from '../errors.ts';

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

/** Events QEMU emits that the harness cares about; any other name also works. */
export type KnownQmpEvent = 'SHUTDOWN' | 'RESET' | 'STOP' | 'RESUME' | 'POWERDOWN';

interface QmpEvents {
  event: [QmpEvent];
  SHUTDOWN: [QmpEvent];
  RESET: [QmpEvent];
  STOP: [QmpEvent];
  RESUME: [QmpEvent];
  POWERDOWN: [QmpEvent];
  close: [];
}

export interface QmpStatus {
  /** running | paused | prelaunch | shutdown | internal-error | ... */
  status: string;
  running: boolean;
}

/** QEMU answered a command with an error object. */
export class QmpError extends ToolError {
  readonly qmpClass: string;
  constructor(command: string, qmpClass: string, desc: string) {
    super('qmp', `${command}: ${qmpClass}: ${desc}`, '');
    this.name = 'QmpError';
    this.qmpClass = qmpClass;
  }
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export interface QmpConnectOptions {
  /** Overall budget for the socket to appear and the handshake to finish. */
  timeoutMs?: number;
  /** Stop retrying early, e.g. when the QEMU process has already exited. */
  signal?: AbortSignal;
  /** Default timeout for execute(). */
  commandTimeoutMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class QmpClient extends EventEmitter<QmpEvents> {
  /** The greeting's QMP object: version and capabilities. */
  greeting: Record<string, unknown> = {};
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closedFlag = false;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    private readonly commandTimeoutMs: number,
  ) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    socket.on('error', () => {
      // 'close' follows and rejects whatever is pending.
    });
  }

  /**
   * Connect to QEMU's `-qmp unix:PATH,server=on,wait=off` socket, retrying
   * while QEMU has not created it yet, and complete the handshake.
   */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (options.signal?.aborted) break;
      let socket: Socket;
      try {
        socket = await openSocket(path);
      } catch (error) {
        lastError = error;
        await sleep(50);
        continue;
      }
      const client = new QmpClient(socket, path, options.commandTimeoutMs ?? 10_000);
      try {
        await client.handshake(Math.max(1, deadline - Date.now()));
        return client;
      } catch (error) {
        client.close();
        throw error;
      }
    }
    const why = options.signal?.aborted ? 'aborted' : `not reachable within ${timeoutMs} ms`;
    throw new DutError('process', `QMP socket ${path} ${why}`, { cause: lastError });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private greetingWaiter: ((greeting: Record<string, unknown>) => void) | undefined;

  private async handshake(timeoutMs: number): Promise<void> {
    const greeting = new Promise<Record<string, unknown>>((resolve, reject) => {
      const onClose = (): void => {
        clearTimeout(timer);
        reject(new DutError('process', 'QMP connection closed before the greeting'));
      };
      const timer = setTimeout(() => {
        this.off('close', onClose);
        reject(new DutError('timeout', `no QMP greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      this.greetingWaiter = (g) => {
        clearTimeout(timer);
        this.off('close', onClose);
        resolve(g);
      };
      this.once('close', onClose);
    });
    this.greeting = await greeting;
    await this.execute('qmp_capabilities', undefined, { timeoutMs });
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return; // QEMU only sends JSON; ignore anything else rather than crash.
    }
    if ('QMP' in message) {
      this.greetingWaiter?.(message.QMP as Record<string, unknown>);
      this.greetingWaiter = undefined;
      return;
    }
    if (typeof message.event === 'string') {
      const event: QmpEvent = {
        event: message.event,
        data: (message.data as Record<string, unknown> | undefined) ?? {},
        timestamp: (message.timestamp as QmpEvent['timestamp'] | undefined) ?? { seconds: 0, microseconds: 0 },
      };
      this.emit('event', event);
      (this.emit as (name: string, e: QmpEvent) => boolean)(event.event, event);
      return;
    }
    const id = message.id === undefined ? undefined : String(message.id);
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (!pending || id === undefined) return; // late answer to a timed-out command
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if ('error' in message) {
      const err = message.error as { class?: string; desc?: string };
      pending.reject(new QmpError(pending.command, err.class ?? 'GenericError', err.desc ?? 'unknown error'));
    } else {
      pending.resolve(message.return);
    }
  }

  private onClose(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new DutError('process', `QMP connection closed while waiting for ${pending.command}`));
      this.pending.delete(id);
    }
    this.emit('close');
  }

  /** Run a QMP command; resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: { timeoutMs?: number } = {}): Promise<T> {
    if (this.closedFlag) {
      return Promise.reject(new DutError('process', `QMP connection closed; cannot run ${command}`));
    }
    const id = `dutlab-${this.nextId++}`;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new DutError('timeout', `QMP ${command} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(`${JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id })}\n`);
    });
  }

  /** A human-monitor (HMP) command, e.g. `savevm base`; resolves with its text output. */
  hmp(commandLine: string, options: { timeoutMs?: number } = {}): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine }, options);
  }

  /**
   * Wait for the next event named `name` (optionally matching `filter`).
   * Subscribe *before* triggering the action that causes it.
   */
  waitForEvent(name: string, options: { timeoutMs?: number; filter?: (e: QmpEvent) => boolean } = {}): Promise<QmpEvent> {
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<QmpEvent>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (e: QmpEvent): void => {
        if (e.event !== name || (options.filter && !options.filter(e))) return;
        cleanup();
        resolve(e);
      };
      const onClose = (): void => {
        cleanup();
        reject(new DutError('process', `QMP connection closed while waiting for event ${name}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new DutError('timeout', `no QMP ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  status(): Promise<QmpStatus> {
    return this.execute<QmpStatus>('query-status');
  }

  /** Start (or resume) the guest CPUs. */
  async cont(): Promise<void> {
    await this.execute('cont');
  }

  /** Pause the guest CPUs. */
  async stop(): Promise<void> {
    await this.execute('stop');
  }

  /** Hard reset, like the reset button. */
  async reset(): Promise<void> {
    await this.execute('system_reset');
  }

  /** ACPI power button: the guest decides whether to shut down. */
  async powerdown(): Promise<void> {
    await this.execute('system_powerdown');
  }

  /**
   * Ask QEMU to exit. QEMU may close the socket before or after answering,
   * so a close counts as success.
   */
  async quit(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.closedFlag) return;
    const closed = new Promise<void>((resolve) => this.once('close', resolve));
    const answered = this.execute('quit', undefined, options).catch((error: unknown) => {
      if (!this.closedFlag) throw error; // a real timeout, not the expected hang-up
    });
    await Promise.race([answered, closed]);
  }

  close(): void {
    this.socket.destroy();
    this.onClose();
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
  });
}
