/**
 * Stale-run reaper, run when a launcher starts: the last line of defence
 * against a QEMU that outlived its harness (PR_SET_PDEATHSIG missed it, the
 * harness ran on a host without setpriv, or a run was started by hand).
 *
 * A run is stale when the harness recorded in owner.json is gone (or its pid
 * now belongs to a different process: start times differ). Its QEMU is killed
 * only if the pid from qemu.pid is still running *and* its command line names
 * this run's QMP socket — so a recycled pid is never killed by mistake.
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isRunning, processCmdline, processStartTicks, signalGroup, signalPid, waitUntilGone } from '../proc/pids.ts';
import { readOwner, readPidfile, type OwnerRecord } from './run-dir.ts';

export interface ReapedRun {
  dir: string;
  ownerPid: number;
  qemuPid: number;
  /** false if QEMU survived SIGKILL for the wait budget (stuck in the kernel). */
  gone: boolean;
}

export function ownerAlive(owner: OwnerRecord): boolean {
  if (!isRunning(owner.harnessPid)) return false;
  if (owner.harnessStartTicks === undefined) return true;
  return processStartTicks(owner.harnessPid) === owner.harnessStartTicks;
}

/** Kill leftover QEMUs of dead owners under `root`; returns what was killed. */
export async function reapStaleRuns(root: string, options: { waitMs?: number } = {}): Promise<ReapedRun[]> {
  let names: string[];
  try {
    names = await readdir(root);
  } catch {
    return []; // no runs yet
  }
  const reaped: ReapedRun[] = [];
  for (const name of names) {
    const dir = join(root, name);
    const owner = await readOwner(dir);
    if (!owner || ownerAlive(owner)) continue;
    const qemuPid = await readPidfile(join(dir, 'qemu.pid'));
    if (qemuPid === undefined || !isRunning(qemuPid)) continue;
    const cmdline = processCmdline(qemuPid);
    if (!cmdline?.some((arg) => arg.includes(owner.qmpSocket))) continue;
    // Launched detached, QEMU leads its own process group; kill the group and,
    // should it have been started some other way, the pid itself.
    signalGroup(qemuPid, 'SIGKILL');
    signalPid(qemuPid, 'SIGKILL');
    const gone = await waitUntilGone(qemuPid, options.waitMs ?? 3_000);
    if (owner.qmpSocket && !owner.qmpSocket.startsWith(dir)) await rm(owner.qmpSocket, { force: true });
    await writeFile(
      join(dir, 'reaped.json'),
      `${JSON.stringify({ reapedAt: new Date().toISOString(), by: process.pid, qemuPid, gone }, null, 2)}\n`,
    );
    reaped.push({ dir, ownerPid: owner.harnessPid, qemuPid, gone });
  }
  return reaped;
}
