import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Accel, Board } from '../boards/types.ts';
import { bindBoard } from './binders.ts';
import { Dut, type DutOptions } from './dut.ts';

export interface CreateDutOptions extends Omit<DutOptions, 'dir'> {
  board: Board;
  /** Parent directory for this DUT's files; default `.dutlab/duts`. */
  root?: string;
  /** Host files the board carries as read-only media for the DUT (hostapps, container images). */
  media?: readonly string[];
  keepDisk?: boolean;
  /** Overrides the board file's accelerator (boards that run QEMU). */
  accel?: Accel;
}

/** A Dut for a board file: binds the drivers its kind names. */
export async function createDut(options: CreateDutOptions): Promise<Dut> {
  const { board } = options;
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const dir = path.resolve(options.root ?? '.dutlab/duts', `${board.name}-${stamp}-${process.pid}`);
  await mkdir(dir, { recursive: true });
  // The drivers' notes go to the DUT's transcript, which exists only once the board is bound.
  const late: { dut?: Dut } = {};
  const bound = await bindBoard(board, {
    dir,
    ...(options.media ? { media: options.media } : {}),
    ...(options.keepDisk ? { keepDisk: true } : {}),
    ...(options.accel ? { accel: options.accel } : {}),
    note: (text) => late.dut?.transcript.info(text),
  });
  late.dut = new Dut(bound, { ...options, dir });
  return late.dut;
}
