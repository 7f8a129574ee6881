import { mkdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Recipe } from '../recipe.ts';
import { FINGERPRINT_PATH, fingerprint } from './fingerprint.ts';
import { osIdentityFiles } from './os-release.ts';
import { tool } from './tool.ts';

/**
 * One version's root as a directory: the base root unpacked (as root, so
 * ownership is kept), stamped with that version's identity files, given
 * `addFiles` (its boot files), and fingerprinted.
 */
export async function prepareRootTree(recipe: Recipe, baseTar: string, version: string, dir: string, addFiles: (dir: string) => Promise<void>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await tool('tar', ['-C', dir, '--numeric-owner', '-xpf', baseTar]);
  for (const [rel, content] of Object.entries(osIdentityFiles(recipe, version))) {
    const file = path.join(dir, rel);
    await rm(file, { force: true }); // os-release is a symlink in Debian
    await writeFile(file, content);
  }
  // systemd's first-boot jobs (ldconfig, hwdb) run when /usr is newer than
  // /etc/.updated; they would rewrite fingerprinted files.
  const usr = await stat(path.join(dir, 'usr'));
  for (const stamp of ['etc/.updated', 'var/.updated']) {
    await writeFile(path.join(dir, stamp), '');
    await utimes(path.join(dir, stamp), usr.atime, new Date(usr.mtimeMs + 1000));
  }
  await addFiles(dir);
  await writeFile(path.join(dir, FINGERPRINT_PATH), await fingerprint(dir));
}

/** A root tree as the single layer of a hostapp: a plain tar, sorted so rebuilds are byte-stable. */
export async function tarTree(dir: string, output: string): Promise<void> {
  await tool('tar', ['-C', dir, '--numeric-owner', '--sort=name', '-cf', output, '.']);
}
