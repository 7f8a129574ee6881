import { open, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../../harness/errors.ts';

export interface InputFile {
  /** Absolute, so facts stay meaningful after a chdir. */
  path: string;
  sizeBytes: number;
  /** `--flag file` as the user typed it, for ConfigError locations. */
  location: string;
  /** Open for reading; the caller closes it. */
  handle: FileHandle;
}

/**
 * Opens a file named on the command line, refusing what cannot be it (missing,
 * a directory, unreadable, empty) with a message that names the flag and file.
 * `what` is the noun for the message: "a disk image file".
 */
export async function openInput(file: string, flag: string, what: string): Promise<InputFile> {
  const location = `${flag} ${file}`;
  const absolute = path.resolve(file);
  let info;
  try {
    info = await stat(absolute);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      // A relative path is resolved against a cwd the user may not expect (scripts cd).
      throw new ConfigError(location, absolute === file ? 'not found' : `not found (looked for ${absolute})`);
    }
    throw new ConfigError(location, `not readable: ${code ?? (error as Error).message}`);
  }
  if (info.isDirectory()) throw new ConfigError(location, `is a directory, not ${what}`);
  if (!info.isFile()) throw new ConfigError(location, `is not a regular file (${what} is expected)`);
  if (info.size === 0) throw new ConfigError(location, 'is empty');
  let handle;
  try {
    handle = await open(absolute, 'r');
  } catch (error) {
    throw new ConfigError(location, `not readable: ${errnoCode(error) ?? (error as Error).message}`);
  }
  return { path: absolute, sizeBytes: info.size, location, handle };
}

/** Reads exactly `length` bytes at `position`, or fewer at the end of the file. */
export async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/**
 * Names the compressed or foreign container a file's first bytes announce, so
 * "decompress it first" beats a confusing parse error further on.
 */
export function containerFormat(head: Buffer): string | undefined {
  const starts = (bytes: number[]) => bytes.every((b, i) => head[i] === b);
  if (starts([0x1f, 0x8b])) return 'gzip-compressed';
  if (starts([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return 'xz-compressed';
  if (starts([0x28, 0xb5, 0x2f, 0xfd])) return 'zstd-compressed';
  if (starts([0x42, 0x5a, 0x68])) return 'bzip2-compressed';
  if (starts([0x50, 0x4b, 0x03, 0x04])) return 'a zip archive';
  if (starts([0x51, 0x46, 0x49, 0xfb])) return 'a qcow2 image';
  return undefined;
}

/** 2254857830 → "2.1 GiB": sizes for messages, where exact bytes only add noise. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Two sizes for a comparison; exact bytes when rounding would make them look equal. */
export function formatPair(a: number, b: number): [string, string] {
  const [fa, fb] = [formatBytes(a), formatBytes(b)];
  return fa === fb && a !== b ? [`${a} bytes`, `${b} bytes`] : [fa, fb];
}

export function errnoCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
