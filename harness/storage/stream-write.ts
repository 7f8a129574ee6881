import { constants, type FileHandle, open } from 'node:fs/promises';
import type { WriteProgress } from '../dut/drivers.ts';
import { abortReason, DutError } from '../errors.ts';
import { openImage, type ImageSource } from './decompress.ts';
import { MiB, PrefixDigest } from './digest.ts';
import { storageError, type Where } from './run-tool.ts';
import { describeBytes, type Target } from './target-check.ts';

export interface StreamWriteOptions {
  signal?: AbortSignal;
  progress?: (progress: WriteProgress) => void;
}

const BATCH = 4 * MiB;

/**
 * Writes the whole image, decompressed on the fly, from the target's first
 * byte, hashing exactly the bytes handed to the kernel; fsyncs before it
 * returns. One write is in flight while the next batch is read and hashed.
 * A regular file is never grown: bytes past its end are refused, as a card
 * that is too small refuses them. Returns the digest of what was written.
 */
export async function streamWrite(image: ImageSource, target: Target, where: Where, options: StreamWriteOptions): Promise<PrefixDigest> {
  const handle = await openTarget(target, where);
  const source = openImage(image, where);
  const digest = new PrefixDigest();
  const buffers = [Buffer.allocUnsafe(BATCH), Buffer.allocUnsafe(BATCH)];
  let current = 0;
  let fill = 0;
  let position = 0;
  let pending: Promise<void> = Promise.resolve();
  const total = (): number => Math.max(image.bytes, position);

  const flush = async (): Promise<void> => {
    if (options.signal?.aborted) throw abortReason(options.signal, where.board, where.step);
    if (position + fill > target.bytes) {
      throw storageError('config', where, `is smaller than the image: the image goes on past ${describeBytes(target.bytes)}`);
    }
    const buffer = buffers[current] as Buffer;
    digest.update(buffer.subarray(0, fill));
    await pending; // frees the other buffer
    pending = writeFully(handle, buffer, fill, position);
    pending.catch(() => undefined); // awaited at the next flush; meanwhile not unhandled
    position += fill;
    current ^= 1;
    fill = 0;
    options.progress?.({ phase: 'write', done: position, total: total() });
  };

  try {
    options.progress?.({ phase: 'write', done: 0, total: image.bytes });
    for await (const chunk of source.stream as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(BATCH - fill, chunk.length - offset);
        chunk.copy(buffers[current] as Buffer, fill, offset, offset + take);
        fill += take;
        offset += take;
        if (fill === BATCH) await flush();
      }
    }
    if (fill > 0) await flush();
    await pending;
    await source.finished;
    if (image.exact && position !== image.bytes) {
      throw storageError('tool', where, `image ${image.path} yielded ${describeBytes(position)}, not the ${describeBytes(image.bytes)} it declares`);
    }
    await handle.sync();
    return digest;
  } catch (error) {
    if (options.signal?.aborted) throw abortReason(options.signal, where.board, where.step);
    if (error instanceof DutError) throw error;
    // A read, inflate or write error of the kernel or zlib (EIO, ENOSPC, a corrupt gzip stream).
    throw storageError('tool', where, `writing ${image.path} failed at byte ${position}: ${error instanceof Error ? error.message : String(error)}`, error);
  } finally {
    source.stop();
    await pending.catch(() => undefined);
    await handle.close();
  }
}

/**
 * Opens for writing without creating or truncating. A block device is opened
 * exclusively (O_EXCL), so the kernel itself refuses one that something
 * mounted in the moment since the checks.
 */
async function openTarget(target: Target, where: Where): Promise<FileHandle> {
  const flags = constants.O_WRONLY | (target.kind === 'block' ? constants.O_EXCL : 0);
  return open(target.path, flags).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw storageError('config', where, 'not present: is the mux switched to the host?');
    if (error.code === 'EBUSY') throw storageError('config', where, 'is in use (the kernel refused an exclusive open): refusing to write an image over it');
    throw storageError('tool', where, `cannot be opened for writing: ${error.message}`, error);
  });
}

async function writeFully(handle: FileHandle, buffer: Buffer, length: number, position: number): Promise<void> {
  let written = 0;
  while (written < length) {
    const { bytesWritten } = await handle.write(buffer, written, length - written, position + written);
    written += bytesWritten;
  }
}
