/**
 * The usbsdmux driver end to end against the rig's emulator of Debian's
 * `usbsdmux`, installed as the rig installs it (a script in the rig's bin
 * directory): the CLI's own behaviour first, then host → write → DUT.
 */
import test from 'ava';
import { lstat, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { UsbSdMuxStorage } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { installCommand } from '../../rig/commands.ts';
import { createSdMux, muxMode, SD_MUX_FILES } from '../../rig/sd-mux-state.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import { makeImage, MiB, sha256Prefix } from '../../storage/testing/images.ts';
import { writeImage } from '../../storage/write-image.ts';
import { bindStorage } from './index.ts';

const EMULATOR = path.resolve(import.meta.dirname, '../../rig/bin/usbsdmux.ts');

async function rigMux(t: import('ava').ExecutionContext): Promise<{ dir: string; command: string; config: UsbSdMuxStorage }> {
  const dir = await tempDir(t, 'flash');
  await createSdMux(dir, 32);
  const command = await installCommand(dir, 'usbsdmux', EMULATOR, dir);
  const config: UsbSdMuxStorage = {
    kind: 'usbsdmux',
    control: { device: path.join(dir, SD_MUX_FILES.control) },
    medium: { device: path.join(dir, SD_MUX_FILES.medium) },
    command,
    verify: true,
    timeoutMs: 20_000,
  };
  return { dir, command, config };
}

const present = (file: string): Promise<boolean> => lstat(file).then(() => true, () => false);

test('the emulator answers as Debian usbsdmux does: modes, get, the card link, usage errors, a missing sg device', async (t) => {
  const { dir, command } = await rigMux(t);
  const sg = path.join(dir, 'sg0');
  const medium = path.join(dir, 'sda');
  t.is((await execa(command, [sg, 'get'])).stdout, 'off');
  await execa(command, [sg, 'HOST']);
  t.is((await execa(command, [sg, 'get'])).stdout, 'host');
  t.true(await present(medium), 'in host mode the card shows up on the host');
  t.is((await lstat(path.join(dir, 'card.img'))).size, 32 * MiB);
  await execa(command, [sg, 'client']);
  t.is(await muxMode(dir), 'dut');
  t.false(await present(medium), 'in DUT mode the host sees no card');
  await execa(command, [sg, 'off']);
  t.is(await muxMode(dir), 'off');

  const bad = await execa(command, [sg, 'sideways'], { reject: false });
  t.is(bad.exitCode, 2);
  t.is(bad.stderr, "usage: usbsdmux [-h] SG {get,dut,client,host,off}\nusbsdmux: error: argument mode: invalid choice: 'sideways' (choose from 'get', 'dut', 'client', 'host', 'off')");
  const none = await execa(command, [], { reject: false });
  t.is(none.exitCode, 2);
  t.regex(none.stderr, /the following arguments are required: SG, mode/);
  const missing = await execa(command, [path.join(dir, 'sg9'), 'host'], { reject: false });
  t.is(missing.exitCode, 1);
  t.is(missing.stderr, `[Errno 2] No such file or directory: '${path.join(dir, 'sg9')}'`);
  t.regex((await execa(command, ['-h'])).stdout, /host - set to host mode/);
});

test('write switches the mux to the host, writes and verifies the card; handOver gives it to the DUT', async (t) => {
  const { dir, config } = await rigMux(t);
  const image = path.join(dir, 'os.img');
  await makeImage(image, 24);
  const storage = bindStorage(config, 'virtual-7');
  const phases: string[] = [];
  const medium = await storage.write(image, { progress: (p) => phases.push(p.phase) });
  t.like(medium, { path: path.join(dir, 'sda'), format: 'raw' });
  t.regex(medium.summary ?? '', /^stream: 24 MiB of 24 MiB in [\d.]+ s \(\d+ MiB\/s\), verified in [\d.]+ s$/);
  t.is(await muxMode(dir), 'host');
  t.is(await sha256Prefix(path.join(dir, 'card.img'), 24 * MiB), await sha256Prefix(image, 24 * MiB));
  t.true(phases.includes('write') && phases.includes('verify'), 'verify is on as the board file says');
  await storage.handOver();
  t.is(await muxMode(dir), 'dut');
  t.false(await present(path.join(dir, 'sda')));
  await storage.release();
  t.is(await muxMode(dir), 'dut', 'release leaves the card with the board');

  // The medium is gone while the mux points at the DUT: writing it then fails, saying why.
  const error = await t.throwsAsync(writeImage(image, medium.path, { board: 'virtual-7', verify: true }), { instanceOf: DutError });
  t.is(error.message, `dut virtual-7, step check target: ${medium.path}: not present: is the mux switched to the host?`);
});

test('a mux whose control device is gone fails the write naming the board and the control device', async (t) => {
  const { dir, config } = await rigMux(t);
  await rm(path.join(dir, 'sg0'));
  const error = await t.throwsAsync(bindStorage(config, 'virtual-7').write(path.join(dir, 'card.img')), { instanceOf: DutError });
  t.is(error.dut, 'virtual-7');
  t.regex(error.message, /SD mux control: .*sg0 is not present/);
});

test('the tool failing (a control device that is no mux) is a tool error with the board, the command and its stderr', async (t) => {
  const { dir, command } = await rigMux(t);
  // A control the driver finds but the tool rejects: the card image where the sg node should be.
  const notMux = path.join(dir, 'card.img');
  const storage = bindStorage(
    { kind: 'usbsdmux', control: { device: notMux }, medium: { device: path.join(dir, 'sda') }, command, verify: true, timeoutMs: 20_000 },
    'virtual-7',
  );
  const error = await t.throwsAsync(storage.handOver(), { instanceOf: DutError });
  t.is(error.kind, 'tool');
  t.is(error.step, 'switch SD mux to the DUT');
  t.true(error.message.startsWith(`dut virtual-7, step switch SD mux to the DUT: USB-SD-Mux ${notMux}: ${command} failed: Command failed with exit code 1: ${command} ${notMux} dut`), error.message);
  t.true(error.message.endsWith(`[Errno 25] Inappropriate ioctl for device\nDoes '${notMux}' really point to an USB-SD-Mux?`), error.message);
});
