import { mkdir, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The emulated USB-SD-Mux, as files in the rig's directory, shared by the rig
 * (which boots the card when the mux points at the DUT) and the `usbsdmux`
 * emulator (which switches it):
 *
 * - `sg0`: the mux's control device; its content is the mode;
 * - `card.img`: the card, a sparse file of the board's card size;
 * - `sda`: present only in host mode, a link to the card, as the card reader
 *   shows the host a block device only while the mux gives it the card.
 */

export type MuxMode = 'off' | 'dut' | 'host';

export const SD_MUX_FILES = { control: 'sg0', card: 'card.img', medium: 'sda' } as const;

/** Makes the mux, switched off, with a card of `cardMiB`; a card left by an earlier run keeps its content. Returns the card's path. */
export async function createSdMux(dir: string, cardMiB: number): Promise<string> {
  await mkdir(dir, { recursive: true });
  const card = path.join(dir, SD_MUX_FILES.card);
  const handle = await open(card, 'a');
  try {
    await handle.truncate(cardMiB * 1024 * 1024);
  } finally {
    await handle.close();
  }
  await setMuxMode(dir, path.join(dir, SD_MUX_FILES.control), 'off');
  return card;
}

export async function muxMode(dir: string): Promise<MuxMode> {
  // A control file that says nothing sensible is a mux that lost its state: the card is with nobody.
  return (await readMode(path.join(dir, SD_MUX_FILES.control))) ?? 'off';
}

/** The mode a control file holds, or undefined when the file is no mux's (it holds something else). */
export async function readMode(control: string): Promise<MuxMode | undefined> {
  const mode = (await readFile(control, 'utf8')).trim();
  return mode === 'off' || mode === 'dut' || mode === 'host' ? mode : undefined;
}

/** Switches the mux through the control file `control`: the card's link to the host exists in host mode only. */
export async function setMuxMode(dir: string, control: string, mode: MuxMode): Promise<void> {
  const medium = path.join(dir, SD_MUX_FILES.medium);
  // The card leaves the host before the switch, as the real mux disconnects first.
  await rm(medium, { force: true });
  await writeFile(control, `${mode}\n`);
  if (mode === 'host') await symlink(SD_MUX_FILES.card, medium);
}
