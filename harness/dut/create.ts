import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Accel, Board, QemuBoard } from '../boards/types.ts';
import { bindQemuBoard } from '../drivers/qemu-board.ts';
import { ConfigError } from '../errors.ts';
import { Dut, type DutOptions } from './dut.ts';

export interface CreateDutOptions extends Omit<DutOptions, 'dir'> {
  board: Board;
  /** Parent directory for this DUT's files; default `.dutlab/duts`. */
  root?: string;
  /** Host files the board carries as read-only media for the DUT (hostapps, container images). */
  media?: readonly string[];
  keepDisk?: boolean;
  /** Overrides the board file's accelerator (QEMU boards). */
  accel?: Accel;
}

/** Refuses, before any work, a board whose kind has no drivers to bind. */
export function checkBindable(board: Board): asserts board is QemuBoard {
  if (board.kind !== 'qemu') {
    throw new ConfigError(
      `${board.source}: kind`,
      `"${board.kind}": physical boards are described by the schema, but their power, console and storage drivers are not built yet (issue 8)`,
    );
  }
}

/** A Dut for a board file: binds the drivers its kind names. */
export async function createDut(options: CreateDutOptions): Promise<Dut> {
  const { board } = options;
  checkBindable(board);
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const dir = path.resolve(options.root ?? '.dutlab/duts', `${board.name}-${stamp}-${process.pid}`);
  await mkdir(dir, { recursive: true });
  const bound = bindQemuBoard(options.accel ? { ...board, qemu: { ...board.qemu, accel: options.accel } } : board, {
    dir,
    ...(options.media ? { media: options.media } : {}),
    ...(options.keepDisk ? { keepDisk: true } : {}),
  });
  return new Dut(bound, { ...options, dir });
}
