import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../recipe.ts';
import { BOOT_FILES_DIR, buildBootFiles, defaultConfigJson, EFI_DIR, writeGrubenv } from './boot-partition.ts';
import { assembleDisk } from './disk.ts';
import { makeExt4, makeVfat } from './filesystems.ts';
import { prepareRootTree } from './root-tree.ts';
import { tool } from './tool.ts';

/** The marker file on flash-boot by which balenaOS (and dutlab) tell a flasher image. */
export const FLASHER_MARKER = 'balena-image-flasher';
const BOOT_MiB = 40;
/** flash-rootB is never used: a placeholder, as balenaOS leaves it. */
const ROOT_B_MiB = 8;

export interface FlasherInput {
  recipe: Recipe;
  recipeDir: string;
  baseTar: string;
  version: string;
  /** The OS disk image the installer writes. */
  image: string;
  output: string;
  workDir: string;
}

/**
 * The generic-amd64 style flasher: flash-boot (GRUB, the marker, config.json),
 * flash-rootA (the OS as a plain root with the installer, and the disk image
 * under /opt), flash-rootB (a placeholder). The recipe's flasher/ folder says
 * what turns the OS tree into the installer's root.
 */
export async function buildFlasherImage(input: FlasherInput): Promise<void> {
  const { recipe, workDir } = input;
  const flasherDir = path.join(input.recipeDir, 'flasher');
  const tree = path.join(workDir, 'root');
  await prepareRootTree(recipe, input.baseTar, input.version, tree, (dir) => buildBootFiles(recipe, input.recipeDir, path.join(dir, BOOT_FILES_DIR)));
  const imageName = path.basename(input.image);
  await mkdir(path.join(tree, 'opt'), { recursive: true });
  await tool('cp', ['--sparse=always', input.image, path.join(tree, 'opt', imageName)]);
  await tool(path.join(flasherDir, 'customize.sh'), [tree, imageName]);

  const parts = path.join(workDir, 'parts');
  await mkdir(parts, { recursive: true });
  // What the tree holds (the image counted by its allocated blocks, as ext4 stores it sparse), plus room for metadata.
  const usedMiB = Number((await tool('du', ['-s', '-B1M', tree])).split(/\s/)[0]);
  const rootMiB = Math.ceil(usedMiB * 1.15) + 64;
  await makeExt4(path.join(parts, 'rootA.ext4'), 'flash-rootA', rootMiB, tree);
  await makeExt4(path.join(parts, 'rootB.ext4'), 'flash-rootB', ROOT_B_MiB);

  const grubCfg = path.join(workDir, 'grub.cfg');
  await writeFile(grubCfg, (await readFile(path.join(flasherDir, 'grub.cfg'), 'utf8')).replace('@KERNEL_CMDLINE@', recipe.kernelCmdline));
  const grubenv = await writeGrubenv(workDir, ['os_console=serial']);
  const configJson = path.join(workDir, 'config.json');
  await writeFile(configJson, `${JSON.stringify(defaultConfigJson(recipe), null, 2)}\n`);
  const marker = path.join(workDir, FLASHER_MARKER);
  await writeFile(marker, '');
  await makeVfat(path.join(parts, 'boot.vfat'), 'flash-boot', BOOT_MiB, {
    [`/${EFI_DIR}/BOOTX64.EFI`]: path.join(tree, BOOT_FILES_DIR, EFI_DIR, 'BOOTX64.EFI'),
    [`/${EFI_DIR}/grub.cfg`]: grubCfg,
    [`/${EFI_DIR}/grubenv`]: grubenv,
    '/config.json': configJson,
    [`/${FLASHER_MARKER}`]: marker,
  });

  await assembleDisk(input.output, [
    { name: 'flash-boot', file: path.join(parts, 'boot.vfat'), sizeMiB: BOOT_MiB, type: 'efi' },
    { name: 'flash-rootA', file: path.join(parts, 'rootA.ext4'), sizeMiB: rootMiB, type: 'linux' },
    { name: 'flash-rootB', file: path.join(parts, 'rootB.ext4'), sizeMiB: ROOT_B_MiB, type: 'linux' },
  ]);
}
