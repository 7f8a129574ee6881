import path from 'node:path';
import { createActor, fromPromise, type Actor } from 'xstate';
import { Console, login, Transcript, type Shell } from '../console/index.ts';
import { DutError } from '../errors.ts';
import { generateRunKey, SerialTransport, SshTransport, type RunKey } from '../transports/index.ts';
import type { ExecResult as TransportExecResult, GetOptions, PutOptions, Transport } from '../transports/types.ts';
import type { BoundBoard } from './drivers.ts';
import { lifecycle, type ExecRequest, type LifecycleEvent, type Reply } from './lifecycle.ts';
import { Timeline, type TimelineEntry } from './timeline.ts';

export type TransportKind = 'serial' | 'ssh';

export interface ExecResult extends TransportExecResult {
  transport: TransportKind;
}

const KERNEL_BANNER = /Linux version \d+\.\d+/;

export interface RebootOptions {
  /** Send `reboot` (default), or only wait for the DUT to reboot by itself. */
  initiate?: boolean;
  /** Kernel panics on the way are expected: note them, do not fail. */
  tolerateTraces?: boolean;
  /** How long until each new boot banner shows. Default 2 minutes. */
  bannerTimeoutMs?: number;
  /**
   * Kernel boots to see before logging in (default 1): a rollback boots the
   * new OS, which reboots by itself into the old one (2); a fallback through
   * the bootloader may take 3. Logging in between would race the reboot.
   */
  kernelBoots?: number;
}

export interface DutOptions {
  image: string;
  /** Directory for the transcript and other per-DUT files. */
  dir: string;
  bootTimeoutMs?: number;
  /** Boots (first try included) before the DUT is declared broken. */
  maxBootAttempts?: number;
  commandTimeoutMs?: number;
  /** Install a per-run key through config.json and use SSH where the board has a network. Default true. */
  ssh?: boolean;
  /** Merged into config.json before boot. */
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
  private serial: SerialTransport | undefined;
  private ssh: SshTransport | undefined;
  private readonly runKey: RunKey | undefined;
  private rebootOptions: RebootOptions = {};
  private queue: Promise<unknown> = Promise.resolve();
  private closed: Promise<void> | undefined;

  constructor(
    readonly board: BoundBoard,
    private readonly options: DutOptions,
  ) {
    this.name = board.name;
    this.transcript = new Transcript({ logFile: path.join(options.dir, 'console.jsonl') });
    this.runKey = options.ssh === false ? undefined : generateRunKey(`dutlab-${board.name}`);
    const bootTimeoutMs = options.bootTimeoutMs ?? 6 * 60_000;
    const machine = lifecycle.provide({
      actors: {
        prepare: fromPromise(() => this.prepare()),
        powerOn: fromPromise(() => board.power.on()),
        waitForShell: fromPromise(() => this.waitForShell(bootTimeoutMs, 'boot')),
        powerCycle: fromPromise(async () => {
          this.requireConsole().expectReboot();
          await this.dropSsh();
          await board.power.cycle();
        }),
        exec: fromPromise<unknown, ExecRequest>(async ({ input }) => input.run(await this.transportFor(input.transport))),
        reboot: fromPromise(() => this.rebootNow(bootTimeoutMs)),
        hardReset: fromPromise(async () => {
          this.requireConsole().expectReboot();
          await this.dropSsh();
          await board.power.reset();
        }),
        powerOff: fromPromise(async () => {
          await this.dropSsh();
          await board.power.off();
        }),
      },
    });
    this.actor = createActor(machine, { input: { dut: this.name, maxBootAttempts: options.maxBootAttempts ?? 2 } });
    this.actor.subscribe({
      // Commands (ready ⇄ busy) are the transcript's business; the timeline keeps the lifecycle.
      next: (snapshot) => snapshot.value !== 'busy' && this.timeline.enter(String(snapshot.value), snapshot.context.cause?.message),
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

  /** SSH where the board has a network and a key was installed, else the serial console. */
  get defaultTransport(): TransportKind {
    return this.runKey && this.board.sshEndpoint() ? 'ssh' : 'serial';
  }

  async exec(command: string, options: { transport?: TransportKind; timeoutMs?: number } = {}): Promise<ExecResult> {
    const transport = options.transport ?? this.defaultTransport;
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs ?? 120_000;
    const result = await this.operate(transport, `exec ${command}`, (t) => t.exec(command, { timeoutMs, step: `${transport} exec` }));
    return { ...(result as TransportExecResult), transport };
  }

  /** Copies a file to the DUT (verified), over SSH or, without a network, the serial line. */
  async put(localPath: string, remotePath: string, options: PutOptions & { transport?: TransportKind } = {}): Promise<void> {
    const transport = options.transport ?? this.defaultTransport;
    await this.operate(transport, `put ${remotePath}`, (t) => t.put(localPath, remotePath, { step: `${transport} put`, ...options }));
  }

  async get(remotePath: string, localPath: string, options: GetOptions & { transport?: TransportKind } = {}): Promise<void> {
    const transport = options.transport ?? this.defaultTransport;
    await this.operate(transport, `get ${remotePath}`, (t) => t.get(remotePath, localPath, { step: `${transport} get`, ...options }));
  }

  /**
   * Ask the OS to reboot; see the console go down and a new boot come up; log
   * in again. `initiate: false` waits for a reboot the DUT does by itself (a
   * rollback); `tolerateTraces` lets a boot on the way panic on purpose (a
   * broken update the bootloader must fall back from).
   */
  async reboot(options: RebootOptions = {}): Promise<void> {
    await this.request((reply) => {
      this.rebootOptions = options;
      return { type: 'REBOOT', reply };
    });
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
      await Promise.allSettled([this.dropSsh(), this.board.power.off()]);
      this.console?.close();
      await this.board.console.close().catch(() => undefined);
      await this.board.storage.release().catch(() => undefined);
      await this.transcript.close();
    })();
    return this.closed;
  }

  /** Runs one transport operation as the lifecycle's busy state. */
  private operate(transport: TransportKind, describe: string, run: (t: Transport) => Promise<unknown>): Promise<unknown> {
    const request: ExecRequest = { transport, describe, run };
    return this.request((reply) => ({ type: 'EXEC', request, reply }));
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
      ...(this.runKey ? { sshPublicKey: this.runKey.publicKey } : {}),
      ...(this.options.config ? { config: this.options.config } : {}),
    });
    const stream = await this.board.console.open();
    this.console = new Console({ stream, name: this.name, transcript: this.transcript });
  }

  private async waitForShell(timeoutMs: number, step: string): Promise<void> {
    this.shell = await this.board.whileAlive(login(this.requireConsole(), { timeoutMs, step }));
    this.serial = new SerialTransport({ shell: this.shell, dut: this.name, note: (text) => this.transcript.info(text) });
  }

  private async transportFor(kind: TransportKind): Promise<Transport> {
    if (kind === 'serial') {
      if (!this.serial) throw new DutError('console-lost', 'no shell on the console', { dut: this.name, step: 'serial' });
      return this.serial;
    }
    const endpoint = this.board.sshEndpoint();
    if (!this.runKey || !endpoint) throw new DutError('config', 'SSH is not available on this board', { dut: this.name, step: 'ssh' });
    // Dialled on first use after each boot, with a deadline: sshd starts after the serial login.
    this.ssh ??= await this.board.whileAlive(
      SshTransport.connect({ ...endpoint, privateKey: this.runKey.privateKey, dut: this.name, note: (text) => this.transcript.info(text) }),
    );
    return this.ssh;
  }

  /** After a reboot the connection is dead anyway; the next SSH request dials again. */
  private async dropSsh(): Promise<void> {
    const ssh = this.ssh;
    this.ssh = undefined;
    await ssh?.close().catch(() => undefined);
  }

  private async rebootNow(bootTimeoutMs: number): Promise<void> {
    const { initiate = true, tolerateTraces = false, bannerTimeoutMs = 120_000, kernelBoots = 1 } = this.rebootOptions;
    this.rebootOptions = {};
    const console = this.requireConsole();
    console.expectReboot();
    if (tolerateTraces) console.tolerateTraces(true);
    await this.dropSsh();
    try {
      // Not through the shell: the command never completes, the console goes down.
      if (initiate) await console.send('reboot\n');
      // Every boot prints the kernel banner once (firmware and bootloader
      // banners vary by board): count those.
      for (let boot = 1; boot <= kernelBoots; boot++) {
        await this.board.whileAlive(console.expect([KERNEL_BANNER], { timeoutMs: bannerTimeoutMs, step: `reboot: wait for kernel boot ${boot}`, reset: 'allow' }));
        console.note(`reboot: kernel boot ${boot} of ${kernelBoots} seen`);
      }
      await this.waitForShell(bootTimeoutMs, 'reboot');
    } finally {
      if (tolerateTraces) console.tolerateTraces(false);
    }
  }
}
