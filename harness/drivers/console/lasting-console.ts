import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsoleDriver } from '../../dut/drivers.ts';
import { DutError } from '../../errors.ts';
import { ConsoleBridge } from '../console-bridge.ts';

/**
 * A physical console whose line may go away under it (a USB-serial adapter
 * pulled out, a console server restarted) and come back. The stream the
 * console engine reads is a ConsoleBridge that outlives each opening of the
 * line, so a run's transcript stays one record; only a line that does not
 * come back within its bound ends it, with an error the engine reports.
 */

/** One opening of the line: a serial port, a TCP session. */
export interface Line {
  readonly stream: Duplex;
  /** What it is, for notes and errors: "console adapter /dev/ttyUSB0". */
  readonly name: string;
  /** Resolves, with why, once the line went away by itself. */
  readonly gone: Promise<string>;
  close(): Promise<void>;
}

export interface LineSource {
  /** The opening at open(); rejects with the error open() reports. */
  open(signal: AbortSignal): Promise<Line>;
  /** One attempt to open the line again after it went away (default: `open`); rejects while it is not back. */
  reopen?(signal: AbortSignal): Promise<Line>;
}

export interface LastingOptions {
  /** How long a line that went away may take to come back. Default 5 min. */
  reopenMs?: number;
  /** Told when the line goes away and when it is back, for the transcript. */
  note?: (text: string) => void;
}

const RETRY_MS = 500;

export function lastingConsole(source: LineSource, board: string, options: LastingOptions = {}): ConsoleDriver {
  const reopenMs = options.reopenMs ?? 5 * 60_000;
  const note = options.note ?? ((): void => undefined);
  const reopen = source.reopen ?? source.open;
  let bridge: ConsoleBridge | undefined;
  let line: Line | undefined;
  let stop = new AbortController();

  function keep(opened: Line, to: ConsoleBridge): void {
    line = opened;
    to.attach(opened.stream);
    void opened.gone.then((why) => recover(opened, why, to, stop.signal));
  }

  async function recover(lost: Line, why: string, to: ConsoleBridge, signal: AbortSignal): Promise<void> {
    // Gone because we closed it, or after close(): nothing to recover.
    if (line !== lost || signal.aborted) return;
    line = undefined;
    to.detach();
    await lost.close().catch(() => undefined);
    note(`${lost.name} went away (${why}); waiting for it to return`);
    const deadline = Date.now() + reopenMs;
    let last: unknown;
    while (!signal.aborted) {
      try {
        const back = await reopen(signal);
        if (signal.aborted) {
          await back.close();
          return;
        }
        note(`${back.name} is back`);
        keep(back, to);
        return;
      } catch (error) {
        last = error;
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(RETRY_MS, left), undefined, { signal }).catch(() => undefined);
    }
    if (signal.aborted) return;
    const error = new DutError('console-lost', `${lost.name} went away (${why}) and did not return within ${Math.round(reopenMs / 1000)} s`, {
      dut: board,
      step: 'reopen console',
      cause: last,
    });
    note(error.reason);
    to.destroy(error);
  }

  return {
    async open() {
      if (bridge) return bridge;
      stop = new AbortController();
      const opened = await source.open(stop.signal);
      bridge = new ConsoleBridge({ holdWhileDetached: true });
      // The console engine reports a lost console; with no engine reading, it must not crash the harness.
      bridge.on('error', () => undefined);
      keep(opened, bridge);
      return bridge;
    },
    async close() {
      stop.abort();
      const current = line;
      line = undefined;
      bridge?.detach();
      await current?.close();
      bridge?.destroy();
      bridge = undefined;
    },
  };
}
