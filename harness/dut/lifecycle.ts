import { assign, fromPromise, setup } from 'xstate';
import { DutError } from '../errors.ts';
import type { Transport } from '../transports/types.ts';

/**
 * The DUT lifecycle as one xstate machine, to be read top to bottom. The
 * machine only decides; every piece of I/O is an actor the Dut supplies
 * (`machine.provide`), so tests can run the chart against fakes.
 *
 *   idle → preparing → powering-on → booting → ready ⇄ busy
 *   ready → rebooting | resetting | powering-off → off
 *   booting/rebooting fail → power-cycling → booting (bounded) → broken
 *   broken latches: every later request fails at once with the first cause,
 *   until RECOVER power-cycles the board.
 */

export interface Reply {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** One operation (exec, put, get) to run on a transport while the DUT is busy. */
export interface ExecRequest {
  transport: 'serial' | 'ssh';
  describe: string;
  run(transport: Transport): Promise<unknown>;
}

export type LifecycleEvent =
  | { type: 'BOOT'; reply: Reply }
  | { type: 'EXEC'; request: ExecRequest; reply: Reply }
  | { type: 'REBOOT'; reply: Reply }
  | { type: 'HARD_RESET'; reply: Reply }
  | { type: 'POWER_OFF'; reply: Reply }
  | { type: 'RECOVER'; reply: Reply };

export interface LifecycleContext {
  dut: string;
  maxBootAttempts: number;
  bootAttempts: number;
  pending: Reply | undefined;
  request: ExecRequest | undefined;
  /** The first unrecoverable error; set once, reported by every later request. */
  cause: DutError | undefined;
}

export interface LifecycleInput {
  dut: string;
  /** Boots (first try included) before the DUT is declared broken. */
  maxBootAttempts: number;
}

/** Failures that say the device, not the command, is in trouble. */
const DEVICE_FAILURES = new Set(['panic', 'reset', 'process']);
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
    powerOn: unprovided('powerOn'),
    waitForShell: unprovided('waitForShell'),
    powerCycle: unprovided('powerCycle'),
    exec: fromPromise<unknown, ExecRequest>(async () => {
      throw new Error('lifecycle actor "exec" was not provided');
    }),
    reboot: unprovided('reboot'),
    hardReset: unprovided('hardReset'),
    powerOff: unprovided('powerOff'),
  },
  guards: {
    canRetryBoot: ({ context }) => context.bootAttempts < context.maxBootAttempts,
    isDeviceFailure: ({ context, event }) => {
      const error = (event as { error?: unknown }).error;
      if (!(error instanceof DutError)) return false;
      return DEVICE_FAILURES.has(error.kind) || (context.request?.transport === 'serial' && SERIAL_FAILURES.has(error.kind));
    },
  },
  actions: {
    hold: assign({
      pending: ({ event }) => (event as { reply?: Reply }).reply,
      request: ({ event }) => (event.type === 'EXEC' ? event.request : undefined),
    }),
    countBoot: assign({ bootAttempts: ({ context }) => context.bootAttempts + 1 }),
    resetBootCount: assign({ bootAttempts: 1 }),
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
  },
}).createMachine({
  id: 'dut',
  context: ({ input }) => ({
    dut: input.dut,
    maxBootAttempts: input.maxBootAttempts,
    bootAttempts: 1,
    pending: undefined,
    request: undefined,
    cause: undefined,
  }),
  initial: 'idle',
  on: { '*': { actions: 'refuseBusy' } },
  states: {
    idle: {
      on: { BOOT: { target: 'preparing', actions: 'hold' } },
    },
    preparing: {
      invoke: { src: 'prepare', onDone: 'powering-on', onError: { target: 'broken', actions: 'latch' } },
    },
    'powering-on': {
      invoke: { src: 'powerOn', onDone: 'booting', onError: { target: 'broken', actions: 'latch' } },
    },
    booting: {
      invoke: {
        src: 'waitForShell',
        onDone: { target: 'ready', actions: ['resetBootCount', 'resolvePending'] },
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: 'countBoot' },
          { target: 'broken', actions: 'latch' },
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
      },
    },
    busy: {
      invoke: {
        src: 'exec',
        input: ({ context }) => context.request as ExecRequest,
        onDone: { target: 'ready', actions: 'resolvePending' },
        onError: [
          { guard: 'isDeviceFailure', target: 'broken', actions: 'latch' },
          { target: 'ready', actions: 'rejectPending' },
        ],
      },
    },
    rebooting: {
      invoke: {
        src: 'reboot',
        onDone: { target: 'ready', actions: 'resolvePending' },
        onError: [
          { guard: 'canRetryBoot', target: 'power-cycling', actions: 'countBoot' },
          { target: 'broken', actions: 'latch' },
        ],
      },
    },
    resetting: {
      invoke: { src: 'hardReset', onDone: 'booting', onError: { target: 'broken', actions: 'latch' } },
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

function brokenError(context: LifecycleContext): DutError {
  const cause = context.cause;
  return new DutError('broken', `broken since an earlier failure (${cause?.kind ?? 'unknown'}): ${cause?.reason ?? 'unknown cause'}`, {
    dut: context.dut,
    step: cause?.step ?? 'lifecycle',
    excerpt: cause?.excerpt,
    cause,
  });
}
