import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DutError } from '../errors.ts';
import { spawnSupervised, type Supervised } from '../proc/supervise.ts';

export interface DaemonSpec {
  /** What it is, as an error names it: "chronyd serving NTP on UDP 123". */
  what: string;
  command: string;
  /** Its arguments, given a private folder for its configuration and files. */
  args(dir: string): Promise<string[]>;
  /** Whether it serves yet (asked every 200 ms, for up to 10 s). */
  ready(): Promise<boolean>;
}

/** A host daemon serving a DUT during a test: supervised (it cannot outlive the harness), with a folder of its own. */
export interface Daemon {
  readonly pid: number;
  /** What it printed last (a query log, a diagnosis). */
  output(lines?: number): string;
  stop(): Promise<void>;
}

export async function startDaemon(spec: DaemonSpec): Promise<Daemon> {
  const dir = await mkdtemp(path.join(tmpdir(), `dutlab-${spec.command}-`));
  let child: Supervised;
  try {
    child = spawnSupervised(spec.command, await spec.args(dir), { name: spec.what });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const daemon: Daemon = {
    pid: child.pid,
    output: (lines = 200) => child.outputTail(lines),
    async stop() {
      await child.terminate({ termMs: 2000, killMs: 2000 }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (!(await spec.ready())) {
    if (child.exitInfo() || Date.now() > deadline) {
      const tail = child.outputTail(10);
      await daemon.stop();
      throw new DutError('process', `${spec.what} did not start (is the port taken by another server on this host?): ${tail}`, { step: `host ${spec.command}` });
    }
    await sleep(200);
  }
  return daemon;
}
