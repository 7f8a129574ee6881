import path from 'node:path';
import { execa } from 'execa';
import { ToolError } from '../../harness/errors.ts';

/**
 * Reads single files out of partitions of a raw disk image in place: mtools
 * and debugfs both take a byte offset into the image, so there is no mount,
 * no loop device and no copy of a 1 GiB root. Anything unreadable comes back
 * undefined, because a foreign image may simply be laid out differently; only
 * a missing tool is an error, since it would hide every answer.
 */

const TOOL_TIMEOUT_MS = 10_000;
const MAX_SYMLINK_HOPS = 8;

const PACKAGES: Record<string, string> = { mtype: 'mtools', mdir: 'mtools', debugfs: 'e2fsprogs' };

async function run(file: string, args: string[], env: Record<string, string>): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const result = await execa(file, args, {
    reject: false,
    timeout: TOOL_TIMEOUT_MS,
    stripFinalNewline: false,
    env: { LC_ALL: 'C', ...env },
  });
  if (result.failed && 'code' in result && result.code === 'ENOENT') {
    throw new ToolError(file, `not installed (Debian package ${PACKAGES[file] ?? file})`, '', { step: 'inspect input' });
  }
  return { ok: !result.failed, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}

/** GRUB's environment block (grubenv) on a FAT partition, as key/value pairs. */
export async function readGrubenv(image: string, offsetBytes: number): Promise<Record<string, string> | undefined> {
  // generic-amd64 keeps it beside grub.cfg in EFI/BOOT; older x86 images at the top.
  let result;
  for (const where of ['::EFI/BOOT/grubenv', '::grubenv']) {
    // Without the skip, mtools refuses FAT images whose geometry it finds odd.
    result = await run('mtype', ['-i', `${image}@@${offsetBytes}`, where], { MTOOLS_SKIP_CHECK: '1' });
    if (result.ok) break;
  }
  if (!result?.ok) return undefined;
  const env: Record<string, string> = {};
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return env;
}

/** Whether the FAT partition at `offsetBytes` holds `file` at its top. */
export async function hasFatFile(image: string, offsetBytes: number, file: string): Promise<boolean> {
  return (await run('mdir', ['-b', '-i', `${image}@@${offsetBytes}`, `::${file}`], { MTOOLS_SKIP_CHECK: '1' })).ok;
}

/** The boot partition's config.json, parsed; undefined when it is missing or not JSON. */
export async function readConfigJson(image: string, offsetBytes: number): Promise<Record<string, unknown> | undefined> {
  const result = await run('mtype', ['-i', `${image}@@${offsetBytes}`, '::config.json'], { MTOOLS_SKIP_CHECK: '1' });
  if (!result.ok) return undefined;
  try {
    const config: unknown = JSON.parse(result.stdout);
    return config && typeof config === 'object' && !Array.isArray(config) ? (config as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One request to debugfs on the ext filesystem at `offsetBytes`. debugfs
 * reports most failures on stderr with exit status 0, so any stderr line
 * beyond its version banner counts as failure.
 */
async function debugfs(image: string, offsetBytes: number, request: string): Promise<string | undefined> {
  // e2fsprogs' unix io manager reads options after the first '?' of the device name.
  const result = await run('debugfs', ['-R', request, `${image}?offset=${offsetBytes}`], { DEBUGFS_PAGER: '__none__' });
  const complaints = result.stderr.split('\n').filter((line) => line.trim() && !/^debugfs \d/.test(line));
  return result.ok && complaints.length === 0 ? result.stdout : undefined;
}

/**
 * A file's content from an ext2/3/4 partition, following symbolic links
 * (debugfs' `cat` would print a link's target blocks, not the file).
 */
export async function readExtFile(image: string, offsetBytes: number, file: string): Promise<string | undefined> {
  const found = await resolveExt(image, offsetBytes, file);
  return found?.type === 'regular' ? debugfs(image, offsetBytes, `cat "${found.path}"`) : undefined;
}

/** A symbolic link's target, unresolved. */
export async function readExtLink(image: string, offsetBytes: number, file: string): Promise<string | undefined> {
  if (image.includes('?') || /["\n]/.test(file)) return undefined;
  const stat = await debugfs(image, offsetBytes, `stat "${file}"`);
  if (!stat || /\bType: (\S+)/.exec(stat)?.[1] !== 'symlink') return undefined;
  // Short targets live in the inode ("Fast link dest"); long ones in a block that cat prints.
  return /^Fast link dest: "(.*)"$/m.exec(stat)?.[1] ?? (await debugfs(image, offsetBytes, `cat "${file}"`));
}

/**
 * A file of the OS a balenaOS root partition holds as a hostapp: `current`
 * names the container, whose layers (the engine's overlay2 store under
 * /balena) are searched top down, as the partition's init stacks them.
 */
export async function readHostappFile(image: string, offsetBytes: number, file: string): Promise<string | undefined> {
  const current = await readExtLink(image, offsetBytes, '/current');
  const id = current?.split('/').pop();
  if (!id || !/^[0-9a-f]{12,64}$/.test(id)) return undefined;
  const mountId = (await readExtFile(image, offsetBytes, `/balena/image/overlay2/layerdb/mounts/${id}/mount-id`))?.trim();
  if (!mountId || !/^[0-9a-f]+(-init)?$/.test(mountId)) return undefined;
  const lower = (await readExtFile(image, offsetBytes, `/balena/overlay2/${mountId}/lower`))?.trim() ?? '';
  const layers = [`/balena/overlay2/${mountId}/diff`];
  for (const link of lower.split(':').filter((l) => /^l\/[A-Z0-9]+$/.test(l))) {
    const target = await readExtLink(image, offsetBytes, `/balena/overlay2/${link}`);
    if (target && !target.includes('-init/')) layers.push(path.posix.resolve('/balena/overlay2/l', target));
  }
  for (const layer of layers) {
    const content = await readExtFile(image, offsetBytes, `${layer}${path.posix.resolve('/', file)}`);
    if (content !== undefined) return content;
  }
  return undefined;
}

async function resolveExt(image: string, offsetBytes: number, file: string): Promise<{ path: string; type: string } | undefined> {
  if (image.includes('?')) return undefined; // would be taken for io options
  let current = path.posix.resolve('/', file);
  for (let hop = 0; hop <= MAX_SYMLINK_HOPS; hop++) {
    if (/["\n]/.test(current)) return undefined; // cannot be quoted for debugfs
    const stat = await debugfs(image, offsetBytes, `stat "${current}"`);
    const type = stat && /\bType: (\S+)/.exec(stat)?.[1];
    if (!type) return undefined;
    if (type !== 'symlink') return { path: current, type };
    const target = await readExtLink(image, offsetBytes, current);
    if (!target) return undefined;
    current = path.posix.resolve(path.posix.dirname(current), target);
  }
  return undefined;
}
