/** `dutlab boards` as a user runs it: the real CLI over a boards folder and a state folder of its own. */
import test from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { markBroken } from '../boards/health.ts';
import { acquireLease } from '../boards/lease.ts';
import type { BoardRow } from './boards-command.ts';

const dutlab = path.resolve('bin/dutlab.js');

const QEMU = `name: qemu-a
deviceType: generic-amd64
kind: qemu
qemu: { accel: tcg }
`;

const PHYSICAL = `# A Raspberry Pi 4: FTDI console, LCUS relay on the 5 V rail, USB-SD-Mux, dnsmasq leases.
name: rpi4-lab1
deviceType: raspberrypi4-64
kind: physical
console:
  kind: serial
  port: { match: { ID_SERIAL_SHORT: A10KX1QZ } }
  baud: 115200
power:
  kind: lcus
  port: { match: { ID_PATH: "pci-0000:00:14.0-usb-0:3:1.0" } }
  channel: 1
  minOffMs: 3000
  timeoutMs: 5000
storage:
  kind: usbsdmux
  control: { match: { ID_SERIAL_SHORT: "000000000582" } }
  medium: { match: { ID_SERIAL_SHORT: "000000000582", DEVTYPE: disk } }
  verify: true
network:
  kind: dhcp-leases
  file: /var/lib/misc/dnsmasq.leases
  mac: "dc:a6:32:01:02:03"
`;

/** A misspelt key, as a person edits a board file. */
const BROKEN_FILE = `name: typo
deviceType: generic-amd64
kind: qemu
qemu: { acel: kvm }
`;

async function farm(t: { teardown(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(path.join(tmpdir(), 'dutlab-boards-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const boards = path.join(root, 'boards');
  const state = path.join(root, 'state');
  await mkdir(boards);
  await writeFile(path.join(boards, 'qemu-a.yaml'), QEMU);
  await writeFile(path.join(boards, 'rpi4-lab1.yaml'), PHYSICAL);
  await writeFile(path.join(boards, 'typo.yaml'), BROKEN_FILE);
  const run = (...args: string[]) => execa('node', [dutlab, 'boards', '--dir', boards, ...args], { env: { DUTLAB_STATE_DIR: state }, reject: false, timeout: 60_000 });
  return { boards, state, run };
}

test.serial('every board file is listed, a bad one with its error; free boards say so', async (t) => {
  const { boards, run } = await farm(t);
  const json = await run('--json');
  t.is(json.exitCode, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as BoardRow[];
  t.deepEqual(
    rows.map((r) => [r.name, r.kind, r.deviceType, r.state]),
    [
      ['qemu-a', 'qemu', 'generic-amd64', 'free'],
      ['rpi4-lab1', 'physical', 'raspberrypi4-64', 'free'],
      ['typo', null, null, 'invalid'],
    ],
  );
  t.deepEqual(rows[1], {
    name: 'rpi4-lab1',
    source: path.join(boards, 'rpi4-lab1.yaml'),
    kind: 'physical',
    deviceType: 'raspberrypi4-64',
    state: 'free',
    lease: null,
    health: { state: 'ok' },
    error: null,
  });
  t.regex(rows[2]?.error ?? '', /typo\.yaml:4: qemu\.acel/);

  const human = await run();
  t.is(human.exitCode, 0, human.stderr);
  const lines = human.stdout.trimEnd().split('\n');
  t.regex(lines[0] ?? '', /^NAME\s+KIND\s+DEVICE TYPE\s+STATE$/);
  t.regex(lines[1] ?? '', /^qemu-a\s+qemu\s+generic-amd64\s+free$/);
  t.regex(lines[2] ?? '', /^rpi4-lab1\s+physical\s+raspberrypi4-64\s+free$/);
  t.regex(lines[3] ?? '', /^typo\s+-\s+-\s+invalid: .*typo\.yaml:4: qemu\.acel/);
});

test.serial('a leased board names its holder; a broken one its time, cause and message', async (t) => {
  const { state, run } = await farm(t);
  const lease = await acquireLease('rpi4-lab1', { runId: 'run-42', dir: path.join(state, 'leases') });
  t.teardown(() => lease.release());
  const broken = await markBroken('qemu-a', { cause: 'power', message: 'relay did not answer within 5 s', runId: 'run-41' }, { dir: path.join(state, 'health') });

  const rows = JSON.parse((await run('--json')).stdout) as BoardRow[];
  const [qemu, rpi] = rows;
  t.like(qemu, { state: 'broken', lease: null, health: broken });
  t.like(rpi, { state: 'leased', health: { state: 'ok' } });
  t.deepEqual(rpi?.lease?.holder, lease.holder);
  t.is(rpi?.lease?.stale, undefined);

  const human = (await run()).stdout;
  const holder = `pid ${process.pid} on host ${hostname()} since ${lease.holder.startedAt} (run run-42)`;
  t.true(human.includes(`broken since ${broken.at}: power — relay did not answer within 5 s (run run-41)`), human);
  t.true(human.includes(`leased by ${holder}`), human);

  await lease.release();
  t.like((JSON.parse((await run('--json')).stdout) as BoardRow[])[1], { state: 'free', lease: null });
});
