/**
 * Build steps as events, in the manner of labgrid's step.py: each step is
 * announced once with its title and duration, and whoever listens draws it
 * (a live line on a terminal, plain lines in CI, nothing in tests).
 */
export interface StepEvent {
  title: string;
  phase: 'start' | 'done' | 'cached' | 'failed';
  ms?: number;
}

export type StepListener = (event: StepEvent) => void;

export class Steps {
  constructor(private readonly listener: StepListener = () => {}) {}

  async run<T>(title: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    this.listener({ title, phase: 'start' });
    try {
      const result = await work();
      this.listener({ title, phase: 'done', ms: performance.now() - started });
      return result;
    } catch (error) {
      this.listener({ title, phase: 'failed', ms: performance.now() - started });
      throw error;
    }
  }

  cached(title: string): void {
    this.listener({ title, phase: 'cached' });
  }
}

/** Progress for people: one rewritten line per step on a terminal, plain lines elsewhere. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr): StepListener {
  const live = stream.isTTY === true && !process.env['CI'];
  return ({ title, phase, ms }) => {
    const secs = ms === undefined ? '' : ` (${(ms / 1000).toFixed(1)} s)`;
    const line = {
      start: `… ${title}`,
      done: `✓ ${title}${secs}`,
      cached: `✓ ${title} (cached)`,
      failed: `✗ ${title}${secs}`,
    }[phase];
    // In a log (CI) the start line says what a long silence is.
    if (live) stream.write(`\r\x1b[2K${line}${phase === 'start' ? '' : '\n'}`);
    else stream.write(`${line}\n`);
  };
}
