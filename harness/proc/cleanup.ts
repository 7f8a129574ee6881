/**
 * Process-wide clean-up registry: whatever the harness started (QEMU, socat,
 * ...) registers here, and one place makes sure it is torn down however the
 * harness ends:
 *
 * - normal end / thrown exception: callers `await` their own stop(), which
 *   unregisters; an uncaught exception still ends in Node's 'exit' event;
 * - a signal: the CLI's one handler (harness/cli/signals.ts) makes the
 *   command stop and return; if it does not, the CLI calls runCleanups()
 *   and exits. Library code never handles signals nor exits the process;
 * - 'exit' event (process.exit(), uncaught exception, end of the event loop):
 *   only synchronous work is possible there, so `immediate` must be sync
 *   (e.g. SIGKILL a process group);
 * - SIGKILL of the harness: nothing here can run. That case is covered where
 *   the child is spawned (PR_SET_PDEATHSIG, see supervise.ts) and by the
 *   stale-run reaper at the next start-up.
 */
export interface CleanupEntry {
  /** For diagnostics: what this entry tears down. */
  name: string;
  /** Bounded, orderly teardown (e.g. QMP quit). May be skipped if time runs out. */
  graceful?: () => Promise<unknown>;
  /** Synchronous last resort; must not throw and must be safe to call twice. */
  immediate: () => void;
}

const entries = new Set<CleanupEntry>();
let exitInstalled = false;

/** How long graceful teardown may take before `immediate` runs. */
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
}
