/** The README's example suite of one's own, as the project's tests use it: the README stays the one copy. */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** The files of the README's example suite, by the name each block is marked with. */
export async function readmeSuite(): Promise<Record<string, string>> {
  const readme = await readFile('README.md', 'utf8');
  const files: Record<string, string> = {};
  for (const match of readme.matchAll(/<!-- external-suite: (\S+) -->\n```ts\n([\s\S]*?)```/g)) files[match[1] ?? ''] = match[2] ?? '';
  return files;
}

/** Writes the README's suite into a new folder outside the project (no package.json: not even an ES module scope). */
export async function writeReadmeSuite(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), 'dutlab-own-suite-'));
  const suite = path.join(folder, 'my-product');
  await mkdir(suite);
  for (const [name, text] of Object.entries(await readmeSuite())) await writeFile(path.join(suite, name), text);
  return suite;
}
