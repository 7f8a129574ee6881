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

test('the example farm boards load, each naming its drivers', async (t) => {
  const dir = join(DEFAULT_BOARDS_DIR, 'examples');
  const names = await listBoards(dir);
  t.deepEqual(names, ['nuc-lab2', 'rpi4-lab1']);
  const kinds = [];
  for (const name of names) {
    const board = await loadBoard(name, { boardsDir: dir });
    if (board.kind !== 'physical') return t.fail(`${name} is not physical`);
    kinds.push(`${board.console.kind}/${board.power.kind}/${board.storage.kind}/${board.network?.kind}`);
  }
  t.deepEqual(kinds, ['ser2net/tasmota/sdwire/console', 'serial/lcus/usbsdmux/dhcp-leases']);
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

const physical = (power: string, extra = '') =>
  [
    'name: rpi4-lab1',
    'deviceType: raspberrypi4-64',
    'kind: physical',
    'console: { kind: serial, port: { match: { ID_SERIAL_SHORT: A10KX1 } } }',
    `power: ${power}`,
    'storage: { kind: usbsdmux, control: { match: { ID_PATH: "pci-0000:00:14.0-usb-0:2:1.0" } }, medium: { device: /dev/disk/by-path/pci-0000:00:14.0-usb-0:2:1.0-scsi-0:0:0:0 } }',
    extra,
  ].join('\n');

test('a physical board: resources located, driver settings defaulted', (t) => {
  const board = parseBoard(physical('{ kind: lcus, port: { device: /dev/serial/by-id/usb-1a86_USB_Serial-if00-port0 }, channel: 2, minOffMs: 5000 }', 'network: { kind: dhcp-leases, file: /var/lib/misc/dnsmasq.leases, mac: "dc:a6:32:01:02:03" }'), FILE);
  if (board.kind !== 'physical') return t.fail();
  t.deepEqual(board.console, { kind: 'serial', port: { match: { ID_SERIAL_SHORT: 'A10KX1' } }, baud: 115200 });
  t.deepEqual(board.power, { kind: 'lcus', port: { device: '/dev/serial/by-id/usb-1a86_USB_Serial-if00-port0' }, channel: 2, baud: 9600, status: false, minOffMs: 5000, timeoutMs: 10_000 });
  t.like(board.storage, { kind: 'usbsdmux', command: 'usbsdmux', verify: true, timeoutMs: 30_000 });
  t.deepEqual(board.network, { kind: 'dhcp-leases', file: '/var/lib/misc/dnsmasq.leases', mac: 'dc:a6:32:01:02:03', port: 22222 });
});

test('a physical board: an unknown power kind names the kinds there are', (t) => {
  const error = failure(physical('{ kind: usb-relay, device: /dev/hidraw0 }'));
  t.regex(error.message, /boards\/x.yaml:5: power.kind: must be one of lcus, usbrelay, gpio, tasmota, shelly, command \(got "usb-relay"\)/);
});

test('a physical board: a locator is a device path or a udev match, not both, and paths are absolute', (t) => {
  const both = failure(physical('{ kind: lcus, port: { device: /dev/ttyUSB1, match: { ID_PATH: x } } }'));
  t.regex(both.message, /boards\/x.yaml:5: power.port: takes at most 1 of: device, match/);
  const relative = failure(physical('{ kind: lcus, port: { device: ttyUSB1 } }'));
  t.regex(relative.message, /power.port.device: must be an absolute path/);
  const badUrl = failure(physical('{ kind: tasmota, url: 10.0.0.5 }'));
  t.regex(badUrl.message, /power.url: must be an http:\/\/ or https:\/\/ URL/);
});

test('a virtual board takes the QEMU and rig defaults', (t) => {
  const board = parseBoard('name: v\ndeviceType: generic-amd64\nkind: virtual\nrig: { power: tasmota }\n', FILE);
  if (board.kind !== 'virtual') return t.fail();
  t.is(board.qemu.machine, 'q35');
  t.deepEqual(board.rig, { cardMiB: 8192, power: 'tasmota', console: 'serial', forwardPorts: [] });
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
    'name: x\ndeviceType: y\nkind: physical\nconsole: { kind: serial, port: { device: /dev/ttyUSB0 } }\n' +
      'power:\n  kind: usbrelay\n  command: usbrelay\nstorage: { kind: sdwire, serial: sdw-1, medium: { device: /dev/sda } }\n',
  );
  t.is(nested.message, 'boards/x.yaml:6: power.relay: required field is missing');
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
  t.is(error.message, 'boards/x.yaml:3: kind: must be one of qemu, physical, virtual (got "qemuu")');
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
