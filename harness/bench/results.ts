import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import path from 'node:path';
import { formatMs, type Figure } from './stats.ts';

export interface Ratio {
  name: string;
  value: number;
  /** The goal: the ratio must be at most this. */
  atMost: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  qemu: string;
  accel: string;
}

/** What one section of the bench measured, all in one run. */
export interface Section {
  date: string;
  figures: Record<string, Figure>;
  ratios: Ratio[];
  /** Figures that are not timings (flash rates, the KVM probe's verdict, test counts). */
  notes: [string, string][];
}

export interface BenchResults {
  machine: Machine;
  sections: Record<string, Section>;
}

export function describeMachine(qemu: string, accel: string): Machine {
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), qemu, accel };
}

export function newSection(): Section {
  return { date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), figures: {}, ratios: [], notes: [] };
}

export function ratio(name: string, numerator: Figure | undefined, denominator: Figure | undefined, atMost: number): Ratio[] {
  return numerator && denominator ? [{ name, value: numerator.median / denominator.median, atMost }] : [];
}

export function renderTable(results: BenchResults): string {
  const { machine } = results;
  const sections = Object.entries(results.sections);
  const lines = [
    `# dutlab benchmarks`,
    '',
    `Measured by \`npm run bench\` on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}, ${machine.qemu}, accelerator ${machine.accel}.`,
    'Each section is measured in one run, its comparisons side by side; compare figures as ratios, not with another machine\'s. Rerunning a section replaces it (and all of them on another machine) here and in `results.json`.',
    '',
    '## Ratios',
    '',
    '| section (measured) | ratio (medians) | value | goal | met |',
    '|---|---|---|---|---|',
    ...sections.flatMap(([name, section]) => section.ratios.map((r) => `| ${name} (${section.date}) | ${r.name} | ${r.value.toFixed(3)} | ≤ ${r.atMost} | ${r.value <= r.atMost ? 'yes' : '**no**'} |`)),
  ];
  for (const [name, section] of sections) {
    lines.push('', `## ${name} (${section.date})`, '');
    const figures = Object.entries(section.figures);
    if (figures.length) lines.push('| measure | median | p90 | n |', '|---|---|---|---|', ...figures.map(([what, f]) => `| ${what} | ${formatMs(f.median)} | ${formatMs(f.p90)} | ${f.n} |`));
    if (section.notes.length) lines.push(...(figures.length ? [''] : []), '| | |', '|---|---|', ...section.notes.map(([k, v]) => `| ${k} | ${v} |`));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * bench/RESULTS.md and bench/results.json: the sections measured now replace
 * their earlier figures; the others are kept if they were measured on this
 * machine, and dropped if not.
 */
export async function saveResults(measured: BenchResults, dir = path.resolve('bench')): Promise<{ file: string; results: BenchResults }> {
  await mkdir(dir, { recursive: true });
  const json = path.join(dir, 'results.json');
  const earlier = await readFile(json, 'utf8').then((text) => JSON.parse(text) as Partial<BenchResults>, () => undefined);
  const sameMachine = earlier?.machine && JSON.stringify(earlier.machine) === JSON.stringify(measured.machine);
  const results: BenchResults = { machine: measured.machine, sections: { ...(sameMachine ? earlier?.sections : {}), ...measured.sections } };
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  const file = path.join(dir, 'RESULTS.md');
  await writeFile(file, renderTable(results));
  return { file, results };
}
