import type { WriteProgress } from '../dut/drivers.ts';
import { throwIfAborted } from '../proc/abort.ts';
import { bmapWrite } from './bmap-write.ts';
import { findBmap, mappedBytes, readBmap } from './bmap.ts';
import { inspectImage } from './decompress.ts';
import { MiB } from './digest.ts';
import { storageError, type Where } from './run-tool.ts';
import { streamWrite } from './stream-write.ts';
import { checkTarget, describeBytes } from './target-check.ts';
import { verifyMapped, verifyWritten } from './verify.ts';

export interface WriteImageOptions {
  /** The board the medium belongs to, for errors. */
  board: string;
  /** A block map; by default `<name>.bmap` beside the image is used when it exists. */
  bmap?: string;
  /** Read the written data back and compare before returning. */
  verify: boolean;
  signal?: AbortSignal;
  /** Each phase is announced with done 0 before its first byte, and ends with done = total. */
  progress?: (progress: WriteProgress) => void;
}

export interface WriteReport {
  /** `stream`: every byte of the image; `bmap`: only the blocks the map lists. */
  mode: 'stream' | 'bmap';
  /** Bytes put on the target. */
  bytes: number;
  /** The uncompressed image's size (for gzip without a map: as far as the stream went). */
  imageBytes: number;
  writeSeconds: number;
  /** 0 when not verified. */
  verifySeconds: number;
  verified: boolean;
  /** Write throughput. */
  mibPerSecond: number;
  /** stream: sha256 of the image's bytes as written; bmap: sha256 of the bmap file, whose range checksums pin every byte written. */
  hash: string;
}

/**
 * Puts an OS image on a board's boot medium: a block device (an SD card
 * behind a mux) or an existing regular file that plays one. Everything that
 * would make the write wrong or dangerous is refused before the first byte;
 * with `verify`, a medium that does not read back what was written is an
 * error before the board ever boots from it.
 */
export async function writeImage(source: string, target: string, options: WriteImageOptions): Promise<WriteReport> {
  const at = (step: string): Where => ({ board: options.board, step, device: target });
  const checking = at('check target');
  throwIfAborted(options.signal, options.board, checking.step);
  const bmapFile = options.bmap ?? (await findBmap(source));
  const map = bmapFile ? await readBmap(bmapFile, checking) : undefined;
  const image = await inspectImage(source, checking);
  if (map) {
    if (options.verify && map.ranges.some((range) => !range.checksum)) {
      throw storageError('config', checking, `block map ${map.file} has ranges without checksums: nothing to verify the write against`);
    }
    if (image.exact && image.bytes !== map.imageSize) {
      throw storageError('config', checking, `block map ${map.file} is for an image of ${describeBytes(map.imageSize)}, but ${source} holds ${describeBytes(image.bytes)}`);
    }
  }
  const medium = await checkTarget(target, map?.imageSize ?? image.bytes, checking);

  const writing = at('write image');
  const verifying = at('verify image');
  const io = { signal: options.signal, progress: options.progress };
  const written = performance.now();
  let bytes: number;
  let hash: string;
  let verify: () => Promise<void>;
  if (map) {
    await bmapWrite(source, map, medium, writing, io);
    bytes = mappedBytes(map);
    hash = map.sha256;
    verify = () => verifyMapped(medium, map, verifying, io);
  } else {
    const digest = await streamWrite(image, medium, writing, io);
    bytes = digest.bytes;
    hash = digest.hex();
    verify = () => verifyWritten(medium, digest, verifying, io);
  }
  const writeSeconds = (performance.now() - written) / 1000;
  const verified = performance.now();
  if (options.verify) await verify();
  const verifySeconds = options.verify ? (performance.now() - verified) / 1000 : 0;
  return {
    mode: map ? 'bmap' : 'stream',
    bytes,
    imageBytes: map ? map.imageSize : bytes,
    writeSeconds,
    verifySeconds,
    verified: options.verify,
    mibPerSecond: bytes / MiB / Math.max(writeSeconds, 1e-6),
    hash,
  };
}
