import type { WriteProgress } from '../dut/drivers.ts';
import { MiB } from './digest.ts';

export interface PrinterOptions {
  stream?: NodeJS.WriteStream;
  /** For tests: the clock. */
  now?: () => number;
}

const REDRAW_MS = 200;
const LOG_EVERY_MS = 10_000;
const BAR = 30;

/**
 * Draws write and verify progress for people: a bar with MiB/s redrawn in
 * place on a terminal; in CI or a log, a plain line at the start and end of
 * each phase and every ~10 s between, so a long flash is never silent and
 * never floods the log.
 */
export function writeProgressPrinter(options: PrinterOptions = {}): (progress: WriteProgress) => void {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const live = stream.isTTY === true && !process.env['CI'];
  let phase: WriteProgress['phase'] | undefined;
  let started = 0;
  let printed = 0;
  return (progress) => {
    const t = now();
    const first = progress.phase !== phase;
    if (first) {
      phase = progress.phase;
      started = t;
    }
    const last = progress.done >= progress.total;
    if (!first && !last && t - printed < (live ? REDRAW_MS : LOG_EVERY_MS)) return;
    printed = t;
    const line = describe(progress, (t - started) / 1000);
    if (live) stream.write(`\r\x1b[2K${line}${last ? '\n' : ''}`);
    else stream.write(`${line}\n`);
  };
}

/** `write [#####.....]  42%  2150/5154 MiB  118.3 MiB/s`; a total that is only a lower bound (gzip) gets no bar once passed. */
export function describe(progress: WriteProgress, seconds: number): string {
  const done = progress.done / MiB;
  const rate = seconds > 0 ? `${(done / seconds).toFixed(1)} MiB/s` : '';
  if (progress.total <= 0 || progress.done > progress.total) return `${progress.phase} ${done.toFixed(0)} MiB ${rate}`.trimEnd();
  const fraction = progress.done / progress.total;
  const filled = Math.round(fraction * BAR);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}]`;
  return `${progress.phase.padEnd(6)} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}%  ${done.toFixed(0)}/${(progress.total / MiB).toFixed(0)} MiB  ${rate}`.trimEnd();
}
