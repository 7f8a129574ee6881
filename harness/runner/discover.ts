import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.ts';
import { resolveOwnName } from './own-name.ts';
import type { SuiteDefinition, TestDefinition } from './types.ts';

export interface LoadedSuite {
  name: string;
  definition: SuiteDefinition;
  tests: TestDefinition[];
}

export const SUITES_DIR = path.resolve(import.meta.dirname, '../../suites');

/**
 * Loads a suite folder: `suite.ts` (title, requirements, setup, teardown) and
 * its test modules, in file-name order (`10-identity.ts`, `20-engine.ts`, ...)
 * and, within a module, in the order written: the run order is deterministic.
 */
export async function loadSuite(nameOrPath: string, dir = SUITES_DIR): Promise<LoadedSuite> {
  // A name is a folder of suites/; anything with a slash is a suite folder elsewhere.
  const isPath = nameOrPath.includes('/');
  const folder = isPath ? path.resolve(nameOrPath) : path.join(dir, nameOrPath);
  const name = isPath ? path.basename(folder) : nameOrPath;
  let files: string[];
  try {
    files = await readdir(folder);
  } catch {
    if (isPath) throw new ConfigError('--suite', `no suite folder ${folder}`);
    const known = await listSuites(dir);
    throw new ConfigError('--suite', `no suite "${name}" in ${dir} (known: ${known.join(', ') || 'none'})`);
  }
  if (!files.includes('suite.ts')) throw new ConfigError(path.join(folder, 'suite.ts'), 'a suite folder needs a suite.ts');
  resolveOwnName();
  const definition = ((await import(pathToFileURL(path.join(folder, 'suite.ts')).href)) as { default: SuiteDefinition }).default;
  const tests: TestDefinition[] = [];
  for (const file of files.filter((f) => /^\d+-.*\.ts$/.test(f) && !f.endsWith('.test.ts')).sort()) {
    const module = (await import(pathToFileURL(path.join(folder, file)).href)) as { default?: TestDefinition[] };
    if (!Array.isArray(module.default)) throw new ConfigError(path.join(folder, file), 'a test module must export default defineTests(...)');
    for (const test of module.default) {
      const shape = shapeError(test);
      if (shape) throw new ConfigError(path.join(folder, file), `test "${test.title}": ${shape}`);
    }
    tests.push(...module.default);
  }
  const titles = new Set<string>();
  for (const test of tests) {
    if (titles.has(test.title)) throw new ConfigError(folder, `two tests are titled "${test.title}"`);
    titles.add(test.title);
  }
  return { name, definition, tests };
}

/** What is wrong with a test's definition, checked before anything boots. */
function shapeError(test: TestDefinition): string | undefined {
  const fields = test as Partial<Record<'run' | 'beforeReboot' | 'afterReboot', unknown>>;
  const fn = (name: keyof typeof fields) => typeof fields[name] === 'function';
  if (fn('run') && (fn('beforeReboot') || fn('afterReboot'))) return 'has run() and a reboot part: a test is either run() or beforeReboot() + afterReboot()';
  if (fn('beforeReboot') !== fn('afterReboot')) return `has ${fn('beforeReboot') ? 'beforeReboot() without afterReboot()' : 'afterReboot() without beforeReboot()'}`;
  if (!fn('run') && !fn('beforeReboot')) return 'has neither run() nor beforeReboot() + afterReboot()';
  return undefined;
}

/** Folders with a suite.ts (suites/lib holds shared helpers, not a suite). */
export async function listSuites(dir = SUITES_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const names: string[] = [];
  for (const entry of entries.filter((e) => e.isDirectory())) {
    const files = await readdir(path.join(dir, entry.name));
    if (files.includes('suite.ts')) names.push(entry.name);
  }
  return names.sort();
}
