import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** For tests: a fresh directory, removed when the test ends. */
export async function tempDir(t: { teardown(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `dutlab-${prefix}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** For tests that keep what a run wrote: removed when the test passed, kept (and named in its log) when it did not. */
export async function keepIfFailed(t: { passed: boolean; log(...values: unknown[]): void }, dir: string): Promise<void> {
  if (t.passed) await rm(dir, { recursive: true, force: true });
  else t.log(`kept for inspection: ${dir}`);
}
