/**
 * A process that holds leases the way a dutlab run does, for the lease tests:
 * one JSON request per stdin line (`{"op":"acquire","board":..,"runId":..,"waitMs":..}`,
 * `{"op":"release","board":..}`), one JSON answer per stdout line. A SIGTERM
 * ends it as it ends the CLI: the signal aborts, the process exits, and the
 * clean-up registry's exit hook is all that releases what it holds.
 *
 * usage: node --import tsx lease-holder.ts LEASE_DIR
 */
import { createInterface } from 'node:readline';
import { handleSignals } from '../../cli/signals.ts';
import { acquireLease, type Lease } from '../lease.ts';

interface Request {
  op: 'acquire' | 'release';
  board: string;
  runId?: string;
  waitMs?: number;
}

const dir = process.argv[2] as string;
const shutdown = handleSignals();
shutdown.signal.addEventListener('abort', () => process.exit(2));
const held = new Map<string, Lease>();
const answer = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
// Loaded and listening: a test that races two of these starts both only after this line.
answer({ ready: true, pid: process.pid });

for await (const line of createInterface({ input: process.stdin })) {
  const request = JSON.parse(line) as Request;
  if (request.op === 'acquire') {
    try {
      let tookOver: string | undefined;
      const lease = await acquireLease(request.board, {
        runId: request.runId ?? 'child',
        dir,
        waitMs: request.waitMs ?? 0,
        onTakeover: (_previous, why) => (tookOver = why),
      });
      held.set(request.board, lease);
      answer({ ok: true, holder: lease.holder, tookOver });
    } catch (error) {
      answer({ ok: false, name: (error as Error).name, message: (error as Error).message });
    }
  } else {
    await held.get(request.board)?.release();
    held.delete(request.board);
    answer({ released: true });
  }
}
