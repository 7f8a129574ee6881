import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { execa } from 'execa';

export const MiB = 1024 * 1024;

/**
 * A sparse GPT disk image as an OS image is: a partition table (sfdisk), a
 * few MiB of data in the partitions and holes between them, so a block map
 * of it has several ranges and leaves most of it unmapped.
 */
export async function makeImage(file: string, sizeMiB: number): Promise<void> {
  const handle = await open(file, 'w');
  await handle.truncate(sizeMiB * MiB);
  await handle.close();
  const third = Math.floor(sizeMiB / 3);
  await execa('sfdisk', ['--quiet', file], {
    input: `label: gpt\nstart=2048, size=${(third - 1) * 2048}, name="resin-boot"\nsize=${third * 2048}, name="resin-rootA"\n`,
  });
  const data = await open(file, 'r+');
  try {
    for (const [atMiB, lengthMiB] of [[1, 2], [third + 1, 3], [sizeMiB - 3, 1]] as const) {
      await data.write(randomBytes(lengthMiB * MiB), 0, lengthMiB * MiB, atMiB * MiB);
    }
  } finally {
    await data.close();
  }
}

/** A card: a sparse file of `sizeMiB`, its last bytes a marker that a write of a smaller image must leave alone. */
export async function makeCard(file: string, sizeMiB: number): Promise<void> {
  const handle = await open(file, 'w');
  await handle.truncate(sizeMiB * MiB);
  await handle.write(Buffer.from(CARD_MARKER), 0, CARD_MARKER.length, sizeMiB * MiB - CARD_MARKER.length);
  await handle.close();
}

export const CARD_MARKER = 'the end of the card';

/** sha256 of a file's first `length` bytes, read plainly (not through the code under test). */
export async function sha256Prefix(file: string, length: number): Promise<string> {
  const content = await readFile(file);
  return createHash('sha256').update(content.subarray(0, length)).digest('hex');
}

/** Flips one byte of a file in place, synchronously: for a progress callback, which cannot wait. */
export function flipByte(file: string, offset: number): void {
  const fd = openSync(file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, offset);
    byte[0] = (byte[0] as number) ^ 0xff;
    writeSync(fd, byte, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}
