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

/** The boot partition, under either the resin- or the newer balena- label. */
export async function findBootPartition(image: string): Promise<PartitionExtent> {
  const partitions = await readPartitions(image);
  const boot = partitions.find((p) => p.name === 'resin-boot' || p.name === 'balena-boot');
  if (!boot) {
    const names = partitions.map((p) => p.name || '(unnamed)').join(', ');
    throw new ConfigError(image, `no partition named resin-boot or balena-boot (found: ${names})`);
  }
  return boot;
}
