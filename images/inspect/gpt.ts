import { crc32 } from 'node:zlib';
import { ConfigError } from '../../harness/errors.ts';
import { containerFormat, formatPair, readAt, type InputFile } from './input-file.ts';

export interface GptPartition {
  /** 1-based slot in the entry array, as the kernel numbers partitions. */
  number: number;
  label: string;
  startBytes: number;
  sizeBytes: number;
}

export interface Gpt {
  sectorSize: number;
  /** Where the usable area the header describes ends, exclusive, in bytes. */
  usableEndBytes: number;
  partitions: GptPartition[];
}

const SIGNATURE = Buffer.from('EFI PART', 'latin1');
const ENTRY_NAME_OFFSET = 56;
const ENTRY_NAME_BYTES = 72;

/**
 * The primary GPT of a raw disk image, parsed here rather than by sfdisk so a
 * bad file is refused with a specific reason (compressed, MBR, truncated
 * entries, checksum) instead of a tool's generic complaint. Sectors are 512
 * bytes, or 4096 when the header sits there (4Kn disks).
 */
export async function readGpt(input: InputFile): Promise<Gpt> {
  const fail = (message: string) => new ConfigError(input.location, message);
  const head = await readAt(input.handle, 0, 8192);

  const sectorSize = [512, 4096].find((size) => head.subarray(size, size + 8).equals(SIGNATURE));
  if (sectorSize === undefined) {
    // Only now: a disk's first bytes are boot code, which could look like a magic number.
    const format = containerFormat(head);
    if (format === 'a qcow2 image') throw fail('is a qcow2 image, not a raw disk image (qemu-img convert -O raw makes one)');
    if (format) throw fail(`is ${format}, not a raw disk image; decompress it first`);
    const mbr = head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa;
    throw fail(`not a GPT disk (no 'EFI PART' header at LBA 1${mbr ? '; it has an MBR partition table' : ''})`);
  }
  const header = head.subarray(sectorSize, sectorSize * 2);

  const headerSize = header.readUInt32LE(12);
  if (headerSize < 92 || headerSize > sectorSize) throw fail(`corrupt GPT: header size ${headerSize}`);
  const zeroedCrc = Buffer.from(header.subarray(0, headerSize));
  zeroedCrc.writeUInt32LE(0, 16);
  if (crc32(zeroedCrc) !== header.readUInt32LE(16)) throw fail('corrupt GPT: header checksum mismatch');

  const lastUsableLba = Number(header.readBigUInt64LE(48));
  const entriesLba = Number(header.readBigUInt64LE(72));
  const entryCount = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  const arrayBytes = entryCount * entrySize;
  if (entrySize < 128 || entrySize % 8 !== 0 || arrayBytes > 1024 * 1024 || !Number.isSafeInteger(entriesLba * sectorSize)) {
    throw fail(`corrupt GPT: ${entryCount} partition entries of ${entrySize} bytes`);
  }

  const entries = await readAt(input.handle, entriesLba * sectorSize, arrayBytes);
  if (entries.length < arrayBytes) {
    const [have, need] = formatPair(input.sizeBytes, entriesLba * sectorSize + arrayBytes);
    throw fail(`truncated: ${have} long but its GPT partition entries end at ${need}`);
  }
  if (crc32(entries) !== header.readUInt32LE(88)) throw fail('corrupt GPT: partition entry checksum mismatch');

  const partitions: GptPartition[] = [];
  for (let i = 0; i < entryCount; i++) {
    const entry = entries.subarray(i * entrySize, (i + 1) * entrySize);
    if (entry.subarray(0, 16).every((b) => b === 0)) continue; // unused slot
    const first = Number(entry.readBigUInt64LE(32));
    const last = Number(entry.readBigUInt64LE(40));
    const name = entry.subarray(ENTRY_NAME_OFFSET, ENTRY_NAME_OFFSET + ENTRY_NAME_BYTES).toString('utf16le');
    const label = name.replace(/\0.*$/s, '');
    if (last < first) throw fail(`corrupt GPT: partition ${i + 1} (${label || 'unnamed'}) ends before it starts`);
    partitions.push({ number: i + 1, label, startBytes: first * sectorSize, sizeBytes: (last - first + 1) * sectorSize });
  }
  return { sectorSize, usableEndBytes: (lastUsableLba + 1) * sectorSize, partitions };
}
