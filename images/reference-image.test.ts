/**
 * The reference image in real QEMU: build (cached), boot, log in on the
 * serial console, check the balenaOS interfaces it promises, run containers,
 * and see its fingerprint catch a changed OS file. Its update path
 * (hostapp-update, the A/B switch, rollback-health's commit) is checked by
 * the hup suite, in the CI subset (harness/cli/run-command.test.ts) and in
 * full in the main job.
 */
import test from 'ava';
import { loadBoard } from '../harness/boards/index.ts';
import { createDut } from '../harness/dut/create.ts';
import { buildImages, DEFAULT_VERSION, type BuildResult } from './build.ts';

test.serial('the reference image boots on root A, runs containers and its fingerprint catches a changed file', async (t) => {
  t.timeout(15 * 60_000);
  const built: BuildResult = await buildImages({ versions: [DEFAULT_VERSION] });
  const [current] = built.versions;
  if (!current) throw new Error('build returned no version');

  const dut = await createDut({
    board: await loadBoard('qemu-x86_64'),
    image: current.image.path,
    media: [built.busybox.path],
  });
  t.teardown(() => dut.close());
  const run = (command: string, timeoutMs = 120_000) => dut.exec(command, { transport: 'serial', timeoutMs });
  const sh = async (command: string, timeoutMs?: number): Promise<string> => {
    const result = await run(command, timeoutMs);
    if (result.exitCode !== 0) throw new Error(`"${command}" exited ${result.exitCode}: ${result.stdout}`);
    return result.stdout.trimEnd();
  };

  await dut.boot();
  const media = (file: string): string => dut.board.media?.path(file) ?? '';
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
});
