import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tool } from '../../images/builder/tool.ts';
import type { Medium } from '../dut/drivers.ts';
import { findBootPartition } from './partitions.ts';

/**
 * Reads and writes files on the FAT boot partition of a DUT's medium without
 * mounting: the partition's bytes are copied out of the medium (a qcow2
 * overlay over the image, a written SD card, an image file), edited with
 * mtools, and written back at the partition's offset with qemu-io, so the
 * base image is never touched and each run has its own config.json.
 */
export class BootFiles {
  private constructor(
    private readonly medium: Medium,
    private readonly vfat: string,
    private readonly offset: number,
    private readonly size: number,
    private readonly dir: string,
  ) {}

  /** Copies the boot partition out of the medium; the partition table is read from the image written there. */
  static async open(baseImage: string, medium: Medium): Promise<BootFiles> {
    const { offset, size } = await findBootPartition(baseImage);
    const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-boot-'));
    const vfat = path.join(dir, 'boot.vfat');
    // qemu-img dd moves one block per I/O: 512-byte blocks made this 4–9 s for a 40 MiB partition, 1 MiB blocks 0.1 s.
    const block = largestBlock(offset, size);
    await tool('qemu-img', ['dd', '-f', medium.format, '-O', 'raw', `if=${medium.path}`, `of=${vfat}`, `bs=${block}`, `skip=${offset / block}`, `count=${size / block}`]);
    return new BootFiles(medium, vfat, offset, size, dir);
  }

  async read(name: string): Promise<string> {
    return tool('mtype', ['-i', this.vfat, `::/${name}`], { stripFinalNewline: false });
  }

  async write(name: string, content: string): Promise<void> {
    const local = path.join(this.dir, path.basename(name));
    await writeFile(local, content);
    await tool('mcopy', ['-o', '-i', this.vfat, local, `::/${name}`]);
  }

  /** Writes the edited partition back onto the medium (flushed: qemu-io closes it) and removes the scratch copy. */
  async close(): Promise<void> {
    try {
      await tool('qemu-io', ['-f', this.medium.format, '-c', `write -q -s ${this.vfat} ${this.offset} ${this.size}`, this.medium.path]);
    } finally {
      await rm(this.dir, { recursive: true, force: true });
    }
  }
}

/** The largest power of two up to 1 MiB dividing both the partition's offset and size (sectors always do). */
function largestBlock(offset: number, size: number): number {
  let block = 1 << 20;
  while (block > 512 && (offset % block !== 0 || size % block !== 0)) block >>= 1;
  return block;
}

/** Merges settings into config.json on the medium's boot partition (e.g. os.sshKeys, hostname). */
export async function editConfigJson(
  baseImage: string,
  medium: Medium,
  edit: (config: Record<string, unknown>) => Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const files = await BootFiles.open(baseImage, medium);
  try {
    const current = JSON.parse(await files.read('config.json')) as Record<string, unknown>;
    const next = edit(current);
    await files.write('config.json', `${JSON.stringify(next, null, 2)}\n`);
    return next;
  } finally {
    await files.close();
  }
}
