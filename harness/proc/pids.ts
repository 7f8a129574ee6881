/**
 * Small facts about other processes, read from Linux's /proc.
 *
 * Why /proc and not `process.kill(pid, 0)`: a killed child whose parent died
 * is re-parented to PID 1, and in containers PID 1 often never reaps, so the
 * pid stays as a zombie forever. `kill(pid, 0)` succeeds on a zombie; we need
 * "is it still running", which only the state letter in /proc/PID/stat says.
 * The start time (field 22) lets a pidfile be checked against pid reuse.
 */
import { readFileSync } from 'node:fs';

export type ProcessState = 'running' | 'zombie' | 'gone';

interface StatFields {
  state: string;
  startTicks: number;
}

function readStat(pid: number): StatFields | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself contain
  // spaces or ')' — split after the *last* ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 (starttime) is rest[19].
  const state = rest[0];
  const start = Number(rest[19]);
  if (state === undefined || !Number.isFinite(start)) return undefined;
  return { state, startTicks: start };
}

export function processState(pid: number): ProcessState {
  const stat = readStat(pid);
  if (!stat) return 'gone';
  // Z = zombie, X = dead (being reaped): neither runs code any more.
  return stat.state === 'Z' || stat.state === 'X' ? 'zombie' : 'running';
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  return processState(pid) === 'running';
}

/** Start time in clock ticks since boot; identifies a process across pid reuse. */
export function processStartTicks(pid: number): number | undefined {
  return readStat(pid)?.startTicks;
}

/** argv of a running process, or undefined if it is gone or unreadable. */
export function processCmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (raw === '') return undefined; // zombies and kernel threads have none
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/**
 * Send `signal` to a whole process group (negative pid). Returns false when
 * there was nobody left to signal. Never throws for ESRCH: tear-down paths
 * race with processes that exit on their own, and that is fine.
 */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Like signalGroup but for a single pid. */
export function signalPid(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

/** Poll until `pid` no longer runs or `timeoutMs` passes; resolves whether it is gone. */
export async function waitUntilGone(pid: number, timeoutMs: number, pollMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
  return true;
}
