/**
 * The reference image end to end, in real QEMU (TCG here): build (cached),
 * boot, log in on the serial console, check the balenaOS interfaces, update
 * the host OS to the next version with hostapp-update, reboot into it and see
 * the update committed by rollback-health.
 */
import test from 'ava';
import { loadBoard } from '../harness/boards/index.ts';
import { createDut } from '../harness/dut/create.ts';
import { buildImages, DEFAULT_NEXT_VERSION, DEFAULT_VERSION, type BuildResult } from './build.ts';

test.serial('the reference image boots, runs containers, updates to the next version and commits it', async (t) => {
  t.timeout(30 * 60_000);
  const built: BuildResult = await buildImages({ versions: [DEFAULT_VERSION, DEFAULT_NEXT_VERSION] });
  const [current, next] = built.versions;
  if (!current || !next) throw new Error('build returned no versions');

  const dut = await createDut({
    board: await loadBoard('qemu-x86_64'),
    image: current.image.path,
    media: [next.hostapp.path, built.busybox.path],
  });
  t.teardown(() => dut.close());
  const run = (command: string, timeoutMs = 120_000) => dut.exec(command, { transport: 'serial', timeoutMs });
  const sh = async (command: string, timeoutMs?: number): Promise<string> => {
    const result = await run(command, timeoutMs);
    if (result.exitCode !== 0) throw new Error(`"${command}" exited ${result.exitCode}: ${result.stdout}`);
    return result.stdout.trimEnd();
  };

  await dut.boot();
  const media = (file: string): string => dut.board.mediaPath(file) ?? '';
  t.regex(await sh('cat /proc/cmdline'), /root=LABEL=resin-rootA\b/);
  t.is(await sh('readlink -f /dev/disk/by-state/active'), await sh('readlink -f /dev/disk/by-label/resin-rootA'));
  t.is(await sh('readlink -f /dev/disk/by-state/inactive'), await sh('readlink -f /dev/disk/by-label/resin-rootB'));
  t.regex(await sh('cat /etc/os-release'), new RegExp(`^VERSION="${current.version}"$`, 'm'));

  await sh('timeout 150 sh -c "until balena-engine info >/dev/null 2>&1; do sleep 1; done"', 160_000);
  t.regex(await sh('balena-engine info --format "{{.DockerRootDir}} {{.Driver}}"'), /^\/mnt\/data\/docker overlay2$/);
  t.regex(await sh('ls -l /run/balena-engine.sock /run/balena.sock'), /balena\.sock -> \/run\/balena-engine\.sock/);
  await sh(`balena-engine load -q -i ${media(built.busybox.path)}`);
  t.is(await sh('balena-engine run --rm dutlab/busybox echo hello from busybox'), 'hello from busybox');
  const failing = await run('balena-engine run --rm dutlab/busybox sh -c "exit 7"');
  t.is(failing.exitCode, 7, 'a container exit code reaches the caller');

  const fingerprint = await run('cd / && md5sum --quiet -c /balenaos.fingerprint');
  t.is(fingerprint.exitCode, 0, fingerprint.stdout);
  await sh('echo tampered >> /usr/lib/balena/release');
  const tampered = await run('cd / && md5sum --quiet -c /balenaos.fingerprint');
  t.is(tampered.exitCode, 1, 'the fingerprint catches a changed OS file');
  t.regex(tampered.stdout, /\/usr\/lib\/balena\/release: FAILED/);

  await sh(`hostapp-update -f ${media(next.hostapp.path)}`, 600_000);
  const env = await sh('grub-editenv /mnt/boot/grubenv list');
  t.regex(env, /^resin_root_part=B$/m);
  t.regex(env, /^upgrade_available=1$/m);
  t.regex(await sh('ls /mnt/state'), /rollback-health-breadcrumb/);

  await dut.reboot();
  t.regex(await sh('cat /proc/cmdline'), /root=LABEL=resin-rootB\b/);
  t.regex(await sh('cat /etc/os-release'), new RegExp(`^VERSION="${next.version}"$`, 'm'));
  t.is(await sh('cat /usr/lib/balena/release'), `refos ${next.version}`);

  // rollback-health commits once the new OS's engine is healthy.
  await sh('timeout 240 sh -c "until [ ! -e /mnt/state/rollback-health-breadcrumb ]; do sleep 2; done"', 250_000);
  const committed = await sh('grub-editenv /mnt/boot/grubenv list');
  t.regex(committed, /^resin_root_part=B$/m);
  t.regex(committed, /^upgrade_available=0$/m);
  t.regex(committed, /^bootcount=0$/m);
  t.is(await sh('ls /mnt/state | grep -c triggered || true'), '0');
  t.is(await sh('balena-engine run --rm dutlab/busybox echo still here'), 'still here', 'engine data survived the update');
});
