import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

/** sha256 of a list of parts, in order: the cache key of a step. */
export function hashParts(parts: readonly (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) {
    hash.update(String(part.length));
    hash.update(':');
    hash.update(part);
  }
  return hash.digest('hex');
}

/** Hash a directory tree: relative paths, modes, link targets and contents, in sorted order; `exclude` names top-level entries to leave out. */
export async function hashTree(root: string, exclude: readonly string[] = []): Promise<string> {
  const parts: (string | Buffer)[] = [];
  async function walk(dir: string): Promise<void> {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full);
      if (exclude.includes(rel)) continue;
      const info = entry.isSymbolicLink() ? undefined : await stat(full);
      parts.push(rel, String(info?.mode ?? 'symlink'));
      if (entry.isDirectory()) await walk(full);
      else if (entry.isSymbolicLink()) parts.push(`link:${await readlink(full)}`);
      else parts.push(await readFile(full));
    }
  }
  await walk(root);
  return hashParts(parts);
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  // 8 MiB reads: with 64 KiB ones the stream, not SHA-256, bounds a 5 GiB image.
  for await (const chunk of createReadStream(file, { highWaterMark: 8 * 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Writes an artifact so that a crash never leaves a half-written file where
 * the cache would take it as good: the work goes to `<name>.<pid>.partial`, which is
 * renamed into place only when complete.
 */
export async function writeAtomically<T>(target: string, work: (partial: string) => Promise<T>): Promise<T> {
  // Per process: two builds of the same artifact at once (two runs on one host) must not share a half-written file.
  const partial = `${target}.${process.pid}.partial`;
  await mkdir(path.dirname(target), { recursive: true });
  await rm(partial, { recursive: true, force: true });
  try {
    const result = await work(partial);
    await rename(partial, target);
    return result;
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}

export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
