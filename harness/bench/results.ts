import { mkdir, writeFile } from 'node:fs/promises';
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

export interface BenchResults {
  date: string;
  machine: Machine;
  figures: Record<string, Figure>;
  ratios: Ratio[];
  /** Figures that are not timings (flash rates, the KVM probe's verdict). */
  notes: [string, string][];
}

export function describeMachine(qemu: string, accel: string): Machine {
  return { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), qemu, accel };
}

export function ratio(name: string, numerator: Figure | undefined, denominator: Figure | undefined, atMost: number): Ratio[] {
  return numerator && denominator ? [{ name, value: numerator.median / denominator.median, atMost }] : [];
}

export function renderTable(results: BenchResults): string {
  const lines = [
    `# dutlab benchmarks`,
    '',
    `Measured ${results.date} by \`npm run bench\` on ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.memoryGiB} GiB, Linux ${results.machine.kernel}, ${results.machine.qemu}, accelerator ${results.machine.accel}.`,
    'Every figure below comes from this one run; compare them as ratios, not with another machine\'s. Rerunning replaces this file and `results.json`.',
    '',
    '## Ratios',
    '',
    '| ratio (medians) | value | goal | met |',
    '|---|---|---|---|',
    ...results.ratios.map((r) => `| ${r.name} | ${r.value.toFixed(3)} | ≤ ${r.atMost} | ${r.value <= r.atMost ? 'yes' : '**no**'} |`),
    '',
    '## Figures',
    '',
    '| measure | median | p90 | n |',
    '|---|---|---|---|',
    ...Object.entries(results.figures).map(([name, f]) => `| ${name} | ${formatMs(f.median)} | ${formatMs(f.p90)} | ${f.n} |`),
  ];
  if (results.notes.length) lines.push('', '## Other figures', '', '| | |', '|---|---|', ...results.notes.map(([k, v]) => `| ${k} | ${v} |`));
  return `${lines.join('\n')}\n`;
}

/** bench/RESULTS.md and bench/results.json, replaced. */
export async function saveResults(results: BenchResults, dir = path.resolve('bench')): Promise<string> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const file = path.join(dir, 'RESULTS.md');
  await writeFile(file, renderTable(results));
  return file;
}
