import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readGpt } from '../inspect/gpt.ts';
import { openInput } from '../inspect/input-file.ts';
import { tool } from './tool.ts';

/**
 * The production build of an image: the same OS, with config.json's
 * developmentMode false (no console login, keys-only SSH, no engine TCP) and
 * no kernel console on the serial line (grubenv os_console unset: GRUB passes
 * console=null quiet). Only the boot partition differs, so it is rewritten in
 * a sparse copy of the development image instead of built again.
 */
export async function makeProductionVariant(developmentImage: string, output: string, workDir: string): Promise<void> {
  const input = await openInput(developmentImage, 'image', 'a disk image file');
  let bootOffset: number | undefined;
  try {
    bootOffset = (await readGpt(input)).partitions.find((p) => p.label === 'resin-boot')?.startBytes;
  } finally {
    await input.handle.close();
  }
  if (bootOffset === undefined) throw new Error(`${developmentImage} has no resin-boot partition`);
  await tool('cp', ['--sparse=always', developmentImage, output]);
  const fat = `${output}@@${bootOffset}`;
  const env = { MTOOLS_SKIP_CHECK: '1' };
  const config = path.join(workDir, 'config.json');
  await tool('mcopy', ['-n', '-i', fat, '::config.json', config], { env });
  const json = JSON.parse(await readFile(config, 'utf8')) as Record<string, unknown>;
  await writeFile(config, `${JSON.stringify({ ...json, developmentMode: false }, null, 2)}\n`);
  const grubenv = path.join(workDir, 'grubenv');
  await tool('mcopy', ['-n', '-i', fat, '::EFI/BOOT/grubenv', grubenv], { env });
  await tool('grub-editenv', [grubenv, 'unset', 'os_console']);
  await tool('mcopy', ['-o', '-i', fat, config, '::config.json'], { env });
  await tool('mcopy', ['-o', '-i', fat, grubenv, '::EFI/BOOT/grubenv'], { env });
}
