import { mkdir, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const DUTLAB = fileURLToPath(new URL('../../bin/dutlab.js', import.meta.url));

/** How `dutlab run` is asked to run the suites; every mode runs the same tests. */
export interface SuiteMode {
  /** What `--suites-modes` calls it. */
  key: string;
  name: string;
  args: string[];
  /** Resumes and saves golden snapshots (in the bench's own cache), or boots cold. */
  golden: boolean;
}

/** The first is the reference: the run as it was before snapshots, shared reboots and parallel DUTs. */
export const SUITE_MODES: readonly SuiteMode[] = [
  { key: 'reference', name: 'cold, sequential, no isolation, a reboot per test', args: ['--cold', '--isolate', 'none', '--reboots', 'each'], golden: false },
  { key: 'shared', name: 'cold, sequential, no isolation, shared reboots', args: ['--cold', '--isolate', 'none'], golden: false },
  { key: 'suite', name: 'golden, isolate per suite (default)', args: ['--isolate', 'suite'], golden: true },
  { key: 'test', name: 'golden, isolate per test', args: ['--isolate', 'test'], golden: true },
  { key: 'parallel2', name: 'golden, isolate per suite, --parallel 2', args: ['--isolate', 'suite', '--parallel', '2'], golden: true },
];

/**
 * The modes `--suites-modes` names (all by default), in the table's order;
 * the reference always runs, since every ratio is against it.
 */
export function suiteModes(keys: string | undefined): SuiteMode[] {
  if (keys === undefined) return [...SUITE_MODES];
  const asked = new Set(keys.split(',').filter(Boolean));
  const unknown = [...asked].filter((key) => !SUITE_MODES.some((mode) => mode.key === key));
  if (unknown.length > 0) throw new Error(`--suites-modes: no mode ${unknown.map((key) => `"${key}"`).join(', ')} (${SUITE_MODES.map((mode) => mode.key).join(', ')})`);
  return SUITE_MODES.filter((mode, index) => index === 0 || asked.has(mode.key));
}

export interface SuiteRun {
  mode: string;
  wallMs: number;
  counts: { total: number; passed: number; failed: number; errors: number; skipped: number };
  exitCode: number;
  /** The run's report directory, under reports/bench/<bench start>/<mode key>/. */
  report: string;
}

/**
 * Whole `dutlab run`s of the same suites, one mode after another, timed from
 * the command's start to its exit. The golden modes share one cache of the
 * bench's own, primed by an untimed run of one os test first, so that none
 * of them pays for the first save and every one resumes the same state.
 */
export async function suiteRuns(suites: string, grep: string | undefined, modes: readonly SuiteMode[], say: (text: string) => void): Promise<SuiteRun[]> {
  const golden = await mkdtemp(path.join(tmpdir(), 'dutlab-bench-suites-golden-'));
  // Kept, a directory per mode: a mode's failure is a finding, and its report and output say which test and why.
  const reports = path.resolve('reports', 'bench', new Date().toISOString().replace(/[:.]/g, '-'));
  const run = async (key: string, args: string[]) => {
    const dir = path.join(reports, key);
    await mkdir(dir, { recursive: true });
    const result = await execa('node', [DUTLAB, 'run', '--suite', suites, ...(grep ? ['--grep', grep] : []), '--reports', dir, ...args], {
      reject: false,
      env: { DUTLAB_GOLDEN_DIR: golden },
      stdout: { file: path.join(dir, 'stdout.txt') },
      stderr: { file: path.join(dir, 'stderr.txt') },
    });
    return { exitCode: result.exitCode ?? -1, dir };
  };
  try {
    if (modes.some((mode) => mode.golden)) {
      say('suites: priming the golden snapshot (untimed)');
      await run('priming', ['--grep', '^os/os-release', '--isolate', 'none']);
    }
    const runs: SuiteRun[] = [];
    for (const mode of modes) {
      say(`suites: ${mode.name}`);
      const started = performance.now();
      const { exitCode, dir } = await run(mode.key, mode.args);
      const wallMs = performance.now() - started;
      const report = path.join(dir, 'latest');
      const summary = await readFile(path.join(report, 'summary.json'), 'utf8').then(
        (text) => JSON.parse(text) as { counts: SuiteRun['counts'] },
        () => {
          throw new Error(`suites: ${mode.name}: \`dutlab run\` exited ${exitCode} and wrote no summary; its output is in ${dir}`);
        },
      );
      const real = await realpath(report);
      say(`suites: ${mode.name}: exit ${exitCode} after ${Math.round(wallMs / 1000)} s, report in ${real}`);
      runs.push({ mode: mode.name, wallMs, counts: summary.counts, exitCode, report: real });
    }
    return runs;
  } finally {
    await rm(golden, { recursive: true, force: true });
  }
}
