import { assign, fromPromise, setup } from 'xstate';
import { DutError } from '../errors.ts';
import type { Transport } from '../transports/types.ts';
import type { Medium } from './drivers.ts';

/**
 * The DUT lifecycle as one xstate machine, to be read top to bottom. The
 * machine only decides; every piece of I/O is an actor the Dut supplies
 * (`machine.provide`), so tests can run the chart against fakes.
 *
 *   idle → preparing (console) → writing-medium → provisioning → powering-on
 *     → booting → ready ⇄ busy
 *   with golden snapshots: writing-medium → restoring → ready, resuming the
 *     state a first boot saved (booting → saving-golden → ready); a state
 *     that does not resume is forgotten and the medium written again, cold
 *   provisioning → flashing → powering-on, for an installer image: it boots,
 *     writes the OS to the board's internal storage and powers the board off
 *   ready → rebooting | resetting | powering-off → off
 *   ready → rewinding → ready: the running board back to its golden state
 *     (test isolation); one that does not rewind is power-cycled, as a boot
 *   booting/rebooting fail → power-cycling → booting (bounded) → broken
 *   ready/busy + FAULT (a panic or reset the console saw) → recovering →
 *     ready, or power-cycling when the DUT does not come back by itself
 *   broken latches: every later request fails at once with the first cause,
 *   until RECOVER power-cycles the board.
 *
 * What the harness rescues is never the OS's success: a REBOOT or HARD_RESET
 * that needs a power cycle to come back is rejected (reboot-hung, or the
 * panic seen on the way) before the rescue starts, and the request that a
 * FAULT interrupts is rejected with the fault. Only then does the machine
 * bring the DUT back for whoever comes next.
 */

export interface Reply {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One operation (exec, put, get) to run on a transport while the DUT is busy. */
export interface ExecRequest {
  transport: 'serial' | 'ssh';
  describe: string;
  /** The caller's signal: aborting it ends the operation (the remote command is killed). */
  signal?: AbortSignal;
  run(transport: Transport, signal: AbortSignal): Promise<unknown>;
}

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

/** The medium as written, and whether the board resumes from a saved state on it or saves one after booting. */
export type WrittenMedium = Medium & { golden?: 'resume' | 'save' };

export type LifecycleEvent =
  | { type: 'BOOT'; reply: Reply }
  | { type: 'EXEC'; request: ExecRequest; reply: Reply }
  | { type: 'REBOOT'; options?: RebootOptions; reply: Reply }
  | { type: 'HARD_RESET'; reply: Reply }
  | { type: 'POWER_OFF'; reply: Reply }
  | { type: 'RECOVER'; reply: Reply }
  | { type: 'REWIND'; reply: Reply }
  /** The console saw a panic or a reset nobody asked for. */
  | { type: 'FAULT'; error: DutError };

export interface LifecycleContext {
  dut: string;
  maxBootAttempts: number;
  bootAttempts: number;
  pending: Reply | undefined;
  /** Which request `pending` answers: a rescued REBOOT is rejected, a rescued BOOT is not. */
  pendingType: LifecycleEvent['type'] | undefined;
  request: ExecRequest | undefined;
  /** How the REBOOT being served reboots, handed to the reboot actor. */
  rebootOptions: RebootOptions;
  /** The fault being recovered from, handed to the recovery actor. */
  fault: DutError | undefined;
  /** The medium as written, handed to provisioning (QEMU: the run's overlay; a farm board: its SD card). */
  medium: WrittenMedium | undefined;
  /** A golden snapshot may be resumed from; off once one failed to resume. */
  resume: boolean;
  /** Why the machine is power-cycling or recovering: the timeline says so. */
  why: string | undefined;
  /** The image is an installer (a flasher): its first boot installs the OS and powers off. */
  installer: boolean;
  /** The first unrecoverable error; set once, reported by every later request. */
  cause: DutError | undefined;
}

export interface LifecycleInput {
  dut: string;
  /** Boots (first try included) before the DUT is declared broken. */
  maxBootAttempts: number;
  installer?: boolean;
  golden?: boolean;
}

/** What the console reports about the OS itself: recovered from, then the DUT carries on. */
const FAULTS = new Set(['panic', 'reset']);
/** Failures that say the board, not the command, is in trouble. */
const DEVICE_FAILURES = new Set(['process']);
/** ... and on the serial console also these: the shell is in an unknown state after them. */
const SERIAL_FAILURES = new Set(['timeout', 'console-lost']);

function asDutError(error: unknown, dut: string, step: string): DutError {
  if (error instanceof DutError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DutError('process', message, { dut, step, cause: error });
}

const unprovided = (name: string) =>
  fromPromise<void, unknown>(async () => {
    throw new Error(`lifecycle actor "${name}" was not provided`);
  });

export const lifecycle = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as LifecycleInput,
  },
  actors: {
    prepare: unprovided('prepare'),
    writeMedium: fromPromise<WrittenMedium, { resume: boolean }>(async () => {
      throw new Error('lifecycle actor "writeMedium" was not provided');
    }),
    restore: unprovided('restore'),
    saveGolden: unprovided('saveGolden'),
    provision: fromPromise<void, Medium>(async () => {
      throw new Error('lifecycle actor "provision" was not provided');
    }),
    powerOn: unprovided('powerOn'),
    flash: unprovided('flash'),
    waitForShell: unprovided('waitForShell'),
    powerCycle: unprovided('powerCycle'),
    recoverFromFault: fromPromise<void, DutError>(async () => {
      throw new Error('lifecycle actor "recoverFromFault" was not provided');
    }),
    exec: fromPromise<unknown, ExecRequest>(async () => {
      throw new Error('lifecycle actor "exec" was not provided');
    }),
    reboot: fromPromise<void, RebootOptions>(async () => {
      throw new Error('lifecycle actor "reboot" was not provided');
    }),
    hardReset: unprovided('hardReset'),
    rewind: unprovided('rewind'),
    powerOff: unprovided('powerOff'),
  },
  guards: {
    isInstaller: ({ context }) => context.installer,
    resumes: ({ event }) => (event as { output?: WrittenMedium }).output?.golden === 'resume',
    savesGolden: ({ context }) => context.medium?.golden === 'save' && context.pendingType === 'BOOT',
    canRetryBoot: ({ context }) => context.bootAttempts < context.maxBootAttempts,
    isFault: ({ event }) => {
      const error = (event as { error?: unknown }).error;
      return error instanceof DutError && FAULTS.has(error.kind);
    },
    isDeviceFailure: ({ context, event }) => {
      const error = (event as { error?: unknown }).error;
      if (!(error instanceof DutError)) return false;
      // The caller gave up (its test timed out): the shell was interrupted on purpose.
      if (context.request?.signal?.aborted) return false;
      return DEVICE_FAILURES.has(error.kind) || (context.request?.transport === 'serial' && SERIAL_FAILURES.has(error.kind));
    },
  },
  actions: {
    hold: assign({
      pending: ({ event }) => (event as { reply?: Reply }).reply,
      pendingType: ({ event }) => event.type,
      request: ({ event }) => (event.type === 'EXEC' ? event.request : undefined),
      rebootOptions: ({ event }) => (event.type === 'REBOOT' ? (event.options ?? {}) : {}),
    }),
    holdFault: assign(({ context, event }) => {
      const fault = asDutError((event as { error?: unknown }).error, context.dut, 'fault');
      return { fault, why: fault.message };
    }),
    rejectWithFault: assign({
      pending: ({ context, event }) => {
        context.pending?.reject(asDutError((event as { error?: unknown }).error, context.dut, 'command'));
        return undefined;
      },
    }),
    rejectRescued: assign({
      pending: ({ context, event }) => {
        if (context.pendingType !== 'REBOOT' && context.pendingType !== 'HARD_RESET') return context.pending;
        context.pending?.reject(rescuedError(context, (event as { error?: unknown }).error));
        return undefined;
      },
    }),
    countBoot: assign(({ context, event }) => ({
      bootAttempts: context.bootAttempts + 1,
      why: asDutError((event as { error?: unknown }).error, context.dut, 'boot').message,
    })),
    resetBootCount: assign({ bootAttempts: 1 }),
    holdMedium: assign({ medium: ({ event }) => (event as { output?: WrittenMedium }).output }),
    // Saved once: later boots of this DUT (power cycles) do not save again.
    goldenSaved: assign({ medium: ({ context }) => (context.medium ? { ...context.medium, golden: undefined } : undefined) }),
    goldenOff: assign(({ context, event }) => ({
      resume: false,
      why: `the golden snapshot did not resume (${asDutError((event as { error?: unknown }).error, context.dut, 'restore').reason}); writing the medium again to boot cold`,
    })),
    resolvePending: assign({
      pending: ({ context, event }) => {
        context.pending?.resolve((event as { output?: unknown }).output);
        return undefined;
      },
    }),
    rejectPending: assign({
      pending: ({ context, event }) => {
        context.pending?.reject(asDutError((event as { error?: unknown }).error, context.dut, 'command'));
        return undefined;
      },
    }),
    latch: assign({
      cause: ({ context, event }) => context.cause ?? asDutError((event as { error?: unknown }).error, context.dut, 'lifecycle'),
    }),
    failPending: assign({
      pending: ({ context }) => {
        context.pending?.reject(brokenError(context));
        return undefined;
      },
    }),
    refuse: ({ context, event }) => (event as { reply?: Reply }).reply?.reject(brokenError(context)),
    refuseBusy: ({ context, event }) =>
      (event as { reply?: Reply }).reply?.reject(
        new DutError('config', `"${event.type}" is not possible now: the DUT is busy or not booted`, { dut: context.dut }),
      ),
    clearCause: assign({ cause: undefined }),
    clearFault: assign({ fault: undefined }),
  },
}).createMachine({
  id: 'dut',
  context: ({ input }) => ({
    dut: input.dut,
    maxBootAttempts: input.maxBootAttempts,
    bootAttempts: 1,
    pending: undefined,
    pendingType: undefined,
    request: undefined,
    rebootOptions: {},
    fault: undefined,
    medium: undefined,
    resume: input.golden ?? false,
    why: undefined,
    installer: input.installer ?? false,
    cause: undefined,
  }),
  initial: 'idle',
  on: { '*': { actions: 'refuseBusy' } },
  states: {
    idle: {
      on: { BOOT: { target: 'preparing', actions: 'hold' } },
    },
    preparing: {
      invoke: { src: 'prepare', onDone: 'writing-medium', onError: { target: 'broken', actions: 'latch' } },
    },
    // Write, then provision, then power on; a board flashed while powered (recovery mode) reorders these states, not prepare.
    'writing-medium': {
      invoke: {
        src: 'writeMedium',
        input: ({ context }) => ({ resume: context.resume }),
        onDone: [
          { guard: 'resumes', target: 'restoring', actions: 'holdMedium' },
          { target: 'provisioning', actions: 'holdMedium' },
        ],
        onError: { target: 'broken', actions: 'latch' },
      },
    },
    // A saved state is a convenience: when it does not resume, the run boots as if there were none.
    restoring: {
      invoke: {
        src: 'restore',
        onDone: { target: 'ready', actions: 'resolvePending' },
        onError: { target: 'writing-medium', actions: 'goldenOff' },
      },
    },
    provisioning: {
      invoke: {
        src: 'provision',
        input: ({ context }) => context.medium as Medium,
        onDone: [{ guard: 'isInstaller', target: 'flashing' }, { target: 'powering-on' }],
        onError: { target: 'broken', actions: 'latch' },
      },
    },
    // Once per DUT: later boots, power cycles included, start the installed OS.
    flashing: {
      invoke: { src: 'flash', onDone: 'powering-on', onError: { target: 'broken', actions: 'latch' } },
    },
    'powering-on': {
      invoke: { src: 'powerOn', onDone: 'booting', onError: { target: 'broken', actions: 'latch' } },
    },
    booting: {
      invoke: {
        src: 'waitForShell',
        onDone: [
          { guard: 'savesGolden', target: 'saving-golden', actions: 'resetBootCount' },
          { target: 'ready', actions: ['resetBootCount', 'resolvePending'] },
        ],
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: ['rejectRescued', 'countBoot'] },
          { target: 'broken', actions: ['rejectRescued', 'latch'] },
        ],
      },
    },
    // A state that could not be saved is noted by the actor and the DUT carries on; a fault
    // meanwhile (a panic, a reset) is the boot's, as while booting: the DUT is power-cycled.
    'saving-golden': {
      on: { FAULT: [{ guard: 'canRetryBoot', target: 'power-cycling', actions: ['goldenSaved', 'countBoot'] }, { target: 'broken', actions: ['goldenSaved', 'latch'] }] },
      invoke: {
        src: 'saveGolden',
        onDone: { target: 'ready', actions: ['goldenSaved', 'resolvePending'] },
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: ['goldenSaved', 'countBoot'] },
          { target: 'broken', actions: ['goldenSaved', 'latch'] },
        ],
      },
    },
    'power-cycling': {
      invoke: { src: 'powerCycle', onDone: 'booting', onError: { target: 'broken', actions: 'latch' } },
    },
    ready: {
      on: {
        EXEC: { target: 'busy', actions: 'hold' },
        REBOOT: { target: 'rebooting', actions: 'hold' },
        HARD_RESET: { target: 'resetting', actions: 'hold' },
        POWER_OFF: { target: 'powering-off', actions: 'hold' },
        REWIND: { target: 'rewinding', actions: 'hold' },
        FAULT: { target: 'recovering', actions: 'holdFault' },
      },
    },
    // The harness's own step between tests: a rewind that fails is the caller's error, never a test's
    // verdict, and the board, in a state nobody knows, is power-cycled for whoever comes next.
    rewinding: {
      on: { FAULT: [{ guard: 'canRetryBoot', target: 'power-cycling', actions: ['rejectWithFault', 'countBoot'] }, { target: 'broken', actions: ['rejectWithFault', 'latch'] }] },
      invoke: {
        src: 'rewind',
        onDone: { target: 'ready', actions: 'resolvePending' },
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: ['rejectPending', 'countBoot'] },
          { target: 'broken', actions: ['rejectPending', 'latch'] },
        ],
      },
    },
    busy: {
      on: { FAULT: { target: 'recovering', actions: ['rejectWithFault', 'holdFault'] } },
      invoke: {
        src: 'exec',
        input: ({ context }) => context.request as ExecRequest,
        onDone: { target: 'ready', actions: 'resolvePending' },
        onError: [
          // A serial command that saw the panic or reset itself, before or without a FAULT.
          { guard: 'isFault', target: 'recovering', actions: ['rejectWithFault', 'holdFault'] },
          { guard: 'isDeviceFailure', target: 'broken', actions: 'latch' },
          { target: 'ready', actions: 'rejectPending' },
        ],
      },
    },
    recovering: {
      invoke: {
        src: 'recoverFromFault',
        input: ({ context }) => context.fault as DutError,
        onDone: { target: 'ready', actions: ['clearFault', 'resetBootCount'] },
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: ['clearFault', 'countBoot'] },
          { target: 'broken', actions: ['clearFault', 'latch'] },
        ],
      },
    },
    rebooting: {
      invoke: {
        src: 'reboot',
        input: ({ context }) => context.rebootOptions,
        onDone: { target: 'ready', actions: 'resolvePending' },
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: ['rejectRescued', 'countBoot'] },
          { target: 'broken', actions: ['rejectRescued', 'latch'] },
        ],
      },
    },
    resetting: {
      invoke: {
        src: 'hardReset',
        onDone: 'booting',
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: ['rejectRescued', 'countBoot'] },
          { target: 'broken', actions: ['rejectRescued', 'latch'] },
        ],
      },
    },
    'powering-off': {
      invoke: { src: 'powerOff', onDone: 'off', onError: { target: 'broken', actions: 'latch' } },
    },
    off: {
      entry: 'resolvePending',
      on: { BOOT: { target: 'powering-on', actions: 'hold' } },
    },
    broken: {
      entry: 'failPending',
      on: {
        RECOVER: { target: 'power-cycling', actions: ['hold', 'clearCause', 'resetBootCount'] },
        '*': { actions: 'refuse' },
      },
    },
  },
});

/**
 * Why a reboot the harness had to rescue failed: the panic seen on the way if
 * there was one (that is what the OS did), else reboot-hung with what the
 * console showed last.
 */
function rescuedError(context: LifecycleContext, error: unknown): DutError {
  const seen = asDutError(error, context.dut, 'reboot');
  // What the OS did (a panic), or the board that did not restart (power), is the verdict as it is.
  if (seen.kind === 'panic' || seen.kind === 'power') return seen;
  const what = context.pendingType === 'HARD_RESET' ? 'after a reset the OS' : 'the OS';
  return new DutError('reboot-hung', `${what} did not come back by itself (${seen.reason}); the harness power-cycled it`, {
    dut: context.dut,
    step: seen.step ?? 'reboot',
    excerpt: seen.excerpt,
    cause: seen,
  });
}

function brokenError(context: LifecycleContext): DutError {
  const cause = context.cause;
  return new DutError('broken', `broken since an earlier failure (${cause?.kind ?? 'unknown'}): ${cause?.reason ?? 'unknown cause'}`, {
    dut: context.dut,
    step: cause?.step ?? 'lifecycle',
    excerpt: cause?.excerpt,
    cause,
  });
}
