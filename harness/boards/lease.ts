/**
 * One lease per board, so two runs never drive the same board: on this host
 * or on hosts that share the lease directory (NFS and friends, where link()
 * is atomic and O_EXCL historically was not).
 *
 * The lease is the file `<dir>/<board>.lease`, holding who took it. It is
 * published with link(): a complete file appears at once or EEXIST says the
 * board is taken. The holder touches it every 10 s; a lease is stale when its
 * holder is on this host and is no longer the process that took it, or when
 * it has not been touched for 90 s (the only test another host can make).
 *
 * A stale lease is taken over under a short-lived mutex, itself a link()ed
 * file, so two runs that find the same stale lease do not both replace it and
 * each believe they won; inside the mutex it is judged again and replaced by
 * rename(), in one step, so the board is never free in between. Removal is
 * always "rename aside, check it is the file judged, else put it back":
 * nothing here unlinks a lease by name alone.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DutError } from '../errors.ts';
import { throwIfAborted, untilAborted } from '../proc/abort.ts';
import { registerCleanup } from '../proc/cleanup.ts';
import { processStartTicks, processState } from '../proc/pids.ts';
import { boardStateFile, stateDir, writeBeside } from './state-dir.ts';

export const HEARTBEAT_MS = 10_000;
/** Nine missed heartbeats: a holder this quiet is hung or gone, whichever host it is on. */
export const STALE_AFTER_MS = 90_000;
/** A takeover is a read, a rename and a link; a mutex older than this was left by a process that died in one. */
const MUTEX_STALE_MS = 10_000;
const POLL_MS = 1_000;

export interface LeaseHolder {
  board: string;
  pid: number;
  host: string;
  /** ISO time the lease was taken. */
  startedAt: string;
  runId: string;
  /** The holder's start time (/proc/<pid>/stat field 22): a pid reused by another process has another. */
  pidStart: number | null;
}

export interface Lease {
  readonly holder: LeaseHolder;
  readonly file: string;
  /** Removes the lease if it is still ours. Also run by the clean-up registry on every exit path. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  runId: string;
  /** Default `<state dir>/leases`. */
  dir?: string;
  /** Wait up to this long for a live holder to let go; default: refuse at once. */
  waitMs?: number;
  signal?: AbortSignal;
  /** Called when a wait starts, and again whenever the board changes hands meanwhile. */
  onWait?(holder: LeaseHolder): void;
  /** Called when a stale lease was taken over; `previous` is undefined when its file was unreadable. */
  onTakeover?(previous: LeaseHolder | undefined, why: string): void;
}

/**
 * The board is held by a live run. Kind `config`: like every other input
 * check it refuses the run before any work, exit 2, and says nothing about
 * the board or the OS; `timeout` would read as a step of this run outliving
 * its bound.
 */
export class LeaseError extends DutError {
  constructor(
    readonly holder: LeaseHolder,
    waitedMs: number,
  ) {
    super('config', `board ${holder.board} is leased by ${describeHolder(holder)}${waitedMs > 0 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : ''}`);
    this.name = 'LeaseError';
  }
}

export function describeHolder(holder: LeaseHolder): string {
  return `pid ${holder.pid} on host ${holder.host} since ${holder.startedAt} (run ${holder.runId})`;
}

export function defaultLeaseDir(): string {
  return join(stateDir(), 'leases');
}

export async function acquireLease(board: string, options: AcquireOptions): Promise<Lease> {
  const dir = options.dir ?? defaultLeaseDir();
  const file = boardStateFile(dir, board, '.lease');
  await mkdir(dir, { recursive: true });
  const waitMs = options.waitMs ?? 0;
  const deadline = Date.now() + waitMs;
  let reported: string | undefined;
  for (;;) {
    throwIfAborted(options.signal);
    const holder: LeaseHolder = {
      board,
      pid: process.pid,
      host: hostname(),
      startedAt: new Date().toISOString(),
      runId: options.runId,
      pidStart: processStartTicks(process.pid) ?? null,
    };
    const text = `${JSON.stringify(holder)}\n`;
    const mine = await writeBeside(file, text);
    let pause = POLL_MS;
    try {
      if (await linked(mine, file)) return hold(file, holder, text);
      const seen = await look(file);
      if (!seen) continue; // released between our link() and our read
      const why = staleness(seen);
      if (why !== undefined) {
        if ((await takeOver(file, seen, mine)) === 'won') {
          options.onTakeover?.(seen.holder, why);
          return hold(file, holder, text);
        }
        // Another taker won, or holds the mutex for a few milliseconds: look again soon.
        pause = 20 + Math.random() * 50;
      } else {
        const live = seen.holder as LeaseHolder;
        if (Date.now() >= deadline) throw new LeaseError(live, waitMs);
        if (seen.text !== reported) options.onWait?.(live);
        reported = seen.text;
      }
    } finally {
      await unlink(mine).catch(() => undefined);
    }
    await untilAborted(sleep(pause), options.signal);
  }
}

export interface LeaseStatus {
  /** Undefined when the file is not a lease dutlab wrote. */
  holder: LeaseHolder | undefined;
  /** Why the lease would be taken over, when it would. */
  stale: string | undefined;
}

/** The board's lease as another run would judge it; undefined when the board is free. */
export async function inspectLease(board: string, dir = defaultLeaseDir()): Promise<LeaseStatus | undefined> {
  const seen = await look(boardStateFile(dir, board, '.lease'));
  return seen && { holder: seen.holder, stale: staleness(seen) };
}

interface Seen {
  text: string;
  holder: LeaseHolder | undefined;
  mtimeMs: number;
}

async function look(file: string): Promise<Seen | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
    return { text, holder: parseHolder(text), mtimeMs: info.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

function parseHolder(text: string): LeaseHolder | undefined {
  let value: Partial<LeaseHolder>;
  try {
    value = JSON.parse(text) as Partial<LeaseHolder>;
  } catch {
    return undefined;
  }
  const ok =
    typeof value.board === 'string' &&
    Number.isInteger(value.pid) &&
    typeof value.host === 'string' &&
    typeof value.startedAt === 'string' &&
    typeof value.runId === 'string' &&
    (value.pidStart === null || typeof value.pidStart === 'number');
  return ok ? (value as LeaseHolder) : undefined;
}

function staleness(seen: Seen): string | undefined {
  const { holder } = seen;
  if (!holder) return 'the lease file is unreadable';
  if (holder.host === hostname()) {
    if (processState(holder.pid) !== 'running') return `pid ${holder.pid} is not running`;
    if (holder.pidStart !== null && processStartTicks(holder.pid) !== holder.pidStart) return `pid ${holder.pid} is another process now`;
  }
  const quiet = Date.now() - seen.mtimeMs;
  if (quiet > STALE_AFTER_MS) return `no heartbeat for ${Math.round(quiet / 1000)} s`;
  return undefined;
}

/** link() as a test-and-set: false when `target` exists. */
async function linked(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Removes `file` only if it still holds `text`: it is renamed aside first
 * (atomic), then checked; a file that is not the one judged is linked back.
 * Synchronous because the exit hook that releases a lease can only be.
 * Returns whether the file is gone (already gone counts).
 */
function removeIfSame(file: string, text: string): boolean {
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.aside`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw error;
  }
  try {
    if (readFileSync(aside, 'utf8') === text) return true;
    try {
      linkSync(aside, file);
    } catch {
      // Someone placed a new file meanwhile; the one we moved had lost anyway.
    }
    return false;
  } finally {
    unlinkSync(aside);
  }
}

/** Replaces the stale lease `seen` by the file `mine`, under the takeover mutex. */
async function takeOver(file: string, seen: Seen, mine: string): Promise<'won' | 'retry'> {
  const mutex = `${file}.takeover`;
  const token = `${JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString(), nonce: randomBytes(8).toString('hex') })}\n`;
  const ticket = await writeBeside(mutex, token);
  try {
    if (!(await linked(ticket, mutex))) {
      await breakIfStale(mutex);
      return 'retry';
    }
    try {
      // Inside the mutex, judge again: another taker may have won before we got it, or the holder may have come back.
      const again = await look(file);
      if (again && (again.text !== seen.text || staleness(again) === undefined)) return 'retry';
      if (!again) return (await linked(mine, file)) ? 'won' : 'retry';
      // Replaced in one step: removed first, the board would be free for a moment, and a plain
      // taker linking then would win without anyone saying a lease was taken over.
      await rename(mine, file);
      return 'won';
    } finally {
      removeIfSame(mutex, token);
    }
  } finally {
    await unlink(ticket).catch(() => undefined);
  }
}

async function breakIfStale(mutex: string): Promise<void> {
  const held = await look(mutex);
  if (held && Date.now() - held.mtimeMs > MUTEX_STALE_MS) removeIfSame(mutex, held.text);
}

function hold(file: string, holder: LeaseHolder, text: string): Lease {
  let released = false;
  const drop = (): void => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    unregister();
    removeIfSame(file, text);
  };
  const heartbeat = setInterval(() => {
    void readFile(file, 'utf8')
      .then(async (now) => {
        // Taken over (we were silent too long): touching it would keep the new holder's lease alive for it, and is not ours to do.
        if (now !== text) return clearInterval(heartbeat);
        const at = new Date();
        await utimes(file, at, at);
      })
      .catch(() => clearInterval(heartbeat));
  }, HEARTBEAT_MS);
  // The heartbeat must not keep a finished process alive.
  heartbeat.unref();
  const unregister = registerCleanup({
    name: `lease ${holder.board}`,
    immediate: () => {
      try {
        drop();
      } catch {
        // The exit hook must not throw; a lease left behind goes stale with its pid.
      }
    },
  });
  return {
    holder,
    file,
    release: async () => drop(),
  };
}
