import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { WriteProgress } from '../dut/drivers.ts';
import { throwIfAborted } from '../proc/abort.ts';
import { mappedBytes, rangeBytes, type BlockMap } from './bmap.ts';
import { MiB, PrefixDigest } from './digest.ts';
import { runTool, storageError, type Where } from './run-tool.ts';
import type { Target } from './target-check.ts';

/**
 * Reading a written medium back. A block device's buffer cache is flushed
 * and dropped first (`blockdev --flushbufs`), so the read comes from the
 * card and a card that lost or mangled a write is caught. For a regular
 * file (an emulated card) the page cache is what is read: that is the file's
 * content as the emulated board will see it, not necessarily what reached
 * the host's disk, which is not the medium under test.
 */

export interface VerifyOptions {
  signal?: AbortSignal;
  progress?: (progress: WriteProgress) => void;
}

const CHUNK = 4 * MiB;
const FLUSH_BOUND_MS = 120_000;

/** Reads back what a stream write wrote and compares it with the digest taken while writing. */
export async function verifyWritten(target: Target, written: PrefixDigest, where: Where, options: VerifyOptions): Promise<void> {
  const readBack = new PrefixDigest();
  await readTarget(target, where, options, written.bytes, async (handle, report) =>
    readSpan(handle, 0, written.bytes, where, options.signal, (chunk) => {
      readBack.update(chunk);
      report(chunk.length);
    }),
  );
  const differs = written.firstDifferingMiB(readBack);
  if (differs !== undefined) {
    throw storageError(
      'tool',
      where,
      `verification failed: the medium reads back differently from what was written, first in MiB ${differs} (offset ${differs * MiB}); sha256 written ${written.hex()}, read back ${readBack.hex()}`,
    );
  }
}

/** Reads back the ranges a block map says were written and checks each against the map's checksum. */
export async function verifyMapped(target: Target, map: BlockMap, where: Where, options: VerifyOptions): Promise<void> {
  await readTarget(target, where, options, mappedBytes(map), async (handle, report) => {
    for (const range of map.ranges) {
      const { start, length } = rangeBytes(map, range);
      const hash = createHash(map.checksumType);
      await readSpan(handle, start, length, where, options.signal, (chunk) => {
        hash.update(chunk);
        report(chunk.length);
      });
      const read = hash.digest('hex');
      if (read !== range.checksum) {
        throw storageError(
          'tool',
          where,
          `verification failed: blocks ${range.first}-${range.last} (offset ${start}, MiB ${Math.floor(start / MiB)}) read back with ${map.checksumType} ${read}, the block map ${map.file} says ${range.checksum ?? '(none)'}`,
        );
      }
    }
  });
}

/** Flushes a block device's cache, opens the target and reports verify progress from 0 (said before the first read) to `total`. */
async function readTarget(
  target: Target,
  where: Where,
  options: VerifyOptions,
  total: number,
  read: (handle: FileHandle, report: (bytes: number) => void) => Promise<void>,
): Promise<void> {
  if (target.kind === 'block') await runTool('blockdev', ['--flushbufs', target.path], where, { timeoutMs: FLUSH_BOUND_MS, signal: options.signal });
  options.progress?.({ phase: 'verify', done: 0, total });
  const handle = await open(target.path, 'r');
  let done = 0;
  try {
    await read(handle, (bytes) => {
      done += bytes;
      options.progress?.({ phase: 'verify', done, total });
    });
  } finally {
    await handle.close();
  }
}

/** `length` bytes from `start`, in chunks, the next read in flight while the visitor hashes the last. */
async function readSpan(handle: FileHandle, start: number, length: number, where: Where, signal: AbortSignal | undefined, visit: (chunk: Buffer) => void): Promise<void> {
  const buffers = [Buffer.allocUnsafe(Math.min(CHUNK, length)), Buffer.allocUnsafe(Math.min(CHUNK, length))];
  const readAt = (buffer: Buffer, at: number): Promise<number> => {
    const pending = handle.read(buffer, 0, Math.min(buffer.length, length - at), start + at).then((r) => r.bytesRead);
    pending.catch(() => undefined);
    return pending;
  };
  let done = 0;
  let current = 0;
  let next = length > 0 ? readAt(buffers[0] as Buffer, 0) : Promise.resolve(0);
  while (done < length) {
    throwIfAborted(signal, where.board, where.step);
    const bytesRead = await next;
    if (bytesRead === 0) throw storageError('tool', where, `ends at byte ${start + done}, before the ${start + length} written`);
    const buffer = buffers[current] as Buffer;
    done += bytesRead;
    current ^= 1;
    next = done < length ? readAt(buffers[current] as Buffer, done) : Promise.resolve(0);
    visit(buffer.subarray(0, bytesRead));
  }
}
