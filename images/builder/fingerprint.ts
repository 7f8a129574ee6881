import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';

export const FINGERPRINT_PATH = 'balenaos.fingerprint';

/**
 * Paths that the running OS legitimately writes, left out of the md5sum list
 * so `md5sum -c /balenaos.fingerprint` stays clean on a healthy device.
 */
const MUTABLE = [/^var\//, /^tmp\//, /^run\//, /^root\//, /^home\//, /^mnt\//, /^etc\/machine-id$/, /^etc\/\.updated$/];

/** md5sum-format lines for every regular file of a root tree, sorted by path. */
export async function fingerprint(root: string): Promise<string> {
  const files: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full);
      if (MUTABLE.some((re) => re.test(entry.isDirectory() ? `${rel}/` : rel))) continue;
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && rel !== FINGERPRINT_PATH) files.push(rel);
    }
  }
  await walk(root);
  files.sort();
  const lines: string[] = [];
  for (const rel of files) lines.push(`${await md5(path.join(root, rel))}  /${rel}`);
  return `${lines.join('\n')}\n`;
}

async function md5(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
