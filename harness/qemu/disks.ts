/**
 * Per-run disk files made with qemu-img: the copy-on-write overlay over the
 * image and the qcow2 copy of OVMF's variable store (both take ~20 ms), and
 * copies of saved states.
 */
import { access, constants } from 'node:fs/promises';
import { resolve } from 'node:path';
import { tool } from '../../images/builder/tool.ts';
import { ConfigError } from '../errors.ts';

async function qemuImg(args: string[]): Promise<string> {
  return tool('qemu-img', args, { step: 'disk files' });
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

/**
 * A disk file copied whole, internal snapshots included, holes kept (and
 * blocks shared where the file system can): a saved state's disks are
 * copied for each run that resumes from them, so no run writes the saved one.
 */
export async function copyDisk(source: string, dest: string): Promise<void> {
  await tool('cp', ['--sparse=always', '--reflink=auto', source, dest], { step: 'disk files' });
}

/** The names of the internal snapshots (savevm) a qcow2 file holds. */
export async function snapshotNames(file: string): Promise<string[]> {
  const info = JSON.parse(await qemuImg(['info', '--output=json', '-U', file])) as { snapshots?: { name: string }[] };
  return (info.snapshots ?? []).map((snapshot) => snapshot.name);
}
