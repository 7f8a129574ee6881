import test, { type ExecutionContext } from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../harness/errors.ts';
import { tempDir } from '../harness/testing/temp-dir.ts';
import { loadRecipe, recipeDir } from './recipe.ts';

async function recipeWith(t: ExecutionContext, edit: (text: string) => string): Promise<string> {
  const dir = await tempDir(t, 'recipe');
  const text = await readFile(path.join(recipeDir, 'recipe.yaml'), 'utf8');
  await writeFile(path.join(dir, 'recipe.yaml'), edit(text));
  return dir;
}

test('the shipped recipe is valid and names the balenaOS partition set', async (t) => {
  const { recipe } = await loadRecipe();
  t.is(recipe.slug, 'generic-amd64');
  t.true(recipe.packages.includes('docker.io'));
  t.true(recipe.services.enable.includes('balena.service'));
  t.true(recipe.partitions.data > recipe.partitions.root, 'data must hold a loaded hostapp');
});

test('a bad recipe value is reported with file, line and field', async (t) => {
  const dir = await recipeWith(t, (text) => text.replace(/^ {2}root: \d+$/m, '  root: 12'));
  const error = await t.throwsAsync(loadRecipe(dir), { instanceOf: ConfigError });
  const line = (await readFile(path.join(dir, 'recipe.yaml'), 'utf8')).split('\n').findIndex((l) => l === '  root: 12') + 1;
  t.regex(error?.message ?? '', new RegExp(`recipe\\.yaml:${line}: partitions\\.root: must be >= 256 \\(got 12\\)`));
});

test('an unknown recipe key is reported with what is allowed', async (t) => {
  const dir = await recipeWith(t, (text) => `${text}\npackagez: [vim]\n`);
  const error = await t.throwsAsync(loadRecipe(dir), { instanceOf: ConfigError });
  t.regex(error?.message ?? '', /recipe\.yaml:\d+: packagez: unknown key \(allowed: name, suite/);
});
