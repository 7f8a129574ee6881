import path from 'node:path';
import { createActor, fromPromise, type Actor } from 'xstate';
import { Console, login, Transcript, type Shell } from '../console/index.ts';
import { BOOT_BANNERS } from '../console/watchers.ts';
import { DutError } from '../errors.ts';
import type { BoundBoard } from './drivers.ts';
import { lifecycle, type ExecRequest, type LifecycleEvent, type Reply } from './lifecycle.ts';
import { Timeline, type TimelineEntry } from './timeline.ts';

export interface ExecResult {
  /** stdout, or stdout and stderr merged where the transport cannot tell them apart (serial). */
  output: string;
  stderr: string;
  exitCode: number;
  durationMs: number;
  transport: 'serial' | 'ssh';
}

/** What the DUT needs besides its board: SSH comes from the transports module and is optional. */
export interface SshProvider {
  publicKey: string;
  exec(endpoint: { host: string; port: number }, command: string, timeoutMs: number): Promise<Omit<ExecResult, 'transport'>>;
  /** Drop the connection: after a reboot it is dead anyway. */
  disconnect(): Promise<void>;
}

export interface DutOptions {
  image: string;
  /** Directory for the transcript and other per-DUT files. */
  dir: string;
  bootTimeoutMs?: number;
  /** Boots (first try included) before the DUT is declared broken. */
  maxBootAttempts?: number;
  commandTimeoutMs?: number;
  ssh?: SshProvider;
  config?: Record<string, unknown>;
}

/**
 * A device under test: the lifecycle machine driving a bound board. Each
 * public method is one request to the machine; requests queue, so callers
 * never interleave on the console. The timeline records every transition.
 */
export class Dut {
  readonly name: string;
  readonly timeline = new Timeline();
  readonly transcript: Transcript;
  private readonly actor: Actor<typeof lifecycle>;
  private console: Console | undefined;
  private shell: Shell | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed: Promise<void> | undefined;

  constructor(
    readonly board: BoundBoard,
    private readonly options: DutOptions,
  ) {
    this.name = board.name;
    this.transcript = new Transcript({ logFile: path.join(options.dir, 'console.jsonl') });
    const bootTimeoutMs = options.bootTimeoutMs ?? 6 * 60_000;
    const machine = lifecycle.provide({
      actors: {
        prepare: fromPromise(() => this.prepare()),
        powerOn: fromPromise(() => board.power.on()),
        waitForShell: fromPromise(() => this.waitForShell(bootTimeoutMs, 'boot')),
        powerCycle: fromPromise(async () => {
          this.requireConsole().expectReboot();
          await board.power.reset();
        }),
        exec: fromPromise<unknown, ExecRequest>(({ input }) => this.execNow(input)),
        reboot: fromPromise(() => this.rebootNow(bootTimeoutMs)),
        hardReset: fromPromise(async () => {
          this.requireConsole().expectReboot();
          await this.options.ssh?.disconnect();
          await board.power.reset();
        }),
        powerOff: fromPromise(async () => {
          await this.options.ssh?.disconnect();
          await board.power.off();
        }),
      },
    });
    this.actor = createActor(machine, { input: { dut: this.name, maxBootAttempts: options.maxBootAttempts ?? 2 } });
    this.actor.subscribe({
      next: (snapshot) => this.timeline.enter(String(snapshot.value), snapshot.context.cause?.message),
      error: () => undefined,
    });
    this.actor.start();
  }

  /** The lifecycle state: idle, booting, ready, busy, broken, ... */
  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  /** The first unrecoverable error, if the DUT latched broken. */
  get cause(): DutError | undefined {
    return this.actor.getSnapshot().context.cause;
  }

  /** Prepare storage, power on, boot and log in. Resolves when a shell is ready. */
  async boot(): Promise<void> {
    if (this.state === 'ready') return;
    await this.request((reply) => ({ type: 'BOOT', reply }));
  }

  async exec(command: string, options: { transport?: 'serial' | 'ssh'; timeoutMs?: number } = {}): Promise<ExecResult> {
    const transport = options.transport ?? (this.options.ssh && this.board.sshEndpoint() ? 'ssh' : 'serial');
    const request: ExecRequest = { command, transport, timeoutMs: options.timeoutMs ?? this.options.commandTimeoutMs ?? 120_000 };
    return (await this.request((reply) => ({ type: 'EXEC', request, reply }))) as ExecResult;
  }

  /** Ask the OS to reboot; see the console go down and a new boot come up; log in again. */
  async reboot(): Promise<void> {
    await this.request((reply) => ({ type: 'REBOOT', reply }));
  }

  /** Reset without asking the OS (QMP system_reset, a relay cycle); log in again. */
  async hardReset(): Promise<void> {
    await this.request((reply) => ({ type: 'HARD_RESET', reply }));
  }

  async powerOff(): Promise<void> {
    await this.request((reply) => ({ type: 'POWER_OFF', reply }));
  }

  /** Power-cycle a broken DUT back to a shell, clearing the latch. */
  async recover(): Promise<void> {
    await this.request((reply) => ({ type: 'RECOVER', reply }));
  }

  /**
   * Joins a terminal to the serial line until the user types Ctrl-]. The
   * console engine keeps reading, so the transcript records the session.
   */
  async interact(input: NodeJS.ReadStream, output: NodeJS.WritableStream): Promise<void> {
    const line = await this.board.console.open();
    const show = (chunk: Buffer): void => {
      output.write(chunk);
    };
    line.on('data', show);
    input.setRawMode?.(true);
    input.resume();
    try {
      await new Promise<void>((resolve) => {
        input.on('data', (chunk: Buffer) => {
          const detach = chunk.indexOf(0x1d);
          if (detach >= 0) {
            line.write(chunk.subarray(0, detach));
            resolve();
          } else {
            this.transcript.input(chunk.toString('latin1'));
            line.write(chunk);
          }
        });
        input.once('end', resolve);
      });
    } finally {
      line.off('data', show);
      input.setRawMode?.(false);
      input.pause();
    }
  }

  /** Timeline entries for reports. */
  entries(): readonly TimelineEntry[] {
    return this.timeline.entries;
  }

  /**
   * Tear everything down, whatever state the DUT is in: stop the machine,
   * power off, close the console, release storage. Safe to call twice.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.actor.stop();
      this.timeline.enter('closed');
      const steps: Promise<unknown>[] = [];
      steps.push(this.options.ssh?.disconnect() ?? Promise.resolve());
      steps.push(this.board.power.off());
      await Promise.allSettled(steps);
      this.console?.close();
      await this.board.console.close().catch(() => undefined);
      await this.board.storage.release().catch(() => undefined);
      await this.transcript.close();
    })();
    return this.closed;
  }

  private request(make: (reply: Reply) => LifecycleEvent): Promise<unknown> {
    const run = this.queue.then(
      () =>
        new Promise<unknown>((resolve, reject) => {
          if (this.closed) {
            reject(new DutError('config', 'the DUT was closed', { dut: this.name }));
            return;
          }
          this.actor.send(make({ resolve, reject }));
        }),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  private requireConsole(): Console {
    if (!this.console) throw new DutError('console-lost', 'the console is not open', { dut: this.name });
    return this.console;
  }

  private async prepare(): Promise<void> {
    await this.board.storage.prepare(this.options.image, {
      ...(this.options.ssh ? { sshPublicKey: this.options.ssh.publicKey } : {}),
      ...(this.options.config ? { config: this.options.config } : {}),
    });
    const stream = await this.board.console.open();
    this.console = new Console({ stream, name: this.name, transcript: this.transcript });
  }

  private async waitForShell(timeoutMs: number, step: string): Promise<void> {
    this.shell = await this.board.whileAlive(login(this.requireConsole(), { timeoutMs, step }));
  }

  private async execNow(request: ExecRequest): Promise<ExecResult> {
    if (request.transport === 'ssh') {
      const endpoint = this.board.sshEndpoint();
      if (!this.options.ssh || !endpoint) {
        throw new DutError('config', 'SSH is not available on this board', { dut: this.name, step: 'ssh exec' });
      }
      const result = await this.board.whileAlive(this.options.ssh.exec(endpoint, request.command, request.timeoutMs));
      return { ...result, transport: 'ssh' };
    }
    if (!this.shell) throw new DutError('console-lost', 'no shell on the console', { dut: this.name, step: 'serial exec' });
    const result = await this.board.whileAlive(this.shell.run(request.command, { timeoutMs: request.timeoutMs, step: 'serial exec' }));
    return { output: result.output, stderr: '', exitCode: result.exitCode, durationMs: result.durationMs, transport: 'serial' };
  }

  private async rebootNow(bootTimeoutMs: number): Promise<void> {
    const console = this.requireConsole();
    console.expectReboot();
    await this.options.ssh?.disconnect();
    // Not through the shell: the command never completes, the console goes down.
    await console.send('reboot\n');
    await this.board.whileAlive(console.expect(BOOT_BANNERS, { timeoutMs: 120_000, step: 'reboot: wait for boot banner', reset: 'allow' }));
    console.note('reboot: new boot banner seen');
    await this.waitForShell(bootTimeoutMs, 'reboot');
  }
}
