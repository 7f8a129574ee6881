import { loadBoard, type Accel } from '../boards/index.ts';
import { createDut } from '../dut/create.ts';
import { GoldenCache } from '../dut/golden-cache.ts';
import { inspectOsImage } from '../../images/inspect/os-image.ts';
import type { Dut, FlashProgress, LoginVia } from '../dut/dut.ts';
import type { TimelineEntry } from '../dut/timeline.ts';
import { ConfigError } from '../errors.ts';
import { buildImages, DEFAULT_VERSION } from '../../images/build.ts';
import { progressPrinter } from '../../images/builder/steps.ts';
import { untilAborted } from '../proc/abort.ts';
import { takeBoard, waitMs } from './take-board.ts';
import type { Flags } from './command.ts';

/** Flags every command that boots a DUT shares. */
export const dutFlags = {
  board: { type: 'string', default: 'qemu-x86_64', value: 'NAME|FILE', help: 'a board from boards/ or the path of a board file' },
  image: { type: 'string', value: 'IMG', help: 'the OS image to boot: a disk image or a flasher (default: the reference image, built and cached)' },
  json: { type: 'boolean', default: false, help: 'print the result as JSON on stdout' },
  'boot-timeout': { type: 'string', default: '360', value: 'S', help: 'seconds from power-on to a login' },
  accel: { type: 'string', value: 'auto|kvm|tcg', help: "overrides the board's qemu.accel (auto probes KVM once per host and falls back to TCG)" },
  wait: { type: 'string', value: 'S', help: 'wait up to S seconds for a leased farm board instead of refusing it' },
  cold: {
    type: 'boolean',
    default: false,
    help: 'boot the image: neither resume from a golden snapshot (QEMU boards) nor save one',
  },
  login: {
    type: 'string',
    default: 'auto',
    value: 'auto|console|ssh',
    help: 'log in on the serial console or over SSH alone (auto: SSH for a production image)',
  },
} as const satisfies Flags;

const ACCELS: readonly Accel[] = ['auto', 'kvm', 'tcg'];

/** --accel, checked: overrides the board file's qemu.accel (a host fact the user knows better). */
export function accelOption(value: string | undefined): Accel | undefined {
  if (value === undefined) return undefined;
  if (!(ACCELS as readonly string[]).includes(value)) throw new ConfigError('--accel', `must be one of ${ACCELS.join(', ')} (got "${value}")`);
  return value as Accel;
}

/**
 * --login, checked and resolved: auto logs in on the console unless the
 * image's config.json says production (developmentMode false), whose console
 * offers no shell.
 */
export function loginOption(value: string, developmentMode: boolean | undefined): LoginVia {
  if (value === 'console' || value === 'ssh') return value;
  if (value !== 'auto') throw new ConfigError('--login', `must be one of auto, console, ssh (got "${value}")`);
  return developmentMode === false ? 'ssh' : 'console';
}

/** The image to boot: the one named, or the default reference image (built if missing). */
export async function resolveImage(image: string | undefined, quiet: boolean): Promise<string> {
  if (image) return image;
  const built = await buildImages({ versions: [DEFAULT_VERSION], ...(quiet ? {} : { onStep: progressPrinter() }) });
  const first = built.versions[0];
  if (!first) throw new ConfigError('--image', 'no image was built');
  return first.image.path;
}

export interface DutSession {
  dut: Dut;
  /** Tears the DUT down (power off, console, storage). */
  close(): Promise<void>;
}

/** --boot-timeout in seconds, checked. */
export function bootTimeoutMs(seconds: string): number {
  const value = Number(seconds);
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError('--boot-timeout', `must be a number of seconds (got "${seconds}")`);
  return value * 1000;
}

/**
 * Loads the board, checks the image and creates the DUT. Ctrl-C aborts
 * `shutdown`: the command stops waiting and its `finally` closes the session.
 */
export async function openDut(
  values: { board: string; image?: string | undefined; json: boolean; 'boot-timeout': string; accel?: string | undefined; wait?: string | undefined; login: string; cold: boolean },
  shutdown: AbortSignal,
): Promise<DutSession> {
  const bootTimeout = bootTimeoutMs(values['boot-timeout']);
  const accel = accelOption(values.accel);
  const wait = waitMs(values.wait);
  const board = await loadBoard(values.board);
  const given = values.image ? await inspectOsImage(values.image) : undefined;
  const login = loginOption(values.login, given?.developmentMode);
  const taken = await takeBoard(board, { ...(accel ? { accel } : {}), runId: runId(), waitMs: wait, signal: shutdown, log: (line) => process.stderr.write(`${line}\n`) });
  let dut: Dut | undefined;
  try {
    const image = await untilAborted(resolveImage(values.image, values.json), shutdown);
    dut = await createDut({
      board: taken.board,
      image,
      bootTimeoutMs: bootTimeout,
      login,
      ...(given?.installer ? { installer: true, onFlashProgress: flashProgressPrinter() } : {}),
      ...(accel ? { accel } : {}),
      ...(values.cold ? {} : { golden: new GoldenCache() }),
    });
  } catch (error) {
    await taken.release(dut);
    throw error;
  }
  const created = dut;
  if (!values.json) created.timeline.subscribe(timelinePrinter(created.timeline.entries[0]?.at ?? Date.now()));
  return {
    dut: created,
    close: async () => {
      try {
        await created.close();
      } finally {
        await taken.release(created);
      }
    },
  };
}

/** A run's id: its start time to the second, as the reports directory is named. */
export function runId(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
}

/** One line per progress report of an installer: how long it runs, and what it printed last. */
export function flashProgressPrinter(stream: NodeJS.WriteStream = process.stderr) {
  return (progress: FlashProgress): void => {
    stream.write(`           flashing ${Math.round(progress.elapsedMs / 1000)} s: ${progress.lastLine.slice(0, 120)}\n`);
  };
}

/** One line per lifecycle transition, stamped from the start of the run. */
export function timelinePrinter(start: number, dut?: string, stream: NodeJS.WriteStream = process.stderr) {
  return (entry: TimelineEntry): void => {
    const secs = ((entry.at - start) / 1000).toFixed(1).padStart(6);
    stream.write(`[${secs} s] ${dut ? `${dut}: ` : ''}${entry.state}${entry.detail ? ` (${entry.detail})` : ''}\n`);
  };
}
