/**
 * One directory per QEMU run, holding everything that run writes, so a run
 * can be inspected afterwards and a crashed harness's leftovers can be found:
 *
 *   overlay.qcow2   writable layer over the (never written) image
 *   vars.qcow2      per-run UEFI variable store
 *   serial.log      every byte the guest printed (QEMU's chardev logfile)
 *   qemu.log        QEMU's own stdout/stderr
 *   qemu.pid        written by QEMU (-pidfile)
 *   qmp.sock        QMP socket (or a short path in /tmp, see below)
 *   owner.json      which harness process owns the run (for the reaper)
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { processStartTicks } from '../proc/pids.ts';

export interface RunPaths {
  id: string;
  dir: string;
  overlay: string;
  vars: string;
  serialLog: string;
  qemuLog: string;
  pidfile: string;
  qmpSocket: string;
  owner: string;
}

export interface OwnerRecord {
  /** The harness process that started the run. */
  harnessPid: number;
  /** Its start time in clock ticks, so a recycled pid is not mistaken for it. */
  harnessStartTicks: number | undefined;
  createdAt: string;
  qmpSocket: string;
}

/** Default root for run directories: `<cwd>/.dutlab/runs`. */
export function defaultRunsRoot(): string {
  return resolve('.dutlab', 'runs');
}

/** sockaddr_un.sun_path is 108 bytes on Linux, including the NUL. */
const MAX_SOCKET_PATH = 107;

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export function runPaths(dir: string, id: string): RunPaths {
  const abs = resolve(dir);
  let qmpSocket = join(abs, 'qmp.sock');
  // A deep working directory can exceed the unix socket path limit and QEMU
  // would fail with an obscure error; fall back to a short unique path.
  if (Buffer.byteLength(qmpSocket) > MAX_SOCKET_PATH) qmpSocket = join(tmpdir(), `dutlab-${id}.qmp`);
  return {
    id,
    dir: abs,
    overlay: join(abs, 'overlay.qcow2'),
    vars: join(abs, 'vars.qcow2'),
    serialLog: join(abs, 'serial.log'),
    qemuLog: join(abs, 'qemu.log'),
    pidfile: join(abs, 'qemu.pid'),
    qmpSocket,
    owner: join(abs, 'owner.json'),
  };
}

/**
 * Create a run directory (`dir` if given, else `<root>/<new id>`) and record
 * this process as its owner.
 */
export async function createRunDir(options: { dir?: string; root?: string; id?: string } = {}): Promise<RunPaths> {
  const id = options.id ?? newRunId();
  const dir = options.dir ?? join(options.root ?? defaultRunsRoot(), id);
  const paths = runPaths(dir, id);
  await mkdir(paths.dir, { recursive: true });
  const owner: OwnerRecord = {
    harnessPid: process.pid,
    harnessStartTicks: processStartTicks(process.pid),
    createdAt: new Date().toISOString(),
    qmpSocket: paths.qmpSocket,
  };
  await writeFile(paths.owner, `${JSON.stringify(owner, null, 2)}\n`);
  return paths;
}

export async function readOwner(dir: string): Promise<OwnerRecord | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, 'owner.json'), 'utf8')) as OwnerRecord;
  } catch {
    return undefined;
  }
}

/** Pid QEMU wrote to its -pidfile, if any. */
export async function readPidfile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
