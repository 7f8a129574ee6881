/**
 * `dutlab run` on a farm board whose relay never answers, as a user meets
 * it: the console adapter and the mux are there (a pty, the usbsdmux
 * emulator) but nothing on the relay's serial line replies. The run errors
 * with a power error naming the relay before anything is written, the board
 * is recorded broken for `dutlab boards`, and the next run says so.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImages } from '../../images/build.ts';
import { installCommand } from '../rig/commands.ts';
import { PtyLink } from '../rig/pty-link.ts';
import { createSdMux, muxMode } from '../rig/sd-mux-state.ts';
import type { BoardRow } from './boards-command.ts';

const dutlab = path.resolve('bin/dutlab.js');

test('a relay that never answers: the run errors with power naming the relay, the board is recorded broken, the next run warns', async (t) => {
  const image = (await buildImages()).versions[0]?.image.path ?? '';
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-farm-'));
  const adapter = await PtyLink.open(path.join(dir, 'ttyUSB0'), () => undefined);
  // The relay's USB-serial chip enumerates, but its controller is dead: frames and status queries go unanswered.
  const relay = await PtyLink.open(path.join(dir, 'ttyUSB1'), () => undefined);
  await createSdMux(dir, 64);
  const usbsdmux = await installCommand(dir, 'usbsdmux', path.resolve('harness/rig/bin/usbsdmux.ts'), dir);
  t.teardown(async () => {
    await adapter.close();
    await relay.close();
    await rm(dir, { recursive: true, force: true });
  });
  const boards = path.join(dir, 'boards');
  await execa('mkdir', [boards]);
  await writeFile(
    path.join(boards, 'bench-1.yaml'),
    [
      'name: bench-1',
      'deviceType: generic-amd64',
      'kind: physical',
      `console: { kind: serial, port: { device: ${adapter.link} } }`,
      `power: { kind: lcus, port: { device: ${relay.link} }, status: true, timeoutMs: 1500 }`,
      `storage: { kind: usbsdmux, control: { device: ${path.join(dir, 'sg0')} }, medium: { device: ${path.join(dir, 'sda')} }, command: ${usbsdmux} }`,
      '',
    ].join('\n'),
  );
  const env = { DUTLAB_STATE_DIR: path.join(dir, 'state') };
  const run = (reports: string) =>
    execa('node', [dutlab, 'run', '--board', path.join(boards, 'bench-1.yaml'), '--image', image, '--suite', 'os', '--grep', 'os-release', '--reports', reports], {
      reject: false,
      env,
      timeout: 5 * 60_000,
    });

  const first = await run(path.join(dir, 'reports-1'));
  t.is(first.exitCode, 2, first.stderr.slice(-2000));
  const summary = JSON.parse(await readFile(path.join(dir, 'reports-1', 'latest', 'summary.json'), 'utf8'));
  const [result] = summary.suites[0].tests;
  t.like(result, { status: 'error', cause: 'broken' });
  t.regex(result.message, /power/);
  t.regex(JSON.stringify(summary.timeline), /"broken","at":\d+,"afterMs":\d+,"detail":"dut bench-1, step power off: LCUS relay \S+ttyUSB1 channel 1 did not answer within 1.5 s \(reading the state back after switching off\)/);
  t.is(await muxMode(dir), 'off', 'nothing was switched or written: the board could not be powered off first');

  const listed = JSON.parse((await execa('node', [dutlab, 'boards', '--json', '--dir', boards], { env })).stdout) as BoardRow[];
  t.like(listed[0], { name: 'bench-1', kind: 'physical', state: 'broken', health: { cause: 'power' } });

  const second = await run(path.join(dir, 'reports-2'));
  t.is(second.exitCode, 2);
  t.regex(second.stderr, /warning: board bench-1 was marked broken by run \S+ at \S+: power: /);
});
