/**
 * The physical code path end to end, on the emulated rig: the LCUS relay
 * driver switches the rig's QEMU through its byte protocol on a pty, the
 * serialport driver reads the console from a pty at a fixed path, the
 * usbsdmux driver switches the emulated mux and the flasher writes and
 * verifies the card, then config.json is provisioned on the card. Faults at
 * the hardware's interfaces: the console adapter pulled out and put back
 * mid-run, a relay that stops answering.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadBoard } from '../boards/index.ts';
import type { VirtualBoard } from '../boards/types.ts';
import { bindPhysicalBoard } from '../drivers/physical-board.ts';
import { Dut } from '../dut/dut.ts';
import { DutError } from '../errors.ts';
import { buildImages } from '../../images/build.ts';
import { startRig, type Rig } from './rig.ts';

async function rigDut(t: import('ava').ExecutionContext, rigSettings: Partial<VirtualBoard['rig']> = {}): Promise<{ rig: Rig; dut: Dut; image: string }> {
  const built = await buildImages();
  const image = built.versions[0]?.image.path;
  if (!image) throw new Error('no image built');
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-rig-'));
  const file = (await loadBoard('virtual-x86_64')) as VirtualBoard;
  const board = { ...file, rig: { ...file.rig, ...rigSettings } };
  const rig = await startRig(board, { dir: path.join(dir, 'rig') });
  const late: { dut?: Dut } = {};
  const bound = await bindPhysicalBoard(rig.board, { note: (text) => late.dut?.transcript.info(text) });
  const dut = new Dut(bound, { image, dir, bootTimeoutMs: 8 * 60_000 });
  late.dut = dut;
  t.teardown(async () => {
    await dut.close();
    await rig.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { rig, dut, image };
}

test.serial('a virtual board on a Tasmota plug, its console behind ser2net (RFC 2217): boots from the flashed card, survives its console adapter being pulled out, power-cycles as its hard reset', async (t) => {
  // The LCUS relay and a local adapter are the CI run's path (dutlab run on boards/virtual-x86_64.yaml); here the other drivers.
  const { rig, dut } = await rigDut(t, { power: 'tasmota', console: 'ser2net-rfc2217' });
  await dut.boot();
  t.deepEqual(
    dut.entries().map((e) => e.state),
    ['idle', 'preparing', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'ready'],
  );
  t.like(dut.board.describe(), { kind: 'physical', drivers: { console: 'ser2net', power: 'tasmota', storage: 'usbsdmux', network: 'static' } });
  t.is(dut.board.reset, undefined, 'a plug-powered board has no reset line');
  // Booted from the card the flasher wrote, with this run's key provisioned on it: SSH works.
  t.is((await dut.exec('echo over-ser2net', { transport: 'serial' })).stdout, 'over-ser2net\n');
  t.is((await dut.exec('echo over-ssh', { transport: 'ssh' })).stdout, 'over-ssh\n');

  await rig.unplugConsole();
  // SSH does not need the console; the adapter is away for a few seconds, and a serial command sent meanwhile waits for it.
  t.is((await dut.exec('echo still-here', { transport: 'ssh' })).stdout, 'still-here\n');
  setTimeout(() => void rig.plugConsole(), 3000);
  t.is((await dut.exec('echo back-on-serial', { transport: 'serial', timeoutMs: 60_000 })).stdout, 'back-on-serial\n');
  t.true(dut.transcript.entries.some((e) => e.stream === 'info' && /went away/.test(e.data)), 'the transcript says the console went away');

  // A cycle through the plug: off, the board's minimum off time, on, and a new boot on the same console.
  await dut.hardReset();
  t.is((await dut.exec('echo after-cycle', { transport: 'serial' })).stdout, 'after-cycle\n');
  t.regex(dut.entries().map((e) => e.state).join(' '), /ready resetting booting ready/);
});

test.serial('a relay that never answers is a power error naming the board and the relay, and the DUT latches broken', async (t) => {
  const { rig, dut } = await rigDut(t);
  rig.silencePower(true);
  const started = Date.now();
  await t.throwsAsync(dut.boot(), { instanceOf: DutError });
  t.true(Date.now() - started < 30_000, 'bounded by the relay timeout, not a boot timeout');
  t.is(dut.state, 'broken');
  const cause = dut.cause;
  t.is(cause?.kind, 'power');
  t.regex(cause?.message ?? '', /dut virtual-x86_64, step power off: LCUS relay .*ttyUSB-relay channel 1 did not answer within 5 s/);
});
