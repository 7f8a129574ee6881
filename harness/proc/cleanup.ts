/**
 * Process-wide clean-up registry: whatever the harness started (QEMU, socat,
 * ...) registers here, and one place makes sure it is torn down however the
 * harness ends:
 *
 * - normal end / thrown exception: callers `await` their own stop(), which
 *   unregisters; an uncaught exception still ends in Node's 'exit' event;
 * - SIGINT / SIGTERM / SIGHUP: run every `graceful` step (bounded), then every
 *   `immediate` step, then exit with 128+signo like a shell would report;
 * - 'exit' event (process.exit(), uncaught exception, end of the event loop):
 *   only synchronous work is possible there, so `immediate` must be sync
 *   (e.g. SIGKILL a process group);
 * - SIGKILL of the harness: nothing here can run. That case is covered where
 *   the child is spawned (PR_SET_PDEATHSIG, see supervise.ts) and by the
 *   stale-run reaper at the next start-up.
 *
 * Signal handlers are installed only while something is registered, so a
 * process with nothing to clean keeps Node's default Ctrl-C behaviour.
 */
import { constants } from 'node:os';

export interface CleanupEntry {
  /** For diagnostics: what this entry tears down. */
  name: string;
  /** Bounded, orderly teardown (e.g. QMP quit). May be skipped if time runs out. */
  graceful?: () => Promise<unknown>;
  /** Synchronous last resort; must not throw and must be safe to call twice. */
  immediate: () => void;
}

const entries = new Set<CleanupEntry>();
const HANDLED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let signalsInstalled = false;
let exitInstalled = false;
let shuttingDown = false;
let lastSignal: NodeJS.Signals | undefined;

/** The signal that started the shutdown, for graceful steps that report it. */
export function shutdownSignal(): NodeJS.Signals | undefined {
  return lastSignal;
}

let signalExitCode: number | undefined;
/**
 * The exit code after a signal-driven teardown; default 128+signo as a shell
 * reports it. `dutlab run` sets 2: an interrupted run is an infrastructure error.
 */
export function setSignalExitCode(code: number | undefined): void {
  signalExitCode = code;
}

/** How long signal-driven graceful teardown may take before `immediate` runs. */
export let gracefulBudgetMs = 5_000;
export function setGracefulBudget(ms: number): void {
  gracefulBudgetMs = ms;
}

/** Register a teardown; returns the function that unregisters it. */
export function registerCleanup(entry: CleanupEntry): () => void {
  entries.add(entry);
  install();
  return () => {
    entries.delete(entry);
    if (entries.size === 0) uninstallSignals();
  };
}

/** Names of what is currently registered (for tests and diagnostics). */
export function pendingCleanups(): string[] {
  return [...entries].map((e) => e.name);
}

/**
 * Run all graceful steps in parallel, bounded by `budgetMs`, then every
 * immediate step. Entries are removed as they run. Never rejects.
 */
export async function runCleanups(budgetMs = gracefulBudgetMs): Promise<void> {
  const snapshot = [...entries];
  const graceful = Promise.allSettled(snapshot.map((e) => e.graceful?.()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, budgetMs);
  });
  await Promise.race([graceful, timeout]);
  clearTimeout(timer);
  runImmediate(snapshot);
}

function runImmediate(list: Iterable<CleanupEntry>): void {
  for (const entry of list) {
    try {
      entry.immediate();
    } catch {
      // Teardown of one thing must not prevent teardown of the others.
    }
    entries.delete(entry);
  }
  if (entries.size === 0) uninstallSignals();
}

function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) {
    // Second Ctrl-C: the user is impatient; skip the graceful part.
    runImmediate([...entries]);
    process.exit(signalExitCode ?? 128 + (constants.signals[signal] ?? 1));
  }
  shuttingDown = true;
  lastSignal = signal;
  void runCleanups().finally(() => {
    process.exit(signalExitCode ?? 128 + (constants.signals[signal] ?? 1));
  });
}

function onExit(): void {
  runImmediate([...entries]);
}

function install(): void {
  if (!exitInstalled) {
    // Kept for the life of the process: cheap, and 'exit' is the last chance.
    process.on('exit', onExit);
    exitInstalled = true;
  }
  if (!signalsInstalled) {
    for (const signal of HANDLED_SIGNALS) process.on(signal, onSignal);
    signalsInstalled = true;
  }
}

function uninstallSignals(): void {
  if (!signalsInstalled || shuttingDown) return;
  for (const signal of HANDLED_SIGNALS) process.off(signal, onSignal);
  signalsInstalled = false;
}
