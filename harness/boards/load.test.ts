import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { ConfigFileError } from '../config/diagnostics.ts';
import { DEFAULT_BOARDS_DIR, listBoards, loadBoard, parseBoard } from './load.ts';

const FILE = 'boards/x.yaml';

function failure(text: string): ConfigFileError {
  try {
    parseBoard(text, FILE);
  } catch (error) {
    if (error instanceof ConfigFileError) return error;
    throw error;
  }
  throw new Error('expected the board to be rejected');
}

const qemuHead = 'name: x\ndeviceType: generic-amd64\nkind: qemu\n';

test('every board shipped in boards/ loads', async (t) => {
  const names = await listBoards(DEFAULT_BOARDS_DIR);
  t.true(names.includes('qemu-x86_64'));
  for (const name of names) {
    const board = await loadBoard(name);
    t.is(board.name, name, `${name}: name matches the file name`);
  }
});

test('qemu-x86_64 is typed and defaulted', async (t) => {
  const board = await loadBoard('qemu-x86_64');
  t.is(board.kind, 'qemu');
  if (board.kind !== 'qemu') return;
  t.is(board.deviceType, 'generic-amd64');
  t.deepEqual(board.qemu, {
    machine: 'q35',
    firmware: 'uefi',
    memory: 1024,
    cpus: 2,
    accel: 'auto',
    diskBus: 'virtio',
    network: 'user',
    sshGuestPort: 22222,
  });
  t.deepEqual(board.console, { kind: 'qemu-serial' });
  t.is(board.source, 'boards/qemu-x86_64.yaml');
});

test('omitted qemu settings and console take defaults', (t) => {
  const board = parseBoard(`${qemuHead}qemu:\n  diskBus: sata\n  accel: tcg\n`, FILE);
  if (board.kind !== 'qemu') return t.fail();
  t.is(board.qemu.diskBus, 'sata');
  t.is(board.qemu.accel, 'tcg');
  t.is(board.qemu.memory, 1024);
  t.deepEqual(board.console, { kind: 'qemu-serial' });
});

test('a physical board with serial console, relay power and sd-mux storage', (t) => {
  const board = parseBoard(
    [
      'name: rpi4-lab1',
      'deviceType: raspberrypi4-64',
      'kind: physical',
      'console: { kind: serial, device: /dev/ttyUSB0, baud: 115200 }',
      'power: { kind: usb-relay, device: /dev/hidraw0, channel: 1 }',
      'storage: { kind: sd-mux, model: usbsdmux, device: /dev/sg0 }',
    ].join('\n'),
    FILE,
  );
  t.is(board.kind, 'physical');
  if (board.kind !== 'physical') return;
  t.is(board.console.baud, 115200);
  t.deepEqual(board.power, { kind: 'usb-relay', device: '/dev/hidraw0', channel: 1 });
  t.is(board.storage.model, 'usbsdmux');
});

test('enum error names file, line, field, allowed values and the bad value', (t) => {
  const error = failure(`${qemuHead}qemu:\n  memory: 1024\n  accel: kvmm\n`);
  t.true(error instanceof ConfigError);
  t.is(error.kind, 'config');
  t.is(error.message, 'boards/x.yaml:6: qemu.accel: must be one of auto, kvm, tcg (got "kvmm")');
  t.deepEqual(error.issues, [{ line: 6, field: 'qemu.accel', message: 'must be one of auto, kvm, tcg (got "kvmm")' }]);
});

test('wrong type', (t) => {
  const error = failure(`${qemuHead}qemu:\n  memory: 1024M\n`);
  t.is(error.message, 'boards/x.yaml:5: qemu.memory: must be an integer (got string "1024M")');
});

test('out of range', (t) => {
  const error = failure(`${qemuHead}qemu:\n  cpus: 0\n`);
  t.is(error.message, 'boards/x.yaml:5: qemu.cpus: must be >= 1 (got 0)');
});

test('missing field is reported at the mapping that lacks it', (t) => {
  const error = failure('name: x\nkind: qemu\nqemu: {}\n');
  t.is(error.message, 'boards/x.yaml:1: deviceType: required field is missing');
  const nested = failure(
    'name: x\ndeviceType: y\nkind: physical\nconsole: { kind: serial, device: /dev/ttyUSB0, baud: 115200 }\n' +
      'power:\n  kind: usb-relay\n  device: /dev/hidraw0\nstorage: { kind: sd-mux, model: sdwire, device: /dev/sg0 }\n',
  );
  t.is(nested.message, 'boards/x.yaml:6: power.channel: required field is missing');
});

test('unknown key points at the key and lists what is allowed', (t) => {
  const error = failure(`${qemuHead}qemu:\n  memory: 512\n  acel: tcg\n`);
  t.is(
    error.message,
    'boards/x.yaml:6: qemu.acel: unknown key (allowed: machine, firmware, memory, cpus, accel, diskBus, network, sshGuestPort, cpu)',
  );
  const top = failure(`${qemuHead}qemu: {}\ncolour: blue\n`);
  t.regex(top.message, /^boards\/x\.yaml:5: colour: unknown key \(allowed: name, deviceType, kind, qemu, console\)$/);
});

test('unknown kind lists the kinds', (t) => {
  const error = failure('name: x\ndeviceType: y\nkind: qemuu\n');
  t.is(error.message, 'boards/x.yaml:3: kind: must be one of qemu, physical (got "qemuu")');
  const nested = failure(`${qemuHead}qemu: {}\nconsole: { kind: serial }\n`);
  t.is(nested.message, 'boards/x.yaml:5: console.kind: must be qemu-serial (got "serial")');
});

test('all problems are reported, in line order', (t) => {
  const error = failure(`${qemuHead}qemu:\n  accel: kvmm\n  memory: lots\n  foo: 1\n`);
  t.deepEqual(
    error.issues.map((i) => [i.line, i.field]),
    [
      [5, 'qemu.accel'],
      [6, 'qemu.memory'],
      [7, 'qemu.foo'],
    ],
  );
  t.is(error.message.split('\n').length, 3);
  t.regex(error.message.split('\n')[1] ?? '', /^ {2}boards\/x\.yaml:6: qemu\.memory: /);
});

test('YAML syntax error carries its line', (t) => {
  const error = failure(`${qemuHead}qemu:\n  memory: 1024\n    cpus: 2\n`);
  // The parser blames the value that the over-indented line continues.
  t.is(error.issues[0]?.line, 5);
  t.regex(error.message, /^boards\/x\.yaml:5: \(yaml\): YAML syntax error: Nested mappings are not allowed/);
  const unclosed = failure(`${qemuHead}qemu: { memory: 1024\n`);
  t.regex(unclosed.message, /^boards\/x\.yaml:\d+: \(yaml\): YAML syntax error: /);
  const dup = failure('name: x\nname: y\n');
  t.regex(dup.message, /^boards\/x\.yaml:2: \(yaml\): YAML syntax error: Map keys must be unique/);
});

test('empty file and non-mapping are rejected', (t) => {
  t.regex(failure('').message, /board file is empty/);
  t.regex(failure('- a\n').message, /must be a mapping/);
});

test('unknown board name lists the known boards', async (t) => {
  const error = await t.throwsAsync(loadBoard('no-such-board'), { instanceOf: ConfigError });
  t.regex(error?.message ?? '', /no such board "no-such-board" \(known boards: .*qemu-x86_64/);
});

test('loading by path names that path in errors', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dutlab-board-'));
  const file = join(dir, 'bad.yaml');
  await writeFile(file, `${qemuHead}qemu:\n  firmware: coreboot\n`);
  const error = await t.throwsAsync(loadBoard(file), { instanceOf: ConfigFileError });
  await rm(dir, { recursive: true, force: true });
  t.is(error?.message, `${file}:5: qemu.firmware: must be one of uefi, bios (got "coreboot")`);
});
