import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { tail } from '../errors.ts';
import { registerCleanup } from '../proc/cleanup.ts';
import { signalGroup } from '../proc/pids.ts';
import { storageError, type Where } from './run-tool.ts';

/** Bytes a source yields, and how it ended. */
export interface ByteSource {
  stream: Readable;
  /** Resolves when the producer ended well; rejects when it failed (a corrupt archive ends the stream early, and only the exit code says so). */
  finished: Promise<void>;
  /** Ends the producer early (the target refused more, the run was interrupted); `finished` then resolves. */
  stop(): void;
}

const STDERR_KEPT = 8192;

/**
 * A tool whose stdout is the data (`xz -dc`, `unzip -p`). tool() and
 * spawnSupervised keep stdout as text for messages, which gigabytes of image
 * must not go through; here stdout is the stream and only stderr is kept.
 * The tool leads its own process group, killed whole if the harness exits
 * while it runs, as tool() does for the build's tools.
 */
export function spawnStream(file: string, args: readonly string[], where: Where): ByteSource {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEPT);
  });
  let stopped = false;
  const kill = (): void => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) signalGroup(child.pid, 'SIGKILL');
  };
  const unregister = registerCleanup({ name: `${file} (pid ${child.pid ?? '?'})`, immediate: kill });
  const finished = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => {
      unregister();
      reject(storageError('tool', where, `cannot run ${file}: ${error.message}`, error));
    });
    child.once('close', (code, signal) => {
      unregister();
      if (code === 0 || stopped) resolve();
      else {
        const how = code === null ? `was killed by ${signal}` : `exited ${code}`;
        reject(storageError('tool', where, `${[file, ...args].join(' ')} ${how}${stderr ? `\n${tail(stderr)}` : ''}`));
      }
    });
  });
  return {
    stream: child.stdout,
    finished,
    stop() {
      stopped = true;
      child.stdout.destroy();
      kill();
    },
  };
}
