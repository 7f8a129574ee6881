import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { storageError, type Where } from './run-tool.ts';

/**
 * A block map (bmap-tools' XML): which blocks of an image hold data, with a
 * checksum per range. A flasher writes only those and leaves the rest of the
 * medium alone, which for a mostly empty 5 GB image is most of the time saved.
 */
export interface BlockMap {
  file: string;
  /** sha256 of the bmap file: its range checksums pin every byte a bmap write puts down. */
  sha256: string;
  imageSize: number;
  blockSize: number;
  checksumType: 'sha256' | 'sha1';
  ranges: BlockRange[];
}

/** Blocks `first`..`last`, inclusive, as the bmap numbers them. */
export interface BlockRange {
  first: number;
  last: number;
  checksum: string | undefined;
}

/** Where in the image a range is, in bytes: the last block of an image may be short. */
export function rangeBytes(map: BlockMap, range: BlockRange): { start: number; length: number } {
  const start = range.first * map.blockSize;
  return { start, length: Math.min((range.last + 1) * map.blockSize, map.imageSize) - start };
}

export function mappedBytes(map: BlockMap): number {
  return map.ranges.reduce((sum, range) => sum + rangeBytes(map, range).length, 0);
}

/** The image's block map if one lies beside it: `refos-1.0.0.img` and `refos-1.0.0.img.xz` both have `refos-1.0.0.bmap`. */
export async function findBmap(image: string): Promise<string | undefined> {
  const stem = path.basename(image).replace(/(\.img)?(\.gz|\.xz)?$|\.zip$/i, '');
  const candidate = path.join(path.dirname(image), `${stem}.bmap`);
  return (await stat(candidate).then((info) => info.isFile(), () => false)) ? candidate : undefined;
}

export async function readBmap(file: string, where: Where): Promise<BlockMap> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw storageError('config', where, `cannot read block map ${file}: ${String(error)}`);
  });
  return parseBmap(text, file, where);
}

export function parseBmap(xml: string, file: string, where: Where): BlockMap {
  // The file's own commentary names the elements (`<MappedBlocksCount> blocks instead of ...`).
  const body = xml.replace(/<!--[\s\S]*?-->/g, '');
  const bad = (what: string): never => {
    throw storageError('config', where, `block map ${file}: ${what}`);
  };
  const element = (name: string): string | undefined => new RegExp(`<${name}>\\s*([^<]*?)\\s*</${name}>`).exec(body)?.[1];
  const count = (name: string): number => {
    const value = Number(element(name));
    return Number.isSafeInteger(value) && value >= 0 ? value : bad(`no valid <${name}>`);
  };
  if (!/<bmap\s+version="[12]\./.test(body)) bad('not a bmap file of format 1.x or 2.x');
  const imageSize = count('ImageSize');
  const blockSize = count('BlockSize');
  if (blockSize === 0) bad('<BlockSize> is 0');
  // Format 1.x knew only SHA-1 and did not say so.
  const declared = element('ChecksumType') ?? 'sha1';
  const checksumType = declared === 'sha256' || declared === 'sha1' ? declared : bad(`unsupported <ChecksumType> ${declared}`);
  const ranges: BlockRange[] = [];
  for (const match of body.matchAll(/<Range(?:\s+chksum="([0-9a-fA-F]+)")?\s*>\s*(\d+)\s*(?:-\s*(\d+)\s*)?<\/Range>/g)) {
    const first = Number(match[2]);
    ranges.push({ first, last: match[3] === undefined ? first : Number(match[3]), checksum: match[1]?.toLowerCase() });
  }
  const mapped = ranges.reduce((sum, r) => sum + r.last - r.first + 1, 0);
  if (mapped !== count('MappedBlocksCount')) bad(`its ranges hold ${mapped} blocks, <MappedBlocksCount> says ${count('MappedBlocksCount')}`);
  if (ranges.some((r) => r.last < r.first || (r.last + 1) * blockSize > Math.ceil(imageSize / blockSize) * blockSize)) bad('a range lies outside the image');
  return { file, sha256: createHash('sha256').update(xml).digest('hex'), imageSize, blockSize, checksumType, ranges };
}
