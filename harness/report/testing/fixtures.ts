/** A run with every outcome across two suites, and helpers to drive a Reporter with it. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunEnd, RunInfo, SuiteStart, TestResult } from '../events.ts';
import type { Reporter } from '../reporter.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The strict Ant JUnit schema, shared beside the repo and never copied into it. */
export const junitXsd = resolve(repoRoot, '../shared/testdata/junit/JUnit.xsd');
export const haveXsd = existsSync(junitXsd);

export const T0 = Date.UTC(2025, 0, 2, 3, 4, 5, 678);

export const run: RunInfo = {
  board: 'qemu-x86_64',
  deviceType: 'genericx86-64-ext',
  image: 'images/out/balena os.img',
  imageVersion: '6.0.13',
  accel: 'kvm',
  startedAt: T0,
};

export const basics: SuiteStart = { suite: 'os-basics', title: 'OS basics', testCount: 3, startedAt: T0 + 1000 };
export const engine: SuiteStart = { suite: 'engine', title: 'Container engine', testCount: 3, startedAt: T0 + 10_000 };

export const SERIAL = 'root@dut:~# \x1b[?2004hls\x1b[?2004l\r\n\x1b[0;31mred\x1b[0m\x00 ]]> <tag> & "q"\x07\r\n';

export const results: TestResult[] = [
  { suite: 'os-basics', title: 'boots to a login prompt', status: 'pass', durationMs: 1200, startedAt: T0 + 1000, serialExcerpt: SERIAL },
  {
    suite: 'os-basics',
    title: 'hostname is set # from config.json',
    status: 'fail',
    durationMs: 500.25,
    startedAt: T0 + 2200,
    message: 'hostname mismatch',
    diagnostics: {
      command: 'hostname',
      exitCode: 1,
      outputTail: 'line one\n\x1b[31mline two\x1b[0m',
      expected: 'dut-1',
      actual: 'localhost',
      cause: 'command',
      dut: 'qemu-1',
      step: 'test',
    },
    serialExcerpt: 'hostname\r\nlocalhost\r\n',
    artifacts: ['os-basics/hostname/journal.txt'],
  },
  { suite: 'os-basics', title: 'host update', status: 'skip', durationMs: 0, startedAt: T0 + 2700, skipReason: 'requires feature hup, board lacks it' },
  {
    suite: 'engine',
    title: 'engine starts',
    status: 'error',
    durationMs: 60_000,
    startedAt: T0 + 10_000,
    message: 'dut qemu-1, step booting: no login prompt within 60000 ms',
    diagnostics: { cause: 'timeout', dut: 'qemu-1', step: 'booting' },
  },
  {
    suite: 'engine',
    title: 'pull is fast',
    status: 'fail',
    knownFlaky: true,
    durationMs: 3000,
    startedAt: T0 + 70_000,
    message: 'pull took 31 s',
  },
  { suite: 'engine', title: 'runs hello', status: 'pass', knownFlaky: true, durationMs: 800, startedAt: T0 + 73_000 },
];

export const runEnd: RunEnd = {
  durationMs: 80_000,
  timeline: [
    { state: 'off', at: T0, afterMs: 0 },
    { state: 'booting', at: T0 + 100, afterMs: 100 },
    { state: 'shell', at: T0 + 900, afterMs: 800, detail: 'serial' },
  ],
};

/** Feeds the whole fixture run to `reporter`, without calling end(). */
export function feedAll(reporter: Reporter): void {
  reporter.start(run);
  for (const suite of [basics, engine]) {
    reporter.suiteStart(suite);
    for (const result of results.filter((r) => r.suite === suite.suite)) {
      reporter.testStart({ suite: result.suite, title: result.title, startedAt: result.startedAt });
      reporter.testResult(result);
    }
    reporter.suiteEnd({ suite: suite.suite, durationMs: suite === basics ? 2000 : 74_000 });
  }
}

/** Collects what a Reporter writes to its `out`. */
export function sink(): { write(chunk: string): boolean; text: () => string } {
  const chunks: string[] = [];
  return { write: (chunk) => chunks.push(chunk) > 0, text: () => chunks.join('') };
}

export interface Validation {
  ok: boolean;
  output: string;
}

/** xmllint --noout [--schema XSD] file: well-formedness, and validity when a schema is given. */
export function xmllint(file: string, schema?: string): Validation {
  const args = ['--noout', ...(schema ? ['--schema', schema] : []), file];
  try {
    const output = execFileSync('xmllint', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { ok: true, output };
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    return { ok: false, output: e.stderr || e.message };
  }
}

/** The string value of an XPath expression, as libxml2 parses the file (without the newline xmllint adds). */
export function xpathString(file: string, xpath: string): string {
  return execFileSync('xmllint', ['--xpath', `string(${xpath})`, file], { encoding: 'utf8' }).replace(/\n$/, '');
}

/** Fresh directories under one temporary root, removed by `cleanup()` (call it from test.after.always). */
export function tempDirs(prefix: string): { make(): string; cleanup(): void } {
  const root = mkdtempSync(join(tmpdir(), prefix));
  return {
    make: () => mkdtempSync(join(root, 'r-')),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
