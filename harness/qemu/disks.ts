/**
 * Per-run disk files made with qemu-img: the copy-on-write overlay over the
 * image and the qcow2 copy of OVMF's variable store. Both take ~20 ms.
 */
import { access, constants } from 'node:fs/promises';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { ConfigError, ToolError, tail } from '../errors.ts';

async function qemuImg(args: string[]): Promise<void> {
  const result = await execa('qemu-img', args, { reject: false, all: true });
  if (result.failed) {
    throw new ToolError('qemu-img', `${args.join(' ')} (exit ${result.exitCode ?? result.signal})`, tail(String(result.all ?? '')));
  }
}

async function mustRead(path: string, what: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new ConfigError(path, `${what} not found or not readable`);
  }
}

/**
 * `qemu-img create -f qcow2 -b IMAGE -F FORMAT overlay`: all guest writes go
 * to the overlay; the image is only read. The backing path is made absolute
 * because qcow2 resolves a relative one against the overlay's directory.
 */
export async function createOverlay(image: string, format: 'raw' | 'qcow2', overlay: string): Promise<void> {
  const backing = resolve(image);
  await mustRead(backing, 'disk image');
  await qemuImg(['create', '-q', '-f', 'qcow2', '-b', backing, '-F', format, overlay]);
}

/** An empty qcow2 disk of `bytes` (an internal disk for an installer to write): sparse, ~20 ms. */
export async function createBlankDisk(file: string, bytes: number): Promise<void> {
  await qemuImg(['create', '-q', '-f', 'qcow2', file, String(bytes)]);
}

/**
 * Copy OVMF's VARS template into a qcow2 file: per run, so runs do not share
 * boot entries, and qcow2 so that `savevm` snapshots can include it.
 */
export async function createVarsCopy(template: string, dest: string): Promise<void> {
  await mustRead(template, 'OVMF VARS template');
  await qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', template, dest]);
}
