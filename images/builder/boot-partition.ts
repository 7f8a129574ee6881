import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../recipe.ts';
import { makeVfat } from './filesystems.ts';
import { tool } from './tool.ts';

/** Modules the boot path uses; with --install-modules GRUB autoloads nothing else. */
const GRUB_MODULES = 'part_gpt fat ext2 search search_label loadenv test linux echo configfile normal serial terminal efi_gop';

/** config.json of an unprovisioned development image. */
export function defaultConfigJson(recipe: Recipe): object {
  return { deviceType: recipe.slug, developmentMode: true, hostname: 'balena', persistentLogging: true, os: { sshKeys: [] } };
}

/** resin-boot: standalone GRUB EFI, grub.cfg (A/B selection), grubenv and config.json. */
export async function buildBootPartition(recipe: Recipe, recipeDir: string, output: string, workDir: string): Promise<void> {
  const efi = path.join(workDir, 'BOOTX64.EFI');
  await tool('grub-mkstandalone', [
    '-O',
    'x86_64-efi',
    `--install-modules=${GRUB_MODULES}`,
    `--modules=${GRUB_MODULES}`,
    '--locales=',
    '--themes=',
    '--fonts=',
    '-o',
    efi,
    `boot/grub/grub.cfg=${path.join(recipeDir, 'boot', 'grub-embedded.cfg')}`,
  ]);

  const grubCfg = path.join(workDir, 'grub.cfg');
  const template = await readFile(path.join(recipeDir, 'boot', 'grub.cfg'), 'utf8');
  await writeFile(grubCfg, template.replace('@KERNEL_CMDLINE@', recipe.kernelCmdline));

  const grubenv = path.join(workDir, 'grubenv');
  await tool('grub-editenv', [grubenv, 'create']);
  await tool('grub-editenv', [grubenv, 'set', 'resin_root_part=A', 'upgrade_available=0', 'bootcount=0']);

  const configJson = path.join(workDir, 'config.json');
  await writeFile(configJson, `${JSON.stringify(defaultConfigJson(recipe), null, 2)}\n`);

  await makeVfat(output, 'resin-boot', recipe.partitions.boot, {
    '/EFI/BOOT/BOOTX64.EFI': efi,
    '/grub.cfg': grubCfg,
    '/grubenv': grubenv,
    '/config.json': configJson,
  });
}
