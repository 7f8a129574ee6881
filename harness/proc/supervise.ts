/**
 * Spawn a long-lived helper (QEMU) so that it cannot outlive the harness.
 *
 * Three layers, because no single one covers every way a harness ends:
 * 1. The child is detached into its own session/process group (`setsid`), so
 *    a terminal's Ctrl-C reaches only the harness — which then tears the
 *    child down in order (QMP quit first) — and so one `kill(-pgid)` reaches
 *    everything the child may have forked.
 * 2. The child is exec'd through `setpriv --pdeathsig KILL` (util-linux), which
 *    sets Linux's PR_SET_PDEATHSIG before exec'ing the real program: when the
 *    harness dies — even by SIGKILL, where no handler of ours runs — the
 *    kernel SIGKILLs the child. setpriv execs, so the pid we get is the real
 *    program's pid (it matches QEMU's -pidfile). Caveats: the signal fires
 *    when the *thread* that forked dies — libuv forks from the main thread, so
 *    do not launch from a worker thread that exits early; and a harness killed
 *    in the microseconds between fork and prctl is not covered, which is what
 *    layer 3 is for.
 * 3. The registry in cleanup.ts (signals, 'exit') and, for whatever still
 *    escapes, the stale-run reaper in harness/qemu/reaper.ts at the next start.
 *
 * Node has no prctl binding, and a native addon for one syscall is not worth
 * a build step; setpriv is in util-linux, present on every Linux we target.
 */
import { accessSync, constants, createWriteStream, type WriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { DutError } from '../errors.ts';
import { registerCleanup } from './cleanup.ts';
import { signalGroup } from './pids.ts';

export interface ExitInfo {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SuperviseOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the child when the harness dies (PR_SET_PDEATHSIG). Default true. */
  parentDeath?: boolean;
  /** Also append everything the child prints to this file. */
  outputLog?: string;
  /** Bytes of combined stdout+stderr kept in memory for error messages. */
  tailBytes?: number;
  /** Name in the clean-up registry; the entry lives until the child exits. */
  name?: string;
  /** Orderly shutdown to try on SIGINT/SIGTERM before the group is SIGKILLed. */
  graceful?: () => Promise<unknown>;
}

export interface Supervised {
  /** Pid of the program; also its process-group id. */
  readonly pid: number;
  readonly argv: readonly string[];
  /** Whether PR_SET_PDEATHSIG protects this child. */
  readonly parentDeathSignal: boolean;
  /** Resolves (never rejects) once the child has exited and been reaped. */
  readonly exited: Promise<ExitInfo>;
  /** undefined while running. */
  exitInfo(): ExitInfo | undefined;
  /** Last bytes of what the child printed (stdout and stderr interleaved). */
  outputTail(lines?: number): string;
  /** Called with every chunk the child prints, for watchers (e.g. fatal messages). */
  onOutput(listener: (text: string) => void): () => void;
  /** Signal the whole process group; false if nobody was left. */
  signalGroup(signal: NodeJS.Signals): boolean;
  /**
   * SIGTERM the group, wait up to `termMs`, then SIGKILL and wait up to
   * `killMs`. Resolves with the exit info, or throws DutError('timeout') if
   * even SIGKILL did not end it (a process stuck in the kernel).
   */
  terminate(options?: { termMs?: number; killMs?: number }): Promise<ExitInfo>;
}

let setprivPath: string | null | undefined;

/** Absolute path of setpriv, or null when it is not installed. Cached. */
export function findSetpriv(): string | null {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(delimiter).concat(['/usr/bin', '/bin'])) {
    const candidate = join(dir, 'setpriv');
    try {
      accessSync(candidate, constants.X_OK);
      setprivPath = candidate;
      break;
    } catch {
      // keep looking
    }
  }
  return setprivPath;
}

/** Resolve after `ms`, or earlier when `p` settles; true if `p` won. */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const won = await Promise.race([
    p.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return won;
}

export function spawnSupervised(file: string, args: readonly string[], options: SuperviseOptions = {}): Supervised {
  const wantPdeath = options.parentDeath ?? true;
  const setpriv = wantPdeath ? findSetpriv() : null;
  const argv = setpriv ? [setpriv, '--pdeathsig', 'KILL', '--', file, ...args] : [file, ...args];
  const [command, ...commandArgs] = argv as [string, ...string[]];

  const child = execa(command, commandArgs, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: true,
    detached: true, // setsid(): own session and process group
    cleanup: false, // execa's own exit hook does not apply to detached children; we do it
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    buffer: false,
    reject: false,
    encoding: 'utf8',
  });

  const pid = child.pid;
  if (pid === undefined) {
    // Spawn itself failed (ENOENT, EACCES): execa reports it through the promise.
    void child.catch(() => undefined);
    throw new DutError('process', `cannot start ${file}: spawn failed (is it installed and on PATH?)`);
  }

  const tailBytes = options.tailBytes ?? 16_384;
  let tail = '';
  const listeners = new Set<(text: string) => void>();
  let log: WriteStream | undefined;
  if (options.outputLog) log = createWriteStream(options.outputLog, { flags: 'a' });

  const onChunk = (chunk: Buffer | string): void => {
    const text = chunk.toString();
    tail = (tail + text).slice(-tailBytes);
    log?.write(text);
    for (const listener of listeners) listener(text);
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);

  let info: ExitInfo | undefined;
  const unregister = registerCleanup({
    name: options.name ?? `${file} (pid ${pid})`,
    graceful: options.graceful,
    immediate: () => {
      signalGroup(pid, 'SIGKILL');
    },
  });

  const exited: Promise<ExitInfo> = child.then(
    (result) => {
      info = {
        code: typeof result.exitCode === 'number' ? result.exitCode : null,
        signal: (result.signal as NodeJS.Signals | undefined) ?? null,
      };
      unregister();
      log?.end();
      return info;
    },
    // reject: false makes this unreachable in practice; keep the promise total.
    () => {
      info = { code: null, signal: null };
      unregister();
      log?.end();
      return info;
    },
  );

  const handle: Supervised = {
    pid,
    argv: [file, ...args],
    parentDeathSignal: setpriv !== null,
    exited,
    exitInfo: () => info,
    outputTail(lines?: number) {
      const trimmed = tail.trimEnd();
      return lines === undefined ? trimmed : trimmed.split('\n').slice(-lines).join('\n');
    },
    onOutput(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    signalGroup: (signal) => signalGroup(pid, signal),
    async terminate({ termMs = 2_000, killMs = 3_000 } = {}) {
      if (info) return info;
      signalGroup(pid, 'SIGTERM');
      if (await settlesWithin(exited, termMs)) return exited;
      signalGroup(pid, 'SIGKILL');
      if (await settlesWithin(exited, killMs)) return exited;
      throw new DutError('timeout', `${file} (pid ${pid}) did not exit ${killMs} ms after SIGKILL`);
    },
  };
  return handle;
}
