import { join } from 'node:path';
import { DEFAULT_BOARDS_DIR, listBoards, loadBoard, type Board } from '../boards/index.ts';
import { displayPath } from '../boards/load.ts';
import { readHealth, type Health } from '../boards/health.ts';
import { describeHolder, inspectLease, type LeaseStatus } from '../boards/lease.ts';
import { defineCommand } from './command.ts';

/** One board as `dutlab boards --json` prints it. */
export interface BoardRow {
  name: string;
  /** The board file, relative to cwd when shorter. */
  source: string;
  kind: string | null;
  deviceType: string | null;
  /** Whether a run may take it now; `invalid` when its file (or its lease or health record) does not load. */
  state: 'free' | 'leased' | 'broken' | 'invalid';
  lease: (LeaseStatus & { text: string }) | null;
  health: Health | null;
  error: string | null;
}

/**
 * `dutlab boards [--json] [--dir BOARDS_DIR]`: every board file, what it is,
 * and whether a run may take it: free, leased (by whom), or recorded broken.
 * A board file that does not load is listed with its error: the listing is
 * what a person reads to find out which file is wrong.
 */
export const boardsCommand = defineCommand({
  name: 'boards',
  summary: 'List the board files: kind, device type, and free / leased (by whom) / broken (why).',
  flags: {
    json: { type: 'boolean', default: false, help: 'print the rows as JSON' },
    dir: { type: 'string', default: DEFAULT_BOARDS_DIR, value: 'DIR', help: 'the folder of board files' },
  },
  examples: ['dutlab boards', 'dutlab boards --json --dir /etc/dutlab/boards'],
  async run({ values }) {
    const rows = await Promise.all((await listBoards(values.dir)).map((name) => boardRow(name, values.dir)));
    process.stdout.write(values.json ? `${JSON.stringify(rows, null, 2)}\n` : table(rows));
    return 0;
  },
});

async function boardRow(fileName: string, dir: string): Promise<BoardRow> {
  let board: Board | undefined;
  try {
    board = await loadBoard(fileName, { boardsDir: dir });
    const [lease, health] = await Promise.all([inspectLease(board.name), readHealth(board.name)]);
    return {
      name: board.name,
      source: board.source,
      kind: board.kind,
      deviceType: board.deviceType,
      state: lease ? 'leased' : health.state === 'broken' ? 'broken' : 'free',
      lease: lease ? { ...lease, text: leaseText(lease) } : null,
      health,
      error: null,
    };
  } catch (error) {
    // A bad board file, or an unreadable lease or health record: the row says which file and why.
    return {
      name: board?.name ?? fileName,
      source: board?.source ?? displayPath(join(dir, `${fileName}.yaml`)),
      kind: board?.kind ?? null,
      deviceType: board?.deviceType ?? null,
      state: 'invalid',
      lease: null,
      health: null,
      error: (error as Error).message,
    };
  }
}

function leaseText(lease: LeaseStatus): string {
  const who = lease.holder ? `leased by ${describeHolder(lease.holder)}` : 'leased';
  return lease.stale ? `${who} (stale: ${lease.stale})` : who;
}

function stateText(row: BoardRow): string {
  if (row.error !== null) return `invalid: ${row.error}`;
  const parts: string[] = [];
  if (row.lease) parts.push(row.lease.text);
  if (row.health?.state === 'broken') parts.push(`broken since ${row.health.at}: ${row.health.cause} — ${row.health.message} (run ${row.health.runId})`);
  return parts.join('; ') || 'free';
}

function table(rows: BoardRow[]): string {
  if (rows.length === 0) return 'no board files\n';
  const cells = [['NAME', 'KIND', 'DEVICE TYPE', 'STATE'], ...rows.map((r) => [r.name, r.kind ?? '-', r.deviceType ?? '-', stateText(r)])];
  const widths = [0, 1, 2].map((i) => Math.max(...cells.map((c) => (c[i] as string).length)));
  return cells.map((c) => c.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] as number) : cell)).join('  ').trimEnd()).join('\n') + '\n';
}
