import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../recipe.ts';
import { makeVfat } from './filesystems.ts';
import { tool } from './tool.ts';

/** Modules the boot path uses; with --install-modules GRUB autoloads nothing else. */
const GRUB_MODULES = 'part_gpt fat ext2 search search_label loadenv test linux echo configfile normal serial terminal efi_gop';

/** Where the root tree keeps its boot files, which the 1-bootfiles hook deploys on an update. */
export const BOOT_FILES_DIR = 'resin-boot';
export const EFI_DIR = 'EFI/BOOT';

/** config.json of an unprovisioned development image. */
export function defaultConfigJson(recipe: Recipe): object {
  return { deviceType: recipe.slug, developmentMode: true, hostname: 'balena', persistentLogging: true, os: { sshKeys: [] } };
}

/** The OS's boot files into `dir` (the tree's /resin-boot): standalone GRUB EFI and grub.cfg (A/B selection). */
export async function buildBootFiles(recipe: Recipe, recipeDir: string, dir: string): Promise<void> {
  await mkdir(path.join(dir, EFI_DIR), { recursive: true });
  await tool('grub-mkstandalone', [
    '-O',
    'x86_64-efi',
    `--install-modules=${GRUB_MODULES}`,
    `--modules=${GRUB_MODULES}`,
    '--locales=',
    '--themes=',
    '--fonts=',
    '-o',
    path.join(dir, EFI_DIR, 'BOOTX64.EFI'),
    `boot/grub/grub.cfg=${path.join(recipeDir, 'boot', 'grub-embedded.cfg')}`,
  ]);
  const template = await readFile(path.join(recipeDir, 'boot', 'grub.cfg'), 'utf8');
  await writeFile(path.join(dir, EFI_DIR, 'grub.cfg'), template.replace('@KERNEL_CMDLINE@', recipe.kernelCmdline));
}

/**
 * resin-boot: the tree's boot files, plus what belongs to the device rather
 * than the OS: grubenv (rootA, nothing on trial), config.json, and the boot
 * partition's fingerprint of the OS files.
 */
export async function buildBootPartition(recipe: Recipe, bootFiles: string, output: string, workDir: string): Promise<void> {
  const files = ['BOOTX64.EFI', 'grub.cfg'].map((name) => `${EFI_DIR}/${name}`);
  // resin_root_part is a partition number, as balenaOS's hooks write it: 2 is resin-rootA.
  // os_console=serial: a development build's kernel talks on the serial line (the production variant unsets it).
  const grubenv = await writeGrubenv(workDir, ['resin_root_part=2', 'upgrade_available=0', 'bootcount=0', 'os_console=serial']);
  const configJson = path.join(workDir, 'config.json');
  await writeFile(configJson, `${JSON.stringify(defaultConfigJson(recipe), null, 2)}\n`);
  const lines: string[] = [];
  for (const file of files) lines.push(`${createHash('md5').update(await readFile(path.join(bootFiles, file))).digest('hex')}  ${file}`);
  const fingerprint = path.join(workDir, 'boot.fingerprint');
  await writeFile(fingerprint, `${lines.join('\n')}\n`);

  await makeVfat(output, 'resin-boot', recipe.partitions.boot, {
    ...Object.fromEntries(files.map((file) => [`/${file}`, path.join(bootFiles, file)])),
    [`/${EFI_DIR}/grubenv`]: grubenv,
    '/config.json': configJson,
    '/balenaos.fingerprint': fingerprint,
  });
}

/** A GRUB environment block in `workDir`/grubenv holding `settings` (key=value). */
export async function writeGrubenv(workDir: string, settings: readonly string[]): Promise<string> {
  const grubenv = path.join(workDir, 'grubenv');
  await tool('grub-editenv', [grubenv, 'create']);
  await tool('grub-editenv', [grubenv, 'set', ...settings]);
  return grubenv;
}
