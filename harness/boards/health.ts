/**
 * A board's recorded health, kept between runs: a run that could not recover
 * its board (no power answer, a console that never came back) marks it
 * broken, so the next run and `dutlab boards` see it before anyone spends a
 * boot on it; a run that brought it up marks it healthy again.
 *
 * `<state dir>/health/<board>.json` exists only while the board is broken;
 * it is written beside and renamed into place, so a reader sees the whole
 * record or none.
 */
import { mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { VERDICT_TABLE, type Cause } from '../runner/classify.ts';
import { boardStateFile, stateDir, writeBeside } from './state-dir.ts';

export interface Broken {
  state: 'broken';
  /** The verdict cause that broke it (power, console-lost, ...). */
  cause: Cause;
  message: string;
  /** ISO time it was marked. */
  at: string;
  runId: string;
}

export type Health = { state: 'ok' } | Broken;

export interface HealthOptions {
  /** Default `<state dir>/health`. */
  dir?: string;
}

function healthFile(board: string, options: HealthOptions): string {
  return boardStateFile(options.dir ?? join(stateDir(), 'health'), board, '.json');
}

export async function markBroken(board: string, why: { cause: Cause; message: string; runId: string }, options: HealthOptions = {}): Promise<Broken> {
  const file = healthFile(board, options);
  const record: Broken = { state: 'broken', cause: why.cause, message: why.message, at: new Date().toISOString(), runId: why.runId };
  await mkdir(dirname(file), { recursive: true });
  const temp = await writeBeside(file, `${JSON.stringify(record, null, 2)}\n`);
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  return record;
}

export async function markHealthy(board: string, options: HealthOptions = {}): Promise<void> {
  await unlink(healthFile(board, options)).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}

/** The record; a file that is not one is a ConfigError naming it (a person edited it, or another tool wrote there). */
export async function readHealth(board: string, options: HealthOptions = {}): Promise<Health> {
  const file = healthFile(board, options);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'ok' };
    throw error;
  }
  let value: Partial<Broken>;
  try {
    value = JSON.parse(text) as Partial<Broken>;
  } catch (error) {
    throw new ConfigError(file, `not a board health record: ${(error as Error).message}`);
  }
  const ok =
    value.state === 'broken' &&
    typeof value.cause === 'string' &&
    Object.hasOwn(VERDICT_TABLE, value.cause) &&
    typeof value.message === 'string' &&
    typeof value.at === 'string' &&
    typeof value.runId === 'string';
  if (!ok) throw new ConfigError(file, 'not a board health record (needs state "broken", a verdict cause, message, at, runId)');
  return { state: 'broken', cause: value.cause as Cause, message: value.message as string, at: value.at as string, runId: value.runId as string };
}
