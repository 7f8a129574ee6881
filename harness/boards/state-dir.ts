/**
 * Where dutlab keeps what outlives a run and is shared between runs: board
 * leases and board health. One place decides it so that every run on a host
 * (and every host mounting the same directory) agrees.
 *
 * $DUTLAB_STATE_DIR wins; then /var/lib/dutlab, the system-wide place a farm
 * host's runs share, when this user may write there; else the user's XDG
 * state directory, so an unprivileged developer still gets leases that work
 * between their own runs.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';

export const SYSTEM_STATE_DIR = '/var/lib/dutlab';

export function stateDir(env: NodeJS.ProcessEnv = process.env, system = SYSTEM_STATE_DIR): string {
  if (env.DUTLAB_STATE_DIR) return env.DUTLAB_STATE_DIR;
  if (writable(system)) return system;
  return join(env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state'), 'dutlab');
}

function writable(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `text` to a fresh file beside `file` and returns its path. State
 * files are published whole, by rename() or link() of such a file, so a
 * reader (or a crash) never sees half of one.
 */
export async function writeBeside(file: string, text: string): Promise<string> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, text, { flag: 'wx' });
  return temp;
}

/** `<dir>/<board><suffix>`, refusing a board name that would leave `dir`. */
export function boardStateFile(dir: string, board: string, suffix: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(board)) throw new ConfigError('board', `"${board}" cannot name a state file (letters, digits, ".", "_", "-")`);
  return join(dir, `${board}${suffix}`);
}
