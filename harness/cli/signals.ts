/**
 * The process's one signal handler. The first SIGINT/SIGTERM/SIGHUP aborts
 * the shutdown signal the command was given: the command stops its work,
 * writes its reports and returns (2 for an interrupted run), whenever the
 * signal landed. A second signal, or a command that has not returned within
 * the grace period, ends the process at once; the clean-up registry's exit
 * hook then SIGKILLs what the harness started (QEMU, helpers).
 */
import { DutError } from '../errors.ts';
import { runCleanups } from '../proc/cleanup.ts';

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
const EXIT_INTERRUPTED = 2;

/** Why a command was stopped; `signalName` is what the reports name. */
export class Interruption extends DutError {
  constructor(readonly signalName: NodeJS.Signals) {
    super('interrupted', `run interrupted by ${signalName}`);
    this.name = 'Interruption';
  }
}

/** The signal name behind an aborted shutdown signal, if it was one. */
export function interruptedBy(signal: AbortSignal): NodeJS.Signals | undefined {
  return signal.aborted && signal.reason instanceof Interruption ? signal.reason.signalName : undefined;
}

export interface Shutdown {
  signal: AbortSignal;
  /** Stops listening (tests that install it in-process). */
  uninstall(): void;
}

export function handleSignals(graceMs = 90_000, stderr: NodeJS.WritableStream = process.stderr): Shutdown {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      stderr.write(`dutlab: ${name} again: stopping now\n`);
      process.exit(EXIT_INTERRUPTED);
    }
    stderr.write(`dutlab: ${name}: stopping, writing reports (${name} again stops at once)\n`);
    controller.abort(new Interruption(name));
    setTimeout(() => {
      stderr.write(`dutlab: did not stop within ${graceMs / 1000} s of ${name}; stopping now\n`);
      void runCleanups().finally(() => process.exit(EXIT_INTERRUPTED));
    }, graceMs).unref();
  };
  for (const name of SIGNALS) process.on(name, onSignal);
  return {
    signal: controller.signal,
    uninstall: () => {
      for (const name of SIGNALS) process.off(name, onSignal);
    },
  };
}
