/**
 * Integration tests against the real QEMU (TCG), one VM at a time, each a few
 * seconds at most. Guests are firmware only (OVMF or SeaBIOS, no OS).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { SerialPort } from 'serialport';
import { QEMU_DEFAULTS, type QemuSettings } from '../boards/types.ts';
import { ConfigError, DutError } from '../errors.ts';
import { pendingCleanups } from '../proc/cleanup.ts';
import { isRunning } from '../proc/pids.ts';
import { launchQemu, type LaunchOptions, type QemuInstance } from './launcher.ts';

let root: string;
test.before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dutlab-launch-'));
});
test.after.always(async () => {
  await rm(root, { recursive: true, force: true });
});

const small: QemuSettings = { ...QEMU_DEFAULTS, memory: 256, cpus: 1 };
const tiny: QemuSettings = { ...small, firmware: 'bios', network: 'none', memory: 128 };

function launch(options: Partial<LaunchOptions> & { qemu: QemuSettings }): Promise<QemuInstance> {
  return launchQemu({ runsRoot: join(root, 'runs'), probe: { cacheFile: join(root, 'kvm-probe.json') }, ...options });
}

const sha256 = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

/** Resolve with the first `min` bytes read from the pty, or reject after `ms`. */
function readBytes(port: SerialPort, min: number, ms: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      port.off('data', onData);
      reject(new Error(`only ${Buffer.concat(chunks).length} bytes on the pty after ${ms} ms`));
    }, ms);
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      const all = Buffer.concat(chunks);
      if (all.length >= min) {
        clearTimeout(timer);
        port.off('data', onData);
        resolve(all);
      }
    };
    port.on('data', onData);
  });
}

test.serial('OVMF boots: bytes on the pty and in serial.log, QMP status, quit', async (t) => {
  const started = Date.now();
  const vm = await launch({ qemu: small, paused: true });
  try {
    t.log(`launched in ${Date.now() - started} ms; pty ${vm.pty}; ssh port ${vm.sshPort}; ${vm.accel.reason}`);
    // Whatever this host offers: the accelerator is the one the probe decided.
    t.is(vm.accel.accel, vm.accel.requested === 'tcg' ? 'tcg' : vm.accel.probe?.usable ? 'kvm' : 'tcg');
    t.true(vm.parentDeathSignal);
    t.regex(vm.pty, /^\/dev\/pts\/\d+$/);
    t.true(typeof vm.sshPort === 'number' && vm.sshPort > 0);
    t.is((await readFile(vm.run.pidfile, 'utf8')).trim(), String(vm.pid));
    t.false((await vm.qmp.status()).running, 'started paused');

    // Same code path as a USB-serial adapter.
    const port = new SerialPort({ path: vm.pty, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    const bytes = readBytes(port, 16, 20_000);
    await vm.qmp.cont();
    t.deepEqual(await vm.qmp.status(), { status: 'running', running: true, singlestep: false });
    const seen = await bytes;
    t.log(`first ${seen.length} bytes on the pty ${Date.now() - started} ms after launch`);
    const log = await readFile(vm.serialLog);
    t.true(log.length > 0, 'serial.log has the guest output');
    t.true(log.includes(seen.subarray(0, 8)), 'pty and serial.log carry the same bytes');

    await new Promise<void>((resolve) => port.close(() => resolve()));
    const shutdown = vm.qmp.waitForEvent('SHUTDOWN', { timeoutMs: 5_000 });
    const exit = await vm.stop();
    t.is((await shutdown).data.reason, 'host-qmp-quit');
    t.is(exit.reason, 'stopped');
    t.is(exit.code, 0);
    t.is(exit.error, undefined);
    t.false(isRunning(vm.pid));
    t.true(vm.qmp.closed);
    t.deepEqual(await vm.stop(), exit, 'stop is idempotent');
  } finally {
    await vm.stop();
  }
  t.deepEqual(pendingCleanups(), []);
});

test.serial('a reset ends QEMU as a reset, not a crash: its owner starts the machine again cold', async (t) => {
  const vm = await launch({ qemu: small });
  try {
    t.true(vm.argv.includes('-no-reboot'));
    await vm.qmp.reset();
    const exit = await vm.exited;
    t.is(exit.reason, 'reset');
    t.is(exit.error, undefined);
    t.false(isRunning(vm.pid));
  } finally {
    await vm.stop();
  }
  t.deepEqual(pendingCleanups(), []);
});

test.serial('the image is never written: writes land in the overlay; extra drives are read-only', async (t) => {
  const image = join(root, 'base.img');
  await writeFile(image, Buffer.alloc(4 << 20, 0x11));
  const hostapp = join(root, 'hostapp.tar');
  await writeFile(hostapp, Buffer.alloc(1 << 20, 0x22));
  const before = [await sha256(image), await sha256(hostapp)];

  const vm = await launch({ qemu: tiny, image, paused: true, extraDrives: [{ path: hostapp, format: 'raw' }] });
  try {
    const blocks = await vm.qmp.execute<{ device: string; inserted?: { file: string; ro: boolean; backing_file?: string } }[]>('query-block');
    const disk = blocks.find((b) => b.device === 'disk0');
    const extra = blocks.find((b) => b.device === 'extra0');
    t.is(disk?.inserted?.file, vm.run.overlay);
    t.is(disk?.inserted?.backing_file, image);
    t.false(disk?.inserted?.ro);
    t.true(extra?.inserted?.ro);

    // Write through the block layer exactly as a guest would.
    t.is(await vm.qmp.hmp('qemu-io disk0 "write -P 0xab 0 64k"'), '');
    const refused = await vm.qmp.hmp('qemu-io extra0 "write -P 0xcd 0 4k"');
    t.regex(refused, /read-only|Permission denied|Operation not permitted/i);
  } finally {
    await vm.stop();
  }
  t.deepEqual([await sha256(image), await sha256(hostapp)], before, 'image and extra drive byte-identical');
  const check = await execa('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0xab 0 64k', vm.run.overlay], { reject: false });
  t.is(check.exitCode, 0);
  t.notRegex(check.stdout, /verification failed/i, 'the write is in the overlay');
  t.true((await stat(vm.run.overlay)).size > 64 * 1024);
});

test.serial('sata and usb disk buses attach the overlay there', async (t) => {
  const image = join(root, 'bus.img');
  await writeFile(image, Buffer.alloc(1 << 20));
  for (const [diskBus, device] of [
    ['sata', 'ide-hd'],
    ['usb', 'usb-storage'],
  ] as const) {
    const vm = await launch({ qemu: { ...tiny, diskBus }, image, paused: true });
    try {
      const qtree = await vm.qmp.hmp('info qtree');
      const at = qtree.indexOf(`dev: ${device}`);
      t.true(at >= 0, `${diskBus}: a ${device} device exists`);
      // usb-storage hands the drive to a scsi-hd child listed beneath it.
      t.regex(qtree.slice(at).split('\n').slice(0, 40).join('\n'), /drive = "disk0"/, `${diskBus}: it carries disk0`);
    } finally {
      await vm.stop();
    }
  }
});

test.serial('QEMU dying unexpectedly resolves `exited` with DutError process and its stderr', async (t) => {
  const vm = await launch({ qemu: tiny, paused: true });
  process.kill(vm.pid, 'SIGKILL');
  const exit = await vm.exited;
  t.is(exit.reason, 'crashed');
  t.is(exit.signal, 'SIGKILL');
  t.true(exit.error instanceof DutError);
  t.is(exit.error?.kind, 'process');
  t.regex(exit.error?.message ?? '', /QEMU exited unexpectedly \(signal SIGKILL\)/);
  t.is(exit.error?.dut, 'qemu');
  t.is((await vm.stop()).reason, 'crashed', 'stop after a crash just reports it');
  t.deepEqual(pendingCleanups(), []);
});

test.serial('a QEMU that fails at start-up is reported with its stderr, and nothing is left', async (t) => {
  const started = Date.now();
  const error = await t.throwsAsync(launch({ qemu: tiny, extraArgs: ['-device', 'no-such-device'] }), { instanceOf: DutError });
  t.is(error?.kind, 'process');
  t.regex(error?.message ?? '', /QEMU exited during start-up \(code 1\)/);
  t.regex(error?.message ?? '', /no-such-device/);
  t.true(Date.now() - started < 10_000);
  t.deepEqual(pendingCleanups(), []);
});

test.serial('forcing kvm where it does not work is a ConfigError before anything starts', async (t) => {
  if (process.env.DUTLAB_EXPECT_KVM === 'works') return t.pass();
  await t.throwsAsync(launch({ qemu: { ...tiny, accel: 'kvm' } }), { instanceOf: ConfigError, message: /KVM is not usable/ });
  t.deepEqual(pendingCleanups(), []);
});
