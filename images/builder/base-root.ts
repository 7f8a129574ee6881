import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../recipe.ts';
import { tool } from './tool.ts';

/** Debian's apt sources on this host: mmdebstrap then uses the host's archive, so no mirror is written anywhere. */
const HOST_SOURCES = '/etc/apt/sources.list.d/debian.sources';

/**
 * The OS root as a tarball: Debian packages via mmdebstrap in a user
 * namespace (no mounts, no loop devices), then the recipe's overlay tree and
 * customize.sh (services, trimming, initramfs).
 */
export async function buildBaseRoot(recipe: Recipe, recipeDir: string, output: string, workDir: string): Promise<void> {
  const settings = path.join(workDir, 'customize.env');
  await writeFile(
    settings,
    [
      `TRIM_MODULES='${recipe.trimModules.join(' ')}'`,
      `TRIM_FILES='${recipe.trimFiles.join(' ')}'`,
      `ENABLE_UNITS='${recipe.services.enable.join(' ')}'`,
      `MASK_UNITS='${recipe.services.mask.join(' ')}'`,
      '',
    ].join('\n'),
  );
  const dpkgOptions = [
    ...recipe.dpkgExclude.map((p) => `--dpkgopt=path-exclude=${p}`),
    ...recipe.dpkgInclude.map((p) => `--dpkgopt=path-include=${p}`),
  ];
  await tool(
    'mmdebstrap',
    [
      '--mode=unshare',
      '--variant=minbase',
      '--format=tar',
      `--architectures=${recipe.architecture}`,
      '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
      `--include=${recipe.packages.join(',')}`,
      ...dpkgOptions,
      `--customize-hook=sync-in ${path.join(recipeDir, 'rootfs')} /`,
      `--customize-hook=${path.join(recipeDir, 'customize.sh')} "$1" ${settings}`,
      recipe.suite,
      output,
      HOST_SOURCES,
    ],
    { env: { TMPDIR: workDir } },
  );
}
