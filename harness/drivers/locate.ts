import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Locator } from '../boards/types.ts';
import { DutError } from '../errors.ts';
import { throwIfAborted } from '../proc/abort.ts';

/**
 * Finds the device node a board file's locator names. A `device` path is
 * taken as it is; a `match` is compared with the properties udev recorded
 * for each device of the subsystem (its database under /run/udev/data, the
 * same records `udevadm info` prints), so a board keeps its adapter when the
 * host renumbers /dev/ttyUSB*.
 */

export type Subsystem = 'tty' | 'block' | 'scsi_generic';

export interface LocateOptions {
  subsystem: Subsystem;
  /** What the device is, for messages: "console adapter", "relay", "SD card". */
  what: string;
  board: string;
  /** How long the device may take to appear (an SD card after the mux switches). Default: no wait. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** For tests: roots of sysfs and of the udev database. */
  sysRoot?: string;
  udevData?: string;
}

const POLL_MS = 250;

/** The device path now, or after waiting up to `timeoutMs` for it to appear; a DutError('config') naming the locator otherwise. */
export async function locate(locator: Locator, options: LocateOptions): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 0);
  for (;;) {
    throwIfAborted(options.signal, options.board, `locate ${options.what}`);
    const found = await findOnce(locator, options);
    if (found.length === 1) return found[0] as string;
    if (found.length > 1) {
      throw new DutError('config', `${describeLocator(locator)} matches ${found.length} devices (${found.join(', ')}): add properties until it names one`, {
        dut: options.board,
        step: `locate ${options.what}`,
      });
    }
    if (Date.now() >= deadline) {
      const waited = options.timeoutMs ? ` within ${Math.round(options.timeoutMs / 1000)} s` : '';
      throw new DutError('config', `${options.what}: ${describeLocator(locator)} is not present${waited}`, { dut: options.board, step: `locate ${options.what}` });
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function describeLocator(locator: Locator): string {
  if ('device' in locator) return locator.device;
  return `udev match {${Object.entries(locator.match).map(([k, v]) => `${k}=${v}`).join(', ')}}`;
}

async function findOnce(locator: Locator, options: LocateOptions): Promise<string[]> {
  if ('device' in locator) return (await exists(locator.device)) ? [locator.device] : [];
  const sysRoot = options.sysRoot ?? '/sys';
  const udevData = options.udevData ?? '/run/udev/data';
  const classDir = path.join(sysRoot, 'class', options.subsystem);
  const names = await readdir(classDir).catch(() => [] as string[]);
  const found: string[] = [];
  for (const name of names) {
    const numbers = (await readFile(path.join(classDir, name, 'dev'), 'utf8').catch(() => '')).trim();
    if (!numbers) continue;
    const record = await readFile(path.join(udevData, `${options.subsystem === 'block' ? 'b' : 'c'}${numbers}`), 'utf8').catch(() => '');
    const properties = udevProperties(record);
    if (Object.entries(locator.match).every(([key, value]) => properties.get(key) === value)) found.push(`/dev/${name}`);
  }
  return found;
}

/** The `E:KEY=value` lines of a udev database record. */
export function udevProperties(record: string): Map<string, string> {
  const properties = new Map<string, string>();
  for (const line of record.split('\n')) {
    if (!line.startsWith('E:')) continue;
    const eq = line.indexOf('=');
    if (eq > 2) properties.set(line.slice(2, eq), line.slice(eq + 1));
  }
  return properties;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
