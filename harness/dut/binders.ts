import { availableParallelism, freemem } from 'node:os';
import type { Accel, Board, BoardKind, PhysicalBoard, QemuBoard, VirtualBoard } from '../boards/types.ts';
import { ConfigError } from '../errors.ts';
import { bindPhysicalBoard, checkPhysicalBoard } from '../drivers/physical-board.ts';
import { bindQemuBoard } from '../drivers/qemu-board.ts';
import { resolveAccel } from '../qemu/index.ts';
import { bindVirtualBoard } from '../rig/virtual-board.ts';
import type { BoundBoard } from './drivers.ts';

export interface BindOptions {
  /** Per-DUT directory (disk, rig state). */
  dir: string;
  /** Host files the board should carry as read-only media, where it can. */
  media?: readonly string[];
  keepDisk?: boolean;
  /** Overrides a QEMU board file's accelerator. */
  accel?: Accel;
  /** Where drivers say what they do that a log should show (a console adapter that went away). */
  note?: (text: string) => void;
}

/** What is known about a board before it is bound: for the report's header. */
export interface BoardFacts {
  accel?: string;
}

interface Binder<B extends Board> {
  /** Before any slow work: can this host drive the board as configured? Errors name the file and field. */
  check(board: B, options: Pick<BindOptions, 'accel'>): Promise<BoardFacts>;
  /** The board is hardware one run at a time: a run leases it first. */
  exclusive: boolean;
  /** How many copies of the board this host can run at once without them queueing for its cores or memory. */
  copiesHostCanRun(board: B): number;
  bind(board: B, options: BindOptions): Promise<BoundBoard>;
}

// QEMU's own share beside the guest's RAM: TCG's translation buffer and the process.
const QEMU_OVERHEAD_MIB = 1024;

/**
 * One guest per `cpus` cores. More share the cores: on 2 cores two guests of
 * 2 vCPUs ran a 16-test subset 1.02× slower than one (two of 1 vCPU 1.07×)
 * and the whole os+hup suites 0.81× as long, each guest starved meanwhile (an
 * engine restart test 80 s against 17 s): the suites judge the OS's own
 * deadlines, which a starved guest can miss for the harness's load (bench,
 * 2026-12-06).
 */
const qemuCopies = (board: QemuBoard | VirtualBoard): number =>
  Math.max(1, Math.min(Math.floor(availableParallelism() / board.qemu.cpus), Math.floor(freemem() / 2 ** 20 / (board.qemu.memory + QEMU_OVERHEAD_MIB))));

const qemuFacts = async (board: QemuBoard | VirtualBoard, options: Pick<BindOptions, 'accel'>): Promise<BoardFacts> => ({
  accel: (await resolveAccel(options.accel ?? board.qemu.accel, {})).accel,
});

/**
 * The one place that knows board kinds: each kind binds its drivers here,
 * and nothing else in the harness asks which kind a board is.
 */
const BINDERS: { [K in BoardKind]: Binder<Extract<Board, { kind: K }>> } = {
  qemu: {
    check: qemuFacts,
    exclusive: false,
    copiesHostCanRun: qemuCopies,
    bind: async (board, options) =>
      bindQemuBoard(options.accel ? { ...board, qemu: { ...board.qemu, accel: options.accel } } : board, {
        dir: options.dir,
        ...(options.media ? { media: options.media } : {}),
        ...(options.keepDisk ? { keepDisk: true } : {}),
        ...(options.note ? { note: options.note } : {}),
      }),
  },
  physical: {
    check: async (board: PhysicalBoard, options) => {
      if (options.accel) throw new ConfigError('--accel', `board ${board.name} (${board.source}) is physical: there is no accelerator to choose`);
      await checkPhysicalBoard(board);
      return {};
    },
    exclusive: true,
    copiesHostCanRun: () => 1,
    bind: (board, options) => bindPhysicalBoard(board, options),
  },
  virtual: {
    check: qemuFacts,
    exclusive: true,
    copiesHostCanRun: () => 1,
    bind: (board, options) => bindVirtualBoard(board, options),
  },
};

function binderFor<B extends Board>(board: B): Binder<B> {
  return BINDERS[board.kind] as unknown as Binder<B>;
}

export function checkBoard(board: Board, options: Pick<BindOptions, 'accel'> = {}): Promise<BoardFacts> {
  return binderFor(board).check(board, options);
}

export function isExclusive(board: Board): boolean {
  return binderFor(board).exclusive;
}

/** How many DUTs of this board a run takes by default (`--parallel auto`): one for a piece of hardware. */
export function copiesHostCanRun(board: Board): number {
  return binderFor(board).copiesHostCanRun(board);
}

export function bindBoard(board: Board, options: BindOptions): Promise<BoundBoard> {
  return binderFor(board).bind(board, options);
}

/**
 * `count` boards to run DUTs on at once (`--parallel`): copies of a board
 * profile that is not one piece of hardware (QEMU), each with its own name,
 * so its DUT's files, run directory and ports are its own.
 */
export function boardCopies(board: Board, count: number): Board[] {
  if (count === 1) return [board];
  const binder = BINDERS[board.kind] as Binder<Board>;
  if (binder.exclusive) throw new ConfigError('--parallel', `board ${board.name} (${board.source}) is one piece of hardware: ${count} DUTs at once need a board profile that can run more than once (a QEMU board)`);
  return Array.from({ length: count }, (_, i) => ({ ...board, name: `${board.name}-${i + 1}` }));
}
