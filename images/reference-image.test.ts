/**
 * The reference image end to end, in real QEMU (TCG here): build (cached),
 * boot, log in on the serial console, check the balenaOS interfaces, update
 * the host OS to the next version with hostapp-update, reboot into it and see
 * the update committed by rollback-health.
 */
import test from 'ava';
import path from 'node:path';
import { loadBoard, type QemuBoard } from '../harness/boards/index.ts';
import { Console, login, Transcript, type Shell } from '../harness/console/index.ts';
import { closeSerialLine, openSerialLine } from '../harness/drivers/serial-line.ts';
import { launchBoard, type QemuInstance } from '../harness/qemu/index.ts';
import { buildImages, DEFAULT_NEXT_VERSION, DEFAULT_VERSION, type BuildResult } from './build.ts';

const BOOT_TIMEOUT_MS = 6 * 60_000;

test.serial('the reference image boots, runs containers, updates to the next version and commits it', async (t) => {
  t.timeout(30 * 60_000);
  const built: BuildResult = await buildImages({ versions: [DEFAULT_VERSION, DEFAULT_NEXT_VERSION] });
  const [current, next] = built.versions;
  if (!current || !next) throw new Error('build returned no versions');

  const board = (await loadBoard('qemu-x86_64')) as QemuBoard;
  const qemu: QemuInstance = await launchBoard(board, {
    dut: 'refos',
    image: current.image.path,
    imageFormat: 'raw',
    // vdb: the next version's hostapp, vdc: the busybox container image.
    extraDrives: [
      { path: next.hostapp.path, format: 'raw' },
      { path: built.busybox.path, format: 'raw' },
    ],
    paused: true,
  });
  const port = await openSerialLine(qemu.pty, 115200, 'refos');
  const transcript = new Transcript({ logFile: path.join(qemu.run.dir, 'transcript.log') });
  const console = new Console({ stream: port, name: 'refos', transcript });
  t.teardown(async () => {
    console.close();
    await closeSerialLine(port);
    await qemu.stop();
    await transcript.close();
  });
  await qemu.qmp.cont();

  const boot = async (): Promise<Shell> => qemu.whileRunning(login(console, { timeoutMs: BOOT_TIMEOUT_MS, step: 'boot and login' }));
  const sh = async (shell: Shell, command: string, timeoutMs = 120_000): Promise<string> =>
    (await qemu.whileRunning(shell.runOk(command, { timeoutMs }))).output;

  let shell = await boot();
  t.regex(await sh(shell, 'cat /proc/cmdline'), /root=LABEL=resin-rootA\b/);
  t.is(await sh(shell, 'readlink -f /dev/disk/by-state/active'), await sh(shell, 'readlink -f /dev/disk/by-label/resin-rootA'));
  t.is(await sh(shell, 'readlink -f /dev/disk/by-state/inactive'), await sh(shell, 'readlink -f /dev/disk/by-label/resin-rootB'));
  t.regex(await sh(shell, 'cat /etc/os-release'), new RegExp(`^VERSION="${current.version}"$`, 'm'));

  await sh(shell, 'timeout 150 sh -c "until balena-engine info >/dev/null 2>&1; do sleep 1; done"', 160_000);
  t.regex(await sh(shell, 'balena-engine info --format "{{.DockerRootDir}} {{.Driver}}"'), /^\/mnt\/data\/docker overlay2$/);
  t.regex(await sh(shell, 'ls -l /run/balena-engine.sock /run/balena.sock'), /balena\.sock -> \/run\/balena-engine\.sock/);
  await sh(shell, 'balena-engine load -q -i /dev/vdc');
  t.is(await sh(shell, 'balena-engine run --rm dutlab/busybox echo hello from busybox'), 'hello from busybox');
  const failing = await qemu.whileRunning(shell.run('balena-engine run --rm dutlab/busybox sh -c "exit 7"', { timeoutMs: 120_000 }));
  t.is(failing.exitCode, 7, 'a container exit code reaches the caller');

  const fingerprint = await qemu.whileRunning(shell.run('cd / && md5sum --quiet -c /balenaos.fingerprint', { timeoutMs: 120_000 }));
  t.is(fingerprint.exitCode, 0, fingerprint.output);
  await sh(shell, 'echo tampered >> /usr/lib/balena/release');
  const tampered = await qemu.whileRunning(shell.run('cd / && md5sum --quiet -c /balenaos.fingerprint', { timeoutMs: 120_000 }));
  t.is(tampered.exitCode, 1, 'the fingerprint catches a changed OS file');
  t.regex(tampered.output, /\/usr\/lib\/balena\/release: FAILED/);

  await sh(shell, 'hostapp-update -f /dev/vdb', 600_000);
  const env = await sh(shell, 'grub-editenv /mnt/boot/grubenv list');
  t.regex(env, /^resin_root_part=B$/m);
  t.regex(env, /^upgrade_available=1$/m);
  t.regex(await sh(shell, 'ls /mnt/state'), /rollback-health-breadcrumb/);

  console.expectReboot();
  await console.send('systemctl reboot\n');
  shell = await boot();
  t.regex(await sh(shell, 'cat /proc/cmdline'), /root=LABEL=resin-rootB\b/);
  t.regex(await sh(shell, 'cat /etc/os-release'), new RegExp(`^VERSION="${next.version}"$`, 'm'));
  t.is(await sh(shell, 'cat /usr/lib/balena/release'), `refos ${next.version}`);

  // rollback-health commits once the new OS's engine is healthy.
  await sh(shell, 'timeout 240 sh -c "until [ ! -e /mnt/state/rollback-health-breadcrumb ]; do sleep 2; done"', 250_000);
  const committed = await sh(shell, 'grub-editenv /mnt/boot/grubenv list');
  t.regex(committed, /^resin_root_part=B$/m);
  t.regex(committed, /^upgrade_available=0$/m);
  t.regex(committed, /^bootcount=0$/m);
  t.is(await sh(shell, 'ls /mnt/state | grep -c triggered || true'), '0');
  t.is(await sh(shell, 'balena-engine run --rm dutlab/busybox echo still here'), 'still here', 'engine data survived the update');
});
