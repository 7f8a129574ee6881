import test from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DutError } from '../errors.ts';
import { locate } from './locate.ts';
import { tempDir } from '../testing/temp-dir.ts';

/** A sysfs class and udev database laid out as the kernel and udevd write them. */
async function fakeHost(devices: { name: string; dev: string; props: Record<string, string> }[]) {
  const root = await mkdtemp(path.join(tmpdir(), 'dutlab-udev-'));
  for (const device of devices) {
    await mkdir(path.join(root, 'sys/class/tty', device.name), { recursive: true });
    await writeFile(path.join(root, 'sys/class/tty', device.name, 'dev'), `${device.dev}\n`);
    await mkdir(path.join(root, 'udev'), { recursive: true });
    const record = ['S:serial/by-id/x', 'I:123', ...Object.entries(device.props).map(([k, v]) => `E:${k}=${v}`), 'G:systemd'].join('\n');
    await writeFile(path.join(root, 'udev', `c${device.dev}`), `${record}\n`);
  }
  return { sysRoot: path.join(root, 'sys'), udevData: path.join(root, 'udev'), done: () => rm(root, { recursive: true, force: true }) };
}

test('a udev match finds the adapter whatever the kernel named it', async (t) => {
  const host = await fakeHost([
    { name: 'ttyUSB0', dev: '188:0', props: { ID_SERIAL_SHORT: 'A10KX1', ID_PATH: 'pci-0000:00:14.0-usb-0:1:1.0' } },
    { name: 'ttyUSB1', dev: '188:1', props: { ID_SERIAL_SHORT: 'B20QY2', ID_PATH: 'pci-0000:00:14.0-usb-0:2:1.0' } },
  ]);
  t.teardown(host.done);
  const options = { subsystem: 'tty' as const, what: 'console adapter', board: 'rpi', ...host };
  t.is(await locate({ match: { ID_SERIAL_SHORT: 'B20QY2' } }, options), '/dev/ttyUSB1');
  t.is(await locate({ match: { ID_PATH: 'pci-0000:00:14.0-usb-0:1:1.0' } }, options), '/dev/ttyUSB0');
  const none = await t.throwsAsync(locate({ match: { ID_SERIAL_SHORT: 'C30' } }, options), { instanceOf: DutError });
  t.regex(none.message, /dut rpi.*console adapter: udev match \{ID_SERIAL_SHORT=C30\} is not present/);
});

test('a match naming two devices is refused with both', async (t) => {
  const host = await fakeHost([
    { name: 'ttyUSB0', dev: '188:0', props: { ID_VENDOR: 'FTDI' } },
    { name: 'ttyUSB1', dev: '188:1', props: { ID_VENDOR: 'FTDI' } },
  ]);
  t.teardown(host.done);
  const error = await t.throwsAsync(locate({ match: { ID_VENDOR: 'FTDI' } }, { subsystem: 'tty', what: 'relay', board: 'b', ...host }));
  t.regex(error.message, /matches 2 devices \(\/dev\/ttyUSB0, \/dev\/ttyUSB1\)/);
});

test('a device path that appears late is waited for, within the bound', async (t) => {
  const dir = await tempDir(t, 'late');
  const late = path.join(dir, 'sda');
  setTimeout(() => void writeFile(late, ''), 600);
  t.is(await locate({ device: late }, { subsystem: 'block', what: 'SD card', board: 'b', timeoutMs: 5000 }), late);
  const error = await t.throwsAsync(locate({ device: path.join(dir, 'never') }, { subsystem: 'block', what: 'SD card', board: 'b', timeoutMs: 500 }));
  t.regex(error.message, /SD card: .*never is not present within 1 s/);
});
