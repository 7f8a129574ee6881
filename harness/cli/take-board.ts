import type { Accel, Board } from '../boards/index.ts';
import { markBroken, markHealthy, readHealth } from '../boards/health.ts';
import { acquireLease, describeHolder, type Lease } from '../boards/lease.ts';
import { checkBoard, isExclusive, type BoardFacts } from '../dut/binders.ts';
import type { Dut } from '../dut/dut.ts';
import { ConfigError } from '../errors.ts';
import { classify } from '../runner/classify.ts';

export interface TakenBoard {
  board: Board;
  facts: BoardFacts;
  /** Records how the board ended the run (broken with its cause, or healthy) and gives up the lease. */
  release(dut: Dut | undefined): Promise<void>;
}

/** --wait in seconds, checked: how long to wait for a leased board. */
export function waitMs(seconds: string | undefined): number {
  if (seconds === undefined) return 0;
  const value = Number(seconds);
  if (!Number.isFinite(value) || value < 0) throw new ConfigError('--wait', `must be a number of seconds (got "${seconds}")`);
  return value * 1000;
}

/**
 * Checks this host can drive the loaded board, and leases it when it
 * is hardware that serves one run at a time: all before any slow work, so a
 * board taken by another run is refused (or waited for) at once, naming the
 * holder. A board recorded broken by an earlier run is tried anyway (this
 * run is its health check), with a warning.
 */
export async function takeBoard(
  board: Board,
  options: { accel?: Accel; runId: string; waitMs: number; signal: AbortSignal; log: (line: string) => void },
): Promise<TakenBoard> {
  const facts = await checkBoard(board, options.accel ? { accel: options.accel } : {});
  let lease: Lease | undefined;
  if (isExclusive(board)) {
    lease = await acquireLease(board.name, {
      runId: options.runId,
      waitMs: options.waitMs,
      signal: options.signal,
      onWait: (holder) => options.log(`board ${board.name} is leased by ${describeHolder(holder)}; waiting up to ${Math.round(options.waitMs / 1000)} s`),
      onTakeover: (previous, why) => options.log(`took over the lease of board ${board.name}${previous ? ` from ${describeHolder(previous)}` : ''}: ${why}`),
    });
    const health = await readHealth(board.name);
    if (health.state === 'broken') options.log(`warning: board ${board.name} was marked broken by run ${health.runId} at ${health.at}: ${health.cause}: ${health.message}`);
  }
  return {
    board,
    facts,
    async release(dut) {
      try {
        if (lease && dut) {
          const cause = dut.cause;
          if (cause) await markBroken(board.name, { cause: classify(cause).cause, message: cause.reason, runId: options.runId });
          else if (dut.entries().some((entry) => entry.state === 'ready')) await markHealthy(board.name);
        }
      } finally {
        await lease?.release();
      }
    },
  };
}
