import path from 'node:path';
import { createActor, fromPromise, waitFor, type Actor } from 'xstate';
import { Console, login, Transcript, type Shell } from '../console/index.ts';
import { abortReason, DutError } from '../errors.ts';
import { untilAborted, within } from '../proc/abort.ts';
import { generateRunKey, SerialTransport, type RunKey } from '../transports/index.ts';
import type { ExecResult as TransportExecResult, GetOptions, PutOptions, Transport } from '../transports/types.ts';
import { provisionMedium } from '../storage/provision.ts';
import type { BoundBoard, Medium, NetworkEndpoint, SnapshotDriver, WriteProgress } from './drivers.ts';
import { GoldenCache, type GoldenKeyParts } from './golden-cache.ts';
import { lifecycle, type ExecRequest, type LifecycleEvent, type RebootOptions, type Reply, type WrittenMedium } from './lifecycle.ts';

export type { RebootOptions } from './lifecycle.ts';
import { BOOT_ID, NetworkAccess } from './network-access.ts';
import { Timeline, type TimelineEntry } from './timeline.ts';

export type TransportKind = 'serial' | 'ssh';

/**
 * Where the harness finds out that the OS booted and logs in: a shell on the
 * serial console (development images), or SSH alone, answering with a new
 * kernel boot id (production images: the console stays silent).
 */
export type LoginVia = 'console' | 'ssh';

export interface ExecResult extends TransportExecResult {
  transport: TransportKind;
}

const KERNEL_BANNER = /Linux version \d+\.\d+/;
/** The kernel's last words before a restart, among the console's boot signs. */
const RESTART_ANNOUNCEMENT = /reboot: (?:Restarting system|machine restart)|sysrq: (?:SysRq : )?Resetting/;
/** States the machine rests in; a request waits for one, so it never lands mid-recovery. */
const SETTLED = new Set(['idle', 'ready', 'off', 'broken']);
/** A resumed state answers in seconds (0.6–1.9 s measured); past this it is not going to. */
const RESUME_TIMEOUT_MS = 60_000;
/** What ends a golden save as the boot's failure rather than as a state not saved. */
const BOOT_FAULTS = new Set(['panic', 'reset', 'process', 'console-lost']);
/** How long a first boot may take to finish before its state is saved; past it, nothing is saved. */
const GOLDEN_SETTLE_MS = 2 * 60_000;

export interface OperationOptions {
  /** Aborting ends the operation on the DUT too (its command killed) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** A panic or an unexpected reset the console saw, and when. */
export interface Fault {
  at: number;
  error: DutError;
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
  /**
   * Golden snapshots, where the board can save its state: the first boot to
   * ready of this image, board profile and provisioning is saved here, and
   * later DUTs resume from it instead of booting.
   */
  golden?: GoldenCache;
  /** How long SSH is dialled after a boot before the DUT is diagnosed over serial. Default 120 s. */
  sshDialMs?: number;
  /** Default console. `ssh` needs the run key and a board network. */
  login?: LoginVia;
  /** Told how writing the medium goes (a farm board's SD card takes minutes). */
  onWriteProgress?: (progress: WriteProgress) => void;
  /** The image is an installer (a flasher): its first boot writes the OS to the board's internal storage and powers off. */
  installer?: boolean;
  /** How long the installer may take to power the board off. Default 30 minutes. */
  flashTimeoutMs?: number;
  /** Told every FLASH_PROGRESS_MS while the installer runs: how long, and its last console line. */
  onFlashProgress?: (progress: FlashProgress) => void;
}

export interface FlashProgress {
  elapsedMs: number;
  lastLine: string;
}

const FLASH_PROGRESS_MS = 15_000;

/**
 * A device under test: the lifecycle machine driving a bound board. Each
 * public method is one request to the machine; requests queue, so callers
 * never interleave on the console. The timeline records every transition.
 */
export class Dut {
  readonly name: string;
  readonly login: LoginVia;
  readonly timeline = new Timeline();
  readonly transcript: Transcript;
  private readonly actor: Actor<typeof lifecycle>;
  private console: Console | undefined;
  private shell: Shell | undefined;
  private serial: SerialTransport | undefined;
  /** This run's SSH key; a DUT resuming a golden snapshot takes the key that snapshot was provisioned with. */
  private runKey: RunKey | undefined;
  /** The golden snapshot this DUT resumed or will save, by key. */
  private goldenKey: { key: string; parts: GoldenKeyParts } | undefined;
  /** The board's own medium holds the golden state (resumed from, or saved by this DUT): it can rewind to it. */
  private holdsGolden = false;
  private queue: Promise<unknown> = Promise.resolve();
  private closed: Promise<void> | undefined;
  /** Every fault of the run, in order: a test asks for those in its own time span. */
  readonly faults: Fault[] = [];
  private readonly faultListeners = new Set<(fault: Fault) => void>();
  /** The kernel's boot id since the last login: SSH compares it after each dial. */
  private bootId: string | undefined;
  /** SSH and the DUT's ports, through the board's network. */
  private readonly net: NetworkAccess;

  constructor(
    readonly board: BoundBoard,
    private readonly options: DutOptions,
  ) {
    this.name = board.name;
    this.transcript = new Transcript({ logFile: path.join(options.dir, 'console.jsonl') });
    this.runKey = options.ssh === false ? undefined : generateRunKey(`dutlab-${board.name}`);
    this.login = options.login ?? 'console';
    this.net = new NetworkAccess({
      name: this.name,
      board,
      transcript: this.transcript,
      dialMs: options.sshDialMs ?? 120_000,
      runKey: () => this.runKey,
      serial: () => this.serial,
      recentText: () => this.requireConsole().recentText(),
    });
    if (this.login === 'ssh') {
      const missing = !board.network
        ? 'a board network: the board file has none'
        : board.network.asksConsole
          ? 'a network address known without a console shell (a static address or DHCP leases; the board asks the DUT over its console)'
          : !this.runKey
            ? 'the run key (ssh: false was given)'
            : undefined;
      if (missing) throw new DutError('config', `login over SSH needs ${missing}`, { dut: board.name, step: 'login' });
    }
    if (options.installer && !board.power.waitOff) {
      throw new DutError('config', `the image is an installer (a flasher), but board ${board.name} cannot tell when the installer powers it off: write the OS image itself`, {
        dut: board.name,
        step: 'flash',
      });
    }
    const bootTimeoutMs = options.bootTimeoutMs ?? 6 * 60_000;
    // An installer's first boot writes another disk: there is nothing to resume it from.
    const golden = options.golden !== undefined && board.snapshot !== undefined && options.installer !== true;
    const machine = lifecycle.provide({
      actors: {
        prepare: fromPromise(() => this.prepare()),
        // The board is off while its medium is written: a mux switched to the host takes the card away from it.
        writeMedium: fromPromise<WrittenMedium, { resume: boolean }>(async ({ input }) => {
          await board.power.off();
          this.holdsGolden = false;
          this.goldenKey = golden ? await this.goldenKeyFor() : undefined;
          const resumed = this.goldenKey && input.resume ? await this.resumeMedium(this.goldenKey.key) : undefined;
          if (resumed) return resumed;
          const medium = await board.storage.write(options.image, {
            ...(options.onWriteProgress ? { progress: options.onWriteProgress } : {}),
            ...(options.installer ? { installer: true } : {}),
          });
          if (medium.summary) this.transcript.info(`medium ${medium.path} written: ${medium.summary}`);
          return this.goldenKey ? { ...medium, golden: 'save' } : medium;
        }),
        restore: fromPromise(() => this.resume()),
        rewind: fromPromise(() => this.rewindNow()),
        saveGolden: fromPromise(() => this.saveGolden()),
        provision: fromPromise<void, Medium>(async ({ input }) => {
          await provisionMedium(options.image, input, {
            ...(this.runKey ? { sshPublicKey: this.runKey.publicKey } : {}),
            ...(options.config ? { config: options.config } : {}),
          });
          await board.storage.handOver();
        }),
        powerOn: fromPromise(() => board.power.on()),
        flash: fromPromise(() => this.flash(options.flashTimeoutMs ?? 30 * 60_000)),
        waitForShell: fromPromise(() => this.waitForShell(bootTimeoutMs, 'boot')),
        powerCycle: fromPromise(async () => {
          this.requireConsole().expectReboot();
          await this.net.drop();
          const since = Date.now();
          await board.power.cycle();
          await this.newKernelBoot('power cycle', since);
        }),
        exec: fromPromise<unknown, ExecRequest>(async ({ input, signal }) => {
          // Stopped by the machine (a FAULT moved it on) or by the caller: either ends the operation.
          const both = input.signal ? AbortSignal.any([signal, input.signal]) : signal;
          return input.run(await this.transportFor(input.transport, both), both);
        }),
        recoverFromFault: fromPromise<void, DutError>(({ input }) => this.recoverFromFault(input, bootTimeoutMs)),
        reboot: fromPromise<void, RebootOptions>(({ input }) => this.rebootNow(input, bootTimeoutMs)),
        // Without a reset line (a relay board) the reset is a power cycle, and the timeline's detail says so.
        hardReset: fromPromise(async () => {
          this.requireConsole().expectReboot();
          await this.net.drop();
          const since = Date.now();
          if (board.reset) await board.reset.reset();
          else await board.power.cycle();
          await this.newKernelBoot(board.reset ? 'hard reset' : 'hard reset (power cycle: the board has no reset line)', since);
        }),
        powerOff: fromPromise(async () => {
          await this.net.drop();
          await board.power.off();
        }),
      },
    });
    this.actor = createActor(machine, { input: { dut: this.name, maxBootAttempts: options.maxBootAttempts ?? 2, installer: options.installer === true, golden } });
    let previous = '';
    this.actor.subscribe({
      // Commands (ready ⇄ busy) are the transcript's business; the timeline keeps the lifecycle.
      next: (snapshot) => {
        const state = String(snapshot.value);
        if (state === 'busy') return;
        const { cause, why } = snapshot.context;
        const explained = state === 'power-cycling' || state === 'recovering' || (state === 'writing-medium' && previous === 'restoring');
        previous = state;
        this.timeline.enter(state, state === 'broken' ? cause?.message : explained ? why : undefined);
      },
      error: () => undefined,
    });
    this.actor.start();
  }

  /** The lifecycle state: idle, booting, ready, busy, broken, ... */
  get state(): string {
    return String(this.actor.getSnapshot().value);
  }

  /** The boot id of the boot the harness is logged in to (/proc/sys/kernel/random/boot_id), once known. */
  get currentBoot(): string | undefined {
    return this.bootId;
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
    return this.runKey && this.board.network ? 'ssh' : 'serial';
  }

  /**
   * The transport that can be used right now: the default, or the serial
   * console when SSH was found unreachable in this boot (artifact collection
   * must not wait out a dial deadline to learn that again).
   */
  get reachableTransport(): TransportKind {
    return this.net.sshUnreachable ? 'serial' : this.defaultTransport;
  }

  async exec(command: string, options: { transport?: TransportKind; timeoutMs?: number } & OperationOptions = {}): Promise<ExecResult> {
    const transport = options.transport ?? this.defaultTransport;
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs ?? 120_000;
    const result = await this.operate(transport, `exec ${command}`, options.signal, (t, signal) =>
      t.exec(command, { timeoutMs, step: `${transport} exec`, signal }),
    );
    return { ...(result as TransportExecResult), transport };
  }

  /** Copies a file to the DUT (verified), over SSH or, without a network, the serial line. */
  async put(localPath: string, remotePath: string, options: PutOptions & { transport?: TransportKind } = {}): Promise<void> {
    const transport = options.transport ?? this.defaultTransport;
    await this.operate(transport, `put ${remotePath}`, options.signal, (t, signal) =>
      t.put(localPath, remotePath, { step: `${transport} put`, ...options, signal }),
    );
  }

  async get(remotePath: string, localPath: string, options: GetOptions & { transport?: TransportKind } = {}): Promise<void> {
    const transport = options.transport ?? this.defaultTransport;
    await this.operate(transport, `get ${remotePath}`, options.signal, (t, signal) =>
      t.get(remotePath, localPath, { step: `${transport} get`, ...options, signal }),
    );
  }

  /** Where the DUT's sshd is reachable, resolved by the board's network driver. */
  sshEndpoint(signal?: AbortSignal): Promise<NetworkEndpoint> {
    return this.net.sshEndpoint(signal);
  }

  /** Where this host reaches the DUT's TCP `port` (as from the board's network), e.g. the engine's 2375. */
  reach(port: number, options: OperationOptions = {}): Promise<NetworkEndpoint> {
    return this.net.reach(port, options.signal);
  }

  /**
   * Calls `listener` for each panic or unexpected reset the console sees,
   * the moment it is seen, whatever transport is in use; returns the
   * unsubscribe function. The runner fails the running test with it.
   */
  onFault(listener: (fault: Fault) => void): () => void {
    this.faultListeners.add(listener);
    return () => this.faultListeners.delete(listener);
  }

  /** The first fault seen at or after `since` (ms since the epoch). */
  faultSince(since: number): Fault | undefined {
    return this.faults.find((fault) => fault.at >= since);
  }

  /**
   * Runs `work` inside a tolerance window: kernel traces the test provokes on
   * purpose are noted in the transcript, not raised. The window closes when
   * `work` settles, whatever it did.
   */
  async toleratingTraces<T>(work: () => Promise<T>): Promise<T> {
    const console = this.requireConsole();
    console.tolerateTraces(true);
    try {
      return await work();
    } finally {
      console.tolerateTraces(false);
    }
  }

  /**
   * Resolves once the lifecycle rests (ready, broken, off, idle): after a
   * fault the DUT is brought back, or latched broken, before anyone goes on.
   */
  async settled(): Promise<void> {
    if (this.closed) return;
    await waitFor(this.actor, (snapshot) => SETTLED.has(String(snapshot.value)) || snapshot.status !== 'active', { timeout: Infinity });
  }

  /**
   * Ask the OS to reboot; see the console go down and a new boot come up; log
   * in again. `initiate: false` waits for a reboot the DUT does by itself (a
   * rollback); `tolerateTraces` lets a boot on the way panic on purpose (a
   * broken update the bootloader must fall back from).
   */
  async reboot(options: RebootOptions = {}): Promise<void> {
    if (this.login === 'ssh' && (options.kernelBoots ?? 1) > 1) {
      // Refused here, not in the lifecycle: a failed reboot there would be power-cycled.
      throw new DutError('config', `counting ${options.kernelBoots} kernel boots needs the kernel's messages on the serial console; this DUT is reached over SSH alone`, {
        dut: this.name,
        step: 'reboot',
      });
    }
    await this.request((reply) => ({ type: 'REBOOT', options, reply }));
  }

  /**
   * Logs in on the console again, for a test that had the OS restart its
   * console getty on purpose (development mode left and entered again). A
   * shell still logged in is kept. A DUT driven over SSH alone has no console
   * shell: nothing to do.
   */
  async relogin(options: OperationOptions & { timeoutMs?: number } = {}): Promise<void> {
    if (this.login !== 'console') return;
    await this.operate('serial', 'console login again', options.signal, async () => {
      this.transcript.info('console: logging in again, as the test asked (its getty was restarted)');
      const before = this.bootId;
      await this.waitForShell(options.timeoutMs ?? 120_000, 'console login again');
      // A getty restarted is not a boot: a new boot found here is a reset, not taken in silently.
      if (before && this.bootId && this.bootId !== before) {
        throw new DutError('reset', `logging in again found boot ${this.bootId}, not ${before}: the DUT rebooted while nobody asked it to`, {
          dut: this.name,
          step: 'console login again',
          excerpt: this.requireConsole().recentText(),
        });
      }
    });
  }

  /** Whether `rewind()` can take this DUT back to a golden state: the board saves states, and this DUT resumed or saved one. */
  get rewindable(): boolean {
    return this.holdsGolden && this.board.snapshot !== undefined;
  }

  /**
   * Takes the running DUT back to its golden state (the one it resumed, or
   * saved at its first boot), logged in, clock set: test isolation. A rewind
   * that fails rejects, and the DUT is power-cycled for whoever comes next.
   */
  async rewind(): Promise<void> {
    if (!this.rewindable) throw new DutError('config', 'this DUT holds no golden state to rewind to (booted cold, or its board cannot save states)', { dut: this.name, step: 'rewind' });
    await this.request((reply) => ({ type: 'REWIND', reply }));
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
      await Promise.allSettled([this.net.drop(), this.board.power.off()]);
      this.console?.close();
      await this.board.console.close().catch(() => undefined);
      await this.board.storage.release().catch(() => undefined);
      await this.board.close().catch(() => undefined);
      await this.transcript.close();
    })();
    return this.closed;
  }

  /** Runs one transport operation as the lifecycle's busy state. */
  private operate(
    transport: TransportKind,
    describe: string,
    signal: AbortSignal | undefined,
    run: (t: Transport, signal: AbortSignal) => Promise<unknown>,
  ): Promise<unknown> {
    const request: ExecRequest = { transport, describe, run, ...(signal ? { signal } : {}) };
    return this.request((reply) => ({ type: 'EXEC', request, reply }), signal);
  }

  /**
   * Queues a request; it is sent once the machine rests. An aborted caller
   * stops waiting at once, and a request whose caller gave up while queued is
   * never sent.
   */
  private request(make: (reply: Reply) => LifecycleEvent, signal?: AbortSignal): Promise<unknown> {
    const run = this.queue.then(async () => {
      await this.settled();
      return new Promise<unknown>((resolve, reject) => {
        if (this.closed) {
          reject(new DutError('config', 'the DUT was closed', { dut: this.name }));
          return;
        }
        if (signal?.aborted) {
          reject(abortReason(signal, this.name));
          return;
        }
        this.actor.send(make({ resolve, reject }));
      });
    });
    this.queue = run.catch(() => undefined);
    return untilAborted(run, signal);
  }

  /** A fault from the console: recorded, told to the runner, and handed to the lifecycle. */
  private faulted(error: DutError): void {
    const fault = { at: Date.now(), error };
    this.faults.push(fault);
    for (const listener of this.faultListeners) listener(fault);
    this.actor.send({ type: 'FAULT', error });
  }

  /**
   * After a fault the DUT comes back by itself or not at all: a reset boots
   * again, a kernel panic reboots (panic=N) into a new boot, a non-fatal trace
   * (Oops, WARNING) leaves a shell that may still answer. What does not come
   * back within the bounds is power-cycled by the machine.
   */
  private async recoverFromFault(fault: DutError, bootTimeoutMs: number): Promise<void> {
    const console = this.requireConsole();
    await this.net.drop();
    const fatal = fault.kind === 'reset' || /Kernel panic/.test(`${fault.message}\n${fault.excerpt ?? ''}`);
    if (!fatal && this.serial) {
      const answered = await this.serial.exec('true', { timeoutMs: 15_000, step: 'recover: is the shell alive' }).then(
        (result) => result.exitCode === 0,
        () => false,
      );
      if (answered) return;
    }
    console.expectReboot();
    await this.newKernelBoot(`recover from ${fault.kind}`);
    await this.waitForShell(bootTimeoutMs, 'recover');
  }

  /**
   * Waits for the kernel banner of the boot that follows a reset, a power
   * cycle or a fault. Logging in before it would race the reboot: the old
   * shell's last prompt can still be on the line (seen after a QMP reset),
   * and would pass for the new boot's.
   */
  private async newKernelBoot(after: string, boardRestartedAt?: number): Promise<void> {
    // A silent console shows no banner: the boot id over SSH tells the new boot (waitForShell).
    if (this.login === 'ssh') return;
    const step = `${after}: wait for a new kernel boot`;
    const console = this.requireConsole();
    await this.board.whileAlive(console.expect([KERNEL_BANNER], { timeoutMs: 120_000, step, reset: 'allow' })).catch((error: unknown) => {
      // Not a single firmware or bootloader line after the board was told to restart: the board, not the OS.
      if (boardRestartedAt !== undefined && error instanceof DutError && error.kind === 'timeout' && console.bootSignsSince(boardRestartedAt).length === 0) {
        throw new DutError('power', `the board showed no sign of restarting within 120 s of the ${after} (no firmware, bootloader or kernel output)`, {
          dut: this.name,
          step,
          excerpt: error.excerpt,
        });
      }
      throw error;
    });
  }

  /**
   * Boots the installer and waits, bounded, for it to power the board off by
   * itself; its progress (the last console line) is told meanwhile. An
   * installer that never powers off is the OS's failure to install.
   */
  private async flash(timeoutMs: number): Promise<void> {
    const console = this.requireConsole();
    const waitOff = this.board.power.waitOff?.bind(this.board.power);
    if (!waitOff) throw new DutError('config', 'the board cannot tell when an installer powers it off', { dut: this.name, step: 'flash' });
    const started = Date.now();
    await this.board.power.on();
    const report = () => {
      const lastLine = console.recentText().split('\n').map((line) => line.trim()).filter(Boolean).at(-1) ?? '';
      const progress = { elapsedMs: Date.now() - started, lastLine };
      this.transcript.info(`flashing: ${Math.round(progress.elapsedMs / 1000)} s; last line: ${lastLine}`);
      this.options.onFlashProgress?.(progress);
    };
    const timer = setInterval(report, FLASH_PROGRESS_MS);
    try {
      await within(waitOff(), timeoutMs, () =>
        new DutError('not-ready', `the installer did not power the board off within ${Math.round(timeoutMs / 60_000)} min`, {
          dut: this.name,
          step: 'flash',
          excerpt: console.recentText(),
        }),
      );
    } finally {
      clearInterval(timer);
    }
    this.transcript.info(`flashing: the installer powered the board off after ${Math.round((Date.now() - started) / 1000)} s`);
    // The installed OS's boot banner comes next, not an unexpected reset.
    console.expectReboot();
  }

  /** The golden snapshot key of this image, board profile and provisioning. */
  private async goldenKeyFor(): Promise<{ key: string; parts: GoldenKeyParts } | undefined> {
    const snapshot = this.board.snapshot;
    if (!snapshot) return undefined;
    const provisioning = { config: this.options.config ?? null, login: this.login, ssh: this.options.ssh !== false };
    const parts = await GoldenCache.keyParts(this.options.image, await snapshot.profile(), provisioning);
    return { key: GoldenCache.key(parts), parts };
  }

  /**
   * The medium as a copy of the golden snapshot `key`, when there is one;
   * undefined to write it as usual (then the first boot saves one). A
   * snapshot that cannot be copied is forgotten.
   */
  private async resumeMedium(key: string): Promise<WrittenMedium | undefined> {
    const cache = this.options.golden;
    const snapshot = this.board.snapshot;
    if (!cache || !snapshot) return undefined;
    const entry = await cache.lookup(key);
    if (!entry) {
      this.transcript.info(`golden snapshot ${key}: none yet; this boot saves one`);
      return undefined;
    }
    try {
      const medium = await snapshot.resumeFrom(entry.dir, this.options.image);
      if (entry.runKey) this.runKey = entry.runKey;
      this.transcript.info(`golden snapshot ${key}: resuming from ${medium.summary ?? entry.dir}`);
      return { ...medium, golden: 'resume' };
    } catch (error) {
      this.transcript.info(`golden snapshot ${key} is unusable (${error instanceof Error ? error.message : String(error)}): forgotten; booting cold`);
      await cache.forget(key);
      return undefined;
    }
  }

  /**
   * Powers the board on into the golden snapshot and takes it as booted:
   * the shell (or SSH) answers, the clock is set to now (it resumes at the
   * moment of the save), the boot id is read. A snapshot that does not
   * resume is forgotten, and the lifecycle boots cold.
   */
  private async resume(): Promise<void> {
    try {
      await this.board.power.on();
      await this.waitForShell(RESUME_TIMEOUT_MS, 'restore', 500);
      await this.setClock('restore');
      this.holdsGolden = true;
    } catch (error) {
      if (this.goldenKey) await this.options.golden?.forget(this.goldenKey.key);
      this.transcript.info(`golden snapshot ${this.goldenKey?.key ?? '?'} did not resume: forgotten`);
      await this.net.drop();
      throw error;
    }
  }

  /**
   * After the first boot: waits for the boot to finish (systemd says running
   * or degraded), drops SSH so that no session is frozen in the state, and
   * saves the board's state. A state that could not be saved is noted, not
   * the boot's failure; a fault on the way (a panic, a reset) is the boot's,
   * and a state saved across one is dropped.
   */
  private async saveGolden(): Promise<void> {
    const cache = this.options.golden;
    const snapshot = this.board.snapshot;
    const golden = this.goldenKey;
    if (!cache || !snapshot || !golden) return;
    const started = Date.now();
    try {
      const transport = await this.transportFor(this.login === 'ssh' ? 'ssh' : 'serial', AbortSignal.timeout(GOLDEN_SETTLE_MS + 60_000));
      const settled = await transport.exec('systemctl is-system-running --wait', { timeoutMs: GOLDEN_SETTLE_MS, step: 'golden: boot finished' });
      const state = settled.stdout.trim();
      if (!/^(running|degraded)$/.test(state)) throw new DutError('not-ready', `the boot did not finish (systemd says "${state}")`, { dut: this.name, step: 'golden' });
      await this.net.drop();
      const entry = await cache.store(this.name, golden.parts, this.runKey, (dir) => snapshot.save(dir));
      const fault = this.faultSince(started);
      if (fault) {
        await cache.forget(entry.key);
        throw fault.error;
      }
      this.holdsGolden = true;
      this.transcript.info(`golden snapshot ${entry.key} saved in ${Math.round((Date.now() - started) / 100) / 10} s (systemd ${state}): ${entry.dir}, ${Math.round(entry.bytes / 2 ** 20)} MiB`);
      await this.setClock('golden');
    } catch (error) {
      this.transcript.info(`golden snapshot ${golden.key} not saved: ${error instanceof Error ? error.message : String(error)}`);
      if (this.faultSince(started) || (error instanceof DutError && BOOT_FAULTS.has(error.kind))) throw error;
    }
  }

  /** The rewind actor: the board back to the saved state, then taken as resumed (shell, clock, boot id). */
  private async rewindNow(): Promise<void> {
    const started = Date.now();
    await this.net.drop();
    await (this.board.snapshot as SnapshotDriver).rewind();
    // The saved state's boot answers, not a new one: SSH must not wait for a boot id other than the last.
    this.bootId = undefined;
    await this.waitForShell(RESUME_TIMEOUT_MS, 'rewind', 500);
    await this.setClock('rewind');
    this.transcript.info(`rewound to the golden state in ${((Date.now() - started) / 1000).toFixed(1)} s (boot ${this.bootId ?? '?'})`);
  }

  /** Sets the DUT's clock to this host's: a resumed state wakes at the moment it was saved. */
  private async setClock(step: string): Promise<void> {
    const transport = await this.transportFor(this.login === 'ssh' ? 'ssh' : 'serial', AbortSignal.timeout(60_000));
    const result = await transport.exec(`date -u -s @${(Date.now() / 1000).toFixed(3)} >/dev/null`, { timeoutMs: 30_000, step: `${step}: set the clock` });
    if (result.exitCode !== 0) throw new DutError('command', `setting the clock exited ${result.exitCode}: ${result.stdout}${result.stderr}`, { dut: this.name, step });
  }

  private requireConsole(): Console {
    if (!this.console) throw new DutError('console-lost', 'the console is not open', { dut: this.name });
    return this.console;
  }

  /** The console is open before the board is touched, so the transcript has every byte from power-on. */
  private async prepare(): Promise<void> {
    const stream = await this.board.console.open();
    this.console = new Console({ stream, name: this.name, transcript: this.transcript, onFault: (error) => this.faulted(error) });
  }

  private async waitForShell(timeoutMs: number, step: string, pokeMs?: number): Promise<void> {
    if (this.login === 'ssh') {
      this.bootId = await this.net.waitForBoot(this.bootId, timeoutMs, step);
      return;
    }
    this.shell = await this.board.whileAlive(login(this.requireConsole(), { timeoutMs, step, ...(pokeMs ? { pokeMs } : {}) }));
    this.serial = new SerialTransport({ shell: this.shell, dut: this.name, note: (text) => this.transcript.info(text) });
    this.net.newBoot();
    const id = await this.serial.exec(BOOT_ID, { timeoutMs: 30_000, step: `${step}: boot id` });
    this.bootId = id.exitCode === 0 ? id.stdout.trim() : undefined;
  }

  private async transportFor(kind: TransportKind, signal: AbortSignal): Promise<Transport> {
    if (kind === 'ssh') return this.net.transport(this.bootId, signal);
    if (!this.serial) throw new DutError('console-lost', 'no shell on the console', { dut: this.name, step: 'serial' });
    return this.serial;
  }

  private async rebootNow(options: RebootOptions, bootTimeoutMs: number): Promise<void> {
    const { initiate = true, tolerateTraces = false, bannerTimeoutMs = 120_000, kernelBoots = 1 } = options;
    const console = this.requireConsole();
    console.expectReboot();
    if (tolerateTraces) console.tolerateTraces(true);
    try {
      if (this.login === 'ssh') {
        // Detached, so that the command returns before sshd goes down with the OS.
        if (initiate) await (await this.transportFor('ssh', AbortSignal.timeout(180_000))).exec('(sleep 1; reboot) </dev/null >/dev/null 2>&1 &', { timeoutMs: 30_000, step: 'reboot' });
        await this.net.drop();
        await this.waitForShell(bootTimeoutMs, 'reboot');
        return;
      }
      await this.net.drop();
      // Not through the shell: the command never completes, the console goes down.
      if (initiate) await console.send('reboot\n');
      // Every boot prints the kernel banner once (firmware and bootloader
      // banners vary by board): count those.
      const since = Date.now();
      for (let boot = 1; boot <= kernelBoots; boot++) {
        const step = `reboot: wait for kernel boot ${boot}`;
        await this.board.whileAlive(console.expect([KERNEL_BANNER], { timeoutMs: bannerTimeoutMs, step, reset: 'allow' })).catch((error: unknown) => {
          if (!(error instanceof DutError && error.kind === 'timeout')) throw error;
          // The OS announced the restart and then nothing came: the machine did not restart (seen under TCG), not the OS.
          const signs = console.bootSignsSince(since);
          if (signs.length > 0 && signs.every((line) => RESTART_ANNOUNCEMENT.test(line))) {
            throw new DutError('power', `the OS restarted the machine ("${signs.at(-1)}") but the board showed no firmware, bootloader or kernel output within ${bannerTimeoutMs / 1000} s`, {
              dut: this.name,
              step,
              excerpt: error.excerpt,
            });
          }
          const what = kernelBoots > 1 ? `kernel boot ${boot} of ${kernelBoots}` : 'a new kernel boot';
          throw new DutError('timeout', `${what} not seen on the console within ${bannerTimeoutMs / 1000} s`, { dut: this.name, step, excerpt: error.excerpt });
        });
        console.note(`reboot: kernel boot ${boot} of ${kernelBoots} seen`);
      }
      await this.waitForShell(bootTimeoutMs, 'reboot');
    } finally {
      if (tolerateTraces) console.tolerateTraces(false);
    }
  }
}
