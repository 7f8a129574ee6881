import { ConfigError } from '../errors.ts';
import { DEFAULT_GOLDEN_LIMIT_BYTES, defaultGoldenDir, GoldenCache, type GoldenEntry } from '../dut/golden-cache.ts';
import { defineCommand } from './command.ts';

/**
 * `dutlab cache ls|prune`: the golden snapshots runs resume from (see
 * harness/dut/golden-cache.ts), and bounding them by size.
 */
export const cacheCommand = defineCommand({
  name: 'cache',
  operands: 'ls | prune',
  summary: 'List the golden snapshots later runs resume from (ls), or remove them down to a size (prune).',
  details: `A golden snapshot is a board's whole state once a first boot of an image reached ready; it is
only used again with the same image file, board profile and provisioning. Each save prunes the
cache to ${DEFAULT_GOLDEN_LIMIT_BYTES / 2 ** 30} GiB, least recently used first; entries whose image is gone go too.`,
  flags: {
    dir: { type: 'string', value: 'DIR', help: 'the cache folder (default $DUTLAB_GOLDEN_DIR, else .dutlab/golden)' },
    'max-size': { type: 'string', value: 'SIZE', help: `prune: keep at most this much (e.g. 4G, 500M; default ${DEFAULT_GOLDEN_LIMIT_BYTES / 2 ** 30}G)` },
    all: { type: 'boolean', default: false, help: 'prune: remove every entry' },
    json: { type: 'boolean', default: false, help: 'print the entries as JSON' },
  },
  examples: ['dutlab cache ls', 'dutlab cache prune --max-size 4G'],
  async run({ values, positionals }) {
    const [action, ...rest] = positionals;
    if (rest.length > 0 || (action !== 'ls' && action !== 'prune')) {
      throw new ConfigError('dutlab cache', `expected "ls" or "prune" (got "${positionals.join(' ')}")`);
    }
    const cache = new GoldenCache(values.dir ?? defaultGoldenDir());
    if (action === 'ls') {
      const entries = await cache.list();
      process.stdout.write(values.json ? `${JSON.stringify(entries.map(shown), null, 2)}\n` : table(entries));
      return 0;
    }
    const maxBytes = values.all ? -1 : values['max-size'] !== undefined ? parseSize(values['max-size']) : DEFAULT_GOLDEN_LIMIT_BYTES;
    const removed = await cache.prune({ maxBytes });
    process.stdout.write(values.json ? `${JSON.stringify(removed.map(shown), null, 2)}\n` : `removed ${removed.length} golden snapshot(s), ${mib(removed.reduce((sum, e) => sum + e.bytes, 0))}\n`);
    return 0;
  },
});

/** An entry without its private key: listings get pasted into tickets. */
function shown({ runKey: _key, ...entry }: GoldenEntry): Omit<GoldenEntry, 'runKey'> {
  return entry;
}

export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(text.trim());
  if (!match) throw new ConfigError('--max-size', `not a size: "${text}" (e.g. 4G, 500M, 1024)`);
  const power = ['', 'K', 'M', 'G', 'T'].indexOf((match[2] ?? '').toUpperCase());
  return Math.round(Number(match[1]) * 1024 ** power);
}

function mib(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

function table(entries: GoldenEntry[]): string {
  if (entries.length === 0) return 'no golden snapshots\n';
  const rows = [['KEY', 'BOARD', 'SIZE', 'LAST USED', 'IMAGE'], ...entries.map((e) => [e.key, e.board, mib(e.bytes), e.lastUsedAt.replace(/\.\d+Z$/, 'Z'), e.image])];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return `${rows.map((r) => r.map((cell, i) => (i < r.length - 1 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  ')).join('\n')}\n`;
}
