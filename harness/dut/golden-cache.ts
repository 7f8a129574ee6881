/**
 * Golden snapshots: the whole state of a board that booted an image to
 * ready, kept so that later runs resume from it instead of booting. An
 * entry is only good for what it was made from, so its key is a hash of
 * the image file, the board's profile (the machine, emulator, firmware and
 * media, as its snapshot driver says) and the provisioning (config.json
 * settings, login, and GOLDEN_FORMAT for the harness's own steps): change
 * any of them and the entry is simply not found. The entry holds the run key
 * the state was provisioned with, since that is the key its sshd trusts.
 *
 * Entries are written to a temporary folder and renamed into place, so a
 * reader never sees half of one, and two runs saving the same key keep one.
 * The cache is bounded by size: after each save, and by `dutlab cache prune`,
 * the least recently used entries go first.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RunKey } from '../transports/ssh-keys.ts';
import { fileIdentity, type FileIdentity } from '../storage/file-identity.ts';

/** Bump when what the harness does to a DUT before saving changes: older entries stop matching. */
export const GOLDEN_FORMAT = 1;

export const DEFAULT_GOLDEN_LIMIT_BYTES = 16 * 2 ** 30;

export interface GoldenKeyParts {
  format: number;
  image: FileIdentity;
  board: Record<string, unknown>;
  provisioning: Record<string, unknown>;
}

export interface GoldenEntry {
  key: string;
  dir: string;
  /** Board and image, for `dutlab cache ls`. */
  board: string;
  image: string;
  createdAt: string;
  lastUsedAt: string;
  bytes: number;
  runKey?: RunKey;
}

interface EntryFile {
  key: string;
  board: string;
  parts: GoldenKeyParts;
  createdAt: string;
  runKey?: RunKey;
}

const ENTRY = 'entry.json';

/** $DUTLAB_GOLDEN_DIR, else .dutlab/golden beside the runs and DUTs of this checkout. */
export function defaultGoldenDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DUTLAB_GOLDEN_DIR || '.dutlab/golden');
}

export class GoldenCache {
  constructor(
    readonly root = defaultGoldenDir(),
    readonly limitBytes = DEFAULT_GOLDEN_LIMIT_BYTES,
  ) {}

  static async keyParts(image: string, board: Record<string, unknown>, provisioning: Record<string, unknown>): Promise<GoldenKeyParts> {
    return { format: GOLDEN_FORMAT, image: await fileIdentity(image), board, provisioning };
  }

  static key(parts: GoldenKeyParts): string {
    return createHash('sha256').update(canonical(parts)).digest('hex').slice(0, 24);
  }

  /** The entry for `key`, marked as used now; undefined when there is none or it is unreadable. */
  async lookup(key: string): Promise<GoldenEntry | undefined> {
    const entry = await this.read(key);
    if (!entry) return undefined;
    const now = new Date();
    await utimes(path.join(entry.dir, ENTRY), now, now).catch(() => undefined);
    return { ...entry, lastUsedAt: now.toISOString() };
  }

  /**
   * Saves a new entry: `write` fills its folder (the board's saved state);
   * the entry appears whole or not at all. Then the cache is pruned to its limit.
   */
  async store(board: string, parts: GoldenKeyParts, runKey: RunKey | undefined, write: (dir: string) => Promise<void>): Promise<GoldenEntry> {
    const key = GoldenCache.key(parts);
    await mkdir(this.root, { recursive: true });
    const temporary = path.join(this.root, `.new-${key}-${randomBytes(4).toString('hex')}`);
    await mkdir(temporary, { mode: 0o700 });
    try {
      await write(temporary);
      const file: EntryFile = { key, board, parts, createdAt: new Date().toISOString(), ...(runKey ? { runKey } : {}) };
      await writeFile(path.join(temporary, ENTRY), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      // Another run saved the same key meanwhile: theirs stays, ours goes.
      await rename(temporary, path.join(this.root, key)).catch(() => undefined);
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
    await this.prune({ maxBytes: this.limitBytes, keep: key });
    const entry = await this.read(key);
    if (!entry) throw new Error(`golden snapshot ${key} was not kept in ${this.root}`);
    return entry;
  }

  async forget(key: string): Promise<void> {
    await rm(path.join(this.root, key), { recursive: true, force: true });
  }

  /** Every entry, most recently used first. */
  async list(): Promise<GoldenEntry[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const entries = await Promise.all(names.filter((name) => !name.startsWith('.')).map((name) => this.read(name)));
    return entries.filter((entry): entry is GoldenEntry => entry !== undefined).sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
  }

  /**
   * Removes entries whose image is gone, then the least recently used until
   * the rest fit in `maxBytes`, never `keep`; and leftovers of saves that
   * never finished. Returns what went.
   */
  async prune(options: { maxBytes: number; keep?: string }): Promise<GoldenEntry[]> {
    const removed: GoldenEntry[] = [];
    const names = await readdir(this.root).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.startsWith('.new-'))) {
      const info = await stat(path.join(this.root, name)).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > STALE_SAVE_MS) await rm(path.join(this.root, name), { recursive: true, force: true });
    }
    let total = 0;
    for (const entry of await this.list()) {
      const orphaned = !(await stat(entry.image).then(() => true, () => false));
      if (entry.key !== options.keep && (orphaned || total + entry.bytes > options.maxBytes)) {
        await this.forget(entry.key);
        removed.push(entry);
      } else {
        total += entry.bytes;
      }
    }
    return removed;
  }

  private async read(key: string): Promise<GoldenEntry | undefined> {
    const dir = path.join(this.root, key);
    try {
      const file = JSON.parse(await readFile(path.join(dir, ENTRY), 'utf8')) as EntryFile;
      const names = await readdir(dir);
      const sizes = await Promise.all(names.map(async (name) => (await stat(path.join(dir, name))).blocks * 512));
      const used = await stat(path.join(dir, ENTRY));
      return {
        key,
        dir,
        board: file.board,
        image: file.parts.image.path,
        createdAt: file.createdAt,
        lastUsedAt: used.mtime.toISOString(),
        bytes: sizes.reduce((a, b) => a + b, 0),
        ...(file.runKey ? { runKey: file.runKey } : {}),
      };
    } catch {
      return undefined;
    }
  }
}

/** A save older than this that left its temporary folder was cut short (the harness was killed). */
const STALE_SAVE_MS = 60 * 60_000;

/** JSON with keys sorted at every level: the same parts give the same key. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const object = value as Record<string, unknown>;
    return `{${Object.keys(object)
      .sort()
      .filter((k) => object[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical(object[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
