/**
 * Load a board file: YAML → validated, defaulted, typed `Board`.
 *
 * Every failure is a `ConfigFileError` (a `ConfigError`) whose message starts
 * `file:line: field: ...`, lists every problem (ajv `allErrors`), and says
 * what is allowed. Defaults are applied in code after validation, not by
 * ajv's `useDefaults`, which ignores defaults inside `oneOf` branches.
 */
import { access, readFile, readdir } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { ConfigError } from '../errors.ts';
import { parseValidatedYaml } from '../config/validated-yaml.ts';
import { boardSchema, patternHints } from './schema.ts';
import {
  QEMU_DEFAULTS,
  type Board,
  type NetworkConfig,
  type PhysicalBoard,
  type PhysicalConsole,
  type PowerConfig,
  type QemuBoard,
  type QemuSettings,
  type RigSettings,
  type StorageConfig,
  type VirtualBoard,
} from './types.ts';

const ajv = new Ajv({ allErrors: true, discriminator: true, verbose: true, strict: true, strictRequired: false });
const validate = ajv.compile(boardSchema);

/** Default place for board files: `<repo>/boards`. */
export const DEFAULT_BOARDS_DIR = resolve(import.meta.dirname, '../../boards');

/** Path as shown in messages: relative to cwd when that is shorter. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * Parse and validate board YAML. `source` names the file in messages.
 * Pure apart from the error it may throw; used directly by tests.
 */
export function parseBoard(text: string, source: string): Board {
  const raw = parseValidatedYaml<RawBoard>(text, source, validate, 'board file', patternHints);
  return withDefaults(raw, source);
}

/** Board files as written: every setting with a default may be left out. */
type Loose<T> = { [K in keyof T]?: T[K] };
type RawBoard =
  | (Omit<QemuBoard, 'source' | 'qemu' | 'console'> & { qemu: Partial<QemuSettings>; console?: QemuBoard['console'] })
  | (Omit<PhysicalBoard, 'source' | 'console' | 'power' | 'storage' | 'network'> & {
      console: Loose<PhysicalConsole> & Pick<PhysicalConsole, 'kind'>;
      power: Loose<PowerConfig> & Pick<PowerConfig, 'kind'>;
      storage: Loose<StorageConfig> & Pick<StorageConfig, 'kind'>;
      network?: Loose<NetworkConfig> & Pick<NetworkConfig, 'kind'>;
    })
  | (Omit<VirtualBoard, 'source' | 'qemu' | 'rig'> & { qemu?: Partial<QemuSettings>; rig?: Partial<RigSettings> });

/** The defaults of each driver kind, applied after validation so the schema stays the single source of what is allowed. */
const CONSOLE_DEFAULTS = { serial: { baud: 115200 }, ser2net: { protocol: 'raw', baud: 115200 } } as const;
const POWER_DEFAULTS = {
  lcus: { channel: 1, baud: 9600, status: false },
  usbrelay: { command: 'usbrelay' },
  gpio: { activeLow: false, command: 'gpioset' },
  tasmota: { output: 1 },
  shelly: { switch: 0 },
  command: {},
} as const;
const STORAGE_DEFAULTS = { usbsdmux: { command: 'usbsdmux' }, sdwire: { command: 'sd-mux-ctrl' }, command: {} } as const;
export const RIG_DEFAULTS: RigSettings = { cardMiB: 8192, power: 'lcus', console: 'serial', forwardPorts: [] };

function withDefaults(raw: RawBoard, source: string): Board {
  if (raw.kind === 'qemu') {
    return {
      name: raw.name,
      deviceType: raw.deviceType,
      kind: 'qemu',
      qemu: { ...QEMU_DEFAULTS, ...raw.qemu },
      console: raw.console ?? { kind: 'qemu-serial' },
      source,
    };
  }
  if (raw.kind === 'virtual') {
    return { name: raw.name, deviceType: raw.deviceType, kind: 'virtual', qemu: { ...QEMU_DEFAULTS, ...raw.qemu }, rig: { ...RIG_DEFAULTS, ...raw.rig }, source };
  }
  const board = {
    name: raw.name,
    deviceType: raw.deviceType,
    kind: 'physical',
    console: { ...CONSOLE_DEFAULTS[raw.console.kind], ...raw.console },
    power: { minOffMs: 2000, timeoutMs: 10_000, ...POWER_DEFAULTS[raw.power.kind], ...raw.power },
    storage: { verify: true, timeoutMs: 30_000, ...STORAGE_DEFAULTS[raw.storage.kind], ...raw.storage },
    ...(raw.network ? { network: { port: 22222, ...raw.network } } : {}),
    source,
  };
  return board as PhysicalBoard;
}

/** Names of the boards in `dir` (files ending .yaml/.yml). */
export async function listBoards(dir = DEFAULT_BOARDS_DIR): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  return names.filter((n) => /\.ya?ml$/.test(n)).map((n) => basename(n, extname(n))).sort();
}

/** `<dir>/<name>.yaml`, or `.yml` when only that exists (listBoards lists both). */
async function boardFile(dir: string, name: string): Promise<string> {
  const yaml = join(dir, `${name}.yaml`);
  const yml = join(dir, `${name}.yml`);
  const exists = (file: string): Promise<boolean> => access(file).then(() => true, () => false);
  return !(await exists(yaml)) && (await exists(yml)) ? yml : yaml;
}

/**
 * Load a board by name (`qemu-x86_64` → `<boardsDir>/qemu-x86_64.yaml`) or
 * by path (anything with a `/` or a .yaml/.yml suffix).
 */
export async function loadBoard(ref: string, options: { boardsDir?: string } = {}): Promise<Board> {
  const boardsDir = options.boardsDir ?? DEFAULT_BOARDS_DIR;
  const isPath = ref.includes('/') || /\.ya?ml$/.test(ref);
  const file = isPath ? resolve(ref) : await boardFile(boardsDir, ref);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && !isPath) {
      const known = await listBoards(boardsDir);
      throw new ConfigError(displayPath(file), `no such board "${ref}" (known boards: ${known.join(', ') || 'none'})`);
    }
    throw new ConfigError(displayPath(file), `cannot read board file: ${(error as Error).message}`);
  }
  return parseBoard(text, displayPath(file));
}
