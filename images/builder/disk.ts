import { open } from 'node:fs/promises';
import { tool } from './tool.ts';

export interface PartitionImage {
  name: string;
  file: string;
  sizeMiB: number;
  type: 'efi' | 'linux';
}

const TYPE_GUID = {
  efi: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
};

const MiB = 1024 * 1024;

/** Where each partition starts, in MiB: packed from 1 MiB, which leaves room for the GPT. */
export function layout(partitions: readonly PartitionImage[]): { startMiB: number; part: PartitionImage }[] {
  let start = 1;
  return partitions.map((part) => {
    const placed = { startMiB: start, part };
    start += part.sizeMiB;
    return placed;
  });
}

/** The sfdisk script for a GPT holding these partitions, named by their labels. */
export function sfdiskScript(partitions: readonly PartitionImage[]): string {
  const lines = ['label: gpt', 'unit: sectors', ''];
  for (const { startMiB, part } of layout(partitions)) {
    lines.push(`start=${startMiB * 2048}, size=${part.sizeMiB * 2048}, type=${TYPE_GUID[part.type]}, name="${part.name}"`);
  }
  return `${lines.join('\n')}\n`;
}

/** A sparse GPT disk image assembled from partition image files, without loop devices. */
export async function assembleDisk(output: string, partitions: readonly PartitionImage[]): Promise<void> {
  const totalMiB = 2 + partitions.reduce((sum, p) => sum + p.sizeMiB, 0);
  const handle = await open(output, 'w');
  await handle.truncate(totalMiB * MiB);
  await handle.close();
  await tool('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', output], { input: sfdiskScript(partitions) });
  for (const { startMiB, part } of layout(partitions)) {
    await tool('dd', [`if=${part.file}`, `of=${output}`, 'bs=1M', `seek=${startMiB}`, 'conv=notrunc,sparse', 'status=none']);
  }
}
