import { execa } from 'execa';
import { ConfigError } from '../errors.ts';

export interface PartitionExtent {
  name: string;
  offset: number; // bytes
  size: number; // bytes
}

/** The GPT partitions of a disk image file, by name, in bytes (sfdisk -J). */
export async function readPartitions(image: string): Promise<PartitionExtent[]> {
  const result = await execa('sfdisk', ['-J', image], { reject: false });
  if (result.exitCode !== 0) throw new ConfigError(image, `not a partitioned disk image: ${result.stderr.trim()}`);
  const table = JSON.parse(result.stdout).partitiontable as {
    sectorsize?: number;
    partitions: { name?: string; start: number; size: number }[];
  };
  const sector = table.sectorsize ?? 512;
  return table.partitions.map((p) => ({ name: p.name ?? '', offset: p.start * sector, size: p.size * sector }));
}

/** Boot partition labels: resin-, the newer balena-, and a flasher's flash-boot (whose config.json the installer copies). */
const BOOT_LABELS = ['resin-boot', 'balena-boot', 'flash-boot'];

/** The boot partition, by any of its labels. */
export async function findBootPartition(image: string): Promise<PartitionExtent> {
  const partitions = await readPartitions(image);
  const boot = partitions.find((p) => BOOT_LABELS.includes(p.name));
  if (!boot) {
    const names = partitions.map((p) => p.name || '(unnamed)').join(', ');
    throw new ConfigError(image, `no partition named ${BOOT_LABELS.join(', ')} (found: ${names})`);
  }
  return boot;
}
