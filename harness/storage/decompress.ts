import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { spawnStream, type ByteSource } from './child-stream.ts';
import { runTool, storageError, type Where } from './run-tool.ts';

/**
 * OS images as they are published: a raw disk image, or one compressed
 * with gzip, xz or zip. Each is decompressed on the fly, so a 5 GB image
 * never lands on the host's disk uncompressed.
 */

export type ImageFormat = 'raw' | 'gzip' | 'xz' | 'zip';

export interface ImageSource {
  path: string;
  format: ImageFormat;
  /** Uncompressed size. */
  bytes: number;
  /** False when `bytes` is only a lower bound: gzip records the size modulo 4 GiB. */
  exact: boolean;
  /** The image inside a zip archive. */
  member?: string;
}

const CHUNK = 4 * 1024 * 1024;

export function imageFormat(file: string): ImageFormat {
  if (/\.gz$/i.test(file)) return 'gzip';
  if (/\.xz$/i.test(file)) return 'xz';
  if (/\.zip$/i.test(file)) return 'zip';
  return 'raw';
}

/** What the image file is and how big it is once decompressed, before anything is written. */
export async function inspectImage(file: string, where: Where): Promise<ImageSource> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw storageError('config', where, `image ${file} is not a readable file`);
  const format = imageFormat(file);
  switch (format) {
    case 'raw':
      return { path: file, format, bytes: info.size, exact: true };
    case 'gzip':
      return { path: file, format, bytes: await gzipSize(file, info.size, where), exact: false };
    case 'xz':
      return { path: file, format, bytes: await xzSize(file, where), exact: true };
    case 'zip':
      return { path: file, format, ...(await zipImageMember(file, where)), exact: true };
  }
}

/** The decompressed bytes of the image. */
export function openImage(image: ImageSource, where: Where): ByteSource {
  switch (image.format) {
    case 'raw': {
      const stream = createReadStream(image.path, { highWaterMark: CHUNK });
      return { stream, finished: Promise.resolve(), stop: () => stream.destroy() };
    }
    case 'gzip': {
      const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
      // A read or inflate error destroys both streams; the reader sees it on `gunzip`.
      pipeline(createReadStream(image.path, { highWaterMark: CHUNK }), gunzip, () => undefined);
      return { stream: gunzip, finished: Promise.resolve(), stop: () => gunzip.destroy() };
    }
    case 'xz':
      return spawnStream('xz', ['-dc', '--', image.path], where);
    case 'zip':
      return spawnStream('unzip', ['-p', image.path, zipPattern(image.member as string)], where);
  }
}

/** ISIZE, the trailer's last four bytes: the size modulo 2^32, a lower bound of the true size. */
async function gzipSize(file: string, compressed: number, where: Where): Promise<number> {
  if (compressed < 18) throw storageError('config', where, `image ${file} is too short to be gzip data`);
  const handle = await open(file, 'r');
  try {
    const trailer = Buffer.alloc(4);
    await handle.read(trailer, 0, 4, compressed - 4);
    return trailer.readUInt32LE(0);
  } finally {
    await handle.close();
  }
}

/** xz records every block's uncompressed size in its index: `xz --robot --list` sums them. */
async function xzSize(file: string, where: Where): Promise<number> {
  const listing = await runTool('xz', ['--robot', '--list', '--', file], where);
  const totals = listing.split('\n').find((line) => line.startsWith('totals\t'));
  const bytes = Number(totals?.split('\t')[4]);
  if (!Number.isSafeInteger(bytes)) throw storageError('tool', where, `xz --list printed no uncompressed size for ${file}:\n${listing}`);
  return bytes;
}

/** The one `.img` member of a zip archive and its size, from `unzip -l`. */
async function zipImageMember(file: string, where: Where): Promise<{ member: string; bytes: number }> {
  const listing = await runTool('unzip', ['-l', file], where);
  const members: { member: string; bytes: number }[] = [];
  for (const line of listing.split('\n')) {
    const match = /^\s*(\d+)\s+\S+\s+\S+\s{3}(.+)$/.exec(line);
    if (match) members.push({ bytes: Number(match[1]), member: match[2] as string });
  }
  const images = members.filter((m) => /\.img$/i.test(m.member));
  if (images.length !== 1) {
    const names = members.map((m) => m.member).join(', ') || 'nothing';
    throw storageError('config', where, `zip archive ${file} must hold exactly one .img member (it holds ${names})`);
  }
  return images[0] as { member: string; bytes: number };
}

/** unzip takes member names as wildcard patterns: escape them so a name means only itself. */
function zipPattern(member: string): string {
  return member.replace(/[[\]*?\\]/g, '\\$&');
}
