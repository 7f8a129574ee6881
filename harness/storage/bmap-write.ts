import { readFile, truncate } from 'node:fs/promises';
import type { WriteProgress } from '../dut/drivers.ts';
import { abortReason } from '../errors.ts';
import { throwIfAborted } from '../proc/abort.ts';
import { spawnSupervised, type Supervised } from '../proc/supervise.ts';
import { mappedBytes, type BlockMap } from './bmap.ts';
import { storageError, type Where } from './run-tool.ts';
import type { Target } from './target-check.ts';

export interface BmapWriteOptions {
  signal?: AbortSignal;
  progress?: (progress: WriteProgress) => void;
}

const POLL_MS = 500;

/**
 * Writes only the mapped blocks with Debian's `bmaptool copy`, which
 * decompresses the image itself and checks every range against the map's
 * checksum as it reads it, so a corrupt download fails here. bmaptool stays
 * silent off a terminal; progress is its write(2) byte count from
 * /proc/<pid>/io, which for a process that writes almost only the image is
 * the bytes written.
 */
export async function bmapWrite(source: string, map: BlockMap, target: Target, where: Where, options: BmapWriteOptions): Promise<void> {
  const total = mappedBytes(map);
  options.progress?.({ phase: 'write', done: 0, total });
  throwIfAborted(options.signal, where.board, where.step);
  let child: Supervised;
  try {
    child = spawnSupervised('bmaptool', ['copy', '--bmap', map.file, source, target.path], { name: `bmaptool copy to ${target.path}` });
  } catch (error) {
    throw storageError('tool', where, `cannot run bmaptool (Debian package bmap-tools): ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const onAbort = (): void => void child.terminate().catch(() => undefined);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const poll = setInterval(() => {
    void writtenBy(child.pid).then((done) => {
      if (done !== undefined && !child.exitInfo()) options.progress?.({ phase: 'write', done: Math.min(done, total), total });
    });
  }, POLL_MS);
  try {
    const exit = await child.exited;
    if (options.signal?.aborted) throw abortReason(options.signal, where.board, where.step);
    if (exit.code !== 0) {
      const how = exit.code === null ? `was killed by ${exit.signal}` : `exited ${exit.code}`;
      throw storageError('tool', where, `bmaptool copy --bmap ${map.file} ${source} ${how}\n${child.outputTail(15)}`);
    }
  } finally {
    clearInterval(poll);
    options.signal?.removeEventListener('abort', onAbort);
    // bmaptool opens a regular file with O_TRUNC and sizes it to the image: an emulated card
    // gets its own size back, and what lay past the image reads as zeros, as on a fresh card.
    if (target.kind === 'file') await truncate(target.path, target.bytes);
  }
  options.progress?.({ phase: 'write', done: total, total });
}

async function writtenBy(pid: number): Promise<number | undefined> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8').catch(() => '');
  const wchar = /^wchar:\s*(\d+)/m.exec(io)?.[1];
  return wchar === undefined ? undefined : Number(wchar);
}
