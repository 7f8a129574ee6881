/**
 * The reference image in real QEMU: build (cached), install it with its
 * flasher, log in on the serial console, check the balenaOS interfaces it
 * promises, run containers, and see its fingerprint catch a changed OS file;
 * the production build over SSH alone. Its update path
 * (hostapp-update, the A/B switch, rollback-health's commit) is checked by
 * the hup suite in the main job.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import ssh2 from 'ssh2';
import { loadBoard } from '../harness/boards/index.ts';
import { textOf } from '../harness/console/transcript.ts';
import { createDut } from '../harness/dut/create.ts';
import { buildImages, DEFAULT_VERSION, type BuildResult } from './build.ts';
import { readGpt } from './inspect/gpt.ts';
import { openInput } from './inspect/input-file.ts';
import { inspectOsImage } from './inspect/os-image.ts';
import { readConfigJson, readExtFile, readExtLink, readGrubenv, readHostappFile } from './inspect/partition-files.ts';

test.serial('resin-rootA holds the OS as balenaOS lays it out: one hostapp image, one bare container, its /boot volume', async (t) => {
  t.timeout(20 * 60_000);
  const [current] = (await buildImages({ versions: [DEFAULT_VERSION] })).versions;
  if (!current) throw new Error('build returned no version');
  const input = await openInput(current.image.path, '--image', 'a disk image file');
  const gpt = await readGpt(input).finally(() => input.handle.close());
  const part = (label: string) => {
    const found = gpt.partitions.find((p) => p.label === label);
    if (!found) throw new Error(`no ${label} partition`);
    return found;
  };
  const rootA = part('resin-rootA').startBytes;
  const img = current.image.path;

  const currentLink = await readExtLink(img, rootA, '/current');
  const id = /^hostapps\/([0-9a-f]{64})$/.exec(currentLink ?? '')?.[1];
  t.truthy(id, `current -> hostapps/<container id>, not ${currentLink}`);
  t.is(await readExtLink(img, rootA, '/sbin/init'), '../current/boot/init');
  t.is(await readExtLink(img, rootA, '/boot'), 'current/boot');
  t.is((await readExtFile(img, rootA, '/counter'))?.trim(), '1');
  const bootLink = await readExtLink(img, rootA, `/hostapps/${id}/boot`);
  t.regex(bootLink ?? '', /^\.\.\/\.\.\/balena\/volumes\/[0-9a-f]{64}\/_data$/, 'the boot link leads to the container\'s anonymous volume');
  const init = await readExtFile(img, rootA, `/hostapps/${id}/boot/init`);
  t.regex(init ?? '', /^#!\/boot\/busybox sh\n/, 'the /boot volume holds the init');

  const config = JSON.parse((await readExtFile(img, rootA, `/balena/containers/${id}/config.v2.json`)) ?? '{}') as { Driver?: string; Image?: string; Config?: { Image?: string } };
  t.is(config.Driver, 'overlay2');
  const hostConfig = JSON.parse((await readExtFile(img, rootA, `/balena/containers/${id}/hostconfig.json`)) ?? '{}') as { Runtime?: string };
  t.is(hostConfig.Runtime, 'bare');
  const imageId = (config.Image ?? '').replace(/^sha256:/, '');
  const imageConfig = JSON.parse((await readExtFile(img, rootA, `/balena/image/overlay2/imagedb/content/sha256/${imageId}`)) ?? '{}') as { rootfs?: { diff_ids?: string[] } };
  t.is(imageConfig.rootfs?.diff_ids?.length, 1, 'the hostapp image has exactly one layer');
  const repositories = (await readExtFile(img, rootA, '/balena/image/overlay2/repositories.json')) ?? '';
  t.true(repositories.includes(`refos:${current.version}`), 'the image is tagged with its version');
  t.regex((await readHostappFile(img, rootA, '/etc/os-release')) ?? '', new RegExp(`^VERSION="${current.version}"$`, 'm'));
  t.regex((await readHostappFile(img, rootA, '/usr/bin/rollback-health')) ?? '', /^TIMEOUT=60$[\s\S]*^COUNT=15$/m);

  t.is(await readExtLink(img, part('resin-rootB').startBytes, '/current'), undefined, 'rootB is blank');
  t.deepEqual(await readGrubenv(img, part('resin-boot').startBytes), { resin_root_part: '2', upgrade_available: '0', bootcount: '0', os_console: 'serial' });
  t.is((await readConfigJson(img, part('resin-boot').startBytes))?.['developmentMode'], true);
});

test.serial('a production build boots silent on the serial line, is reached over SSH alone, and follows developmentMode in config.json without a reboot', async (t) => {
  t.timeout(15 * 60_000);
  const [current] = (await buildImages({ versions: [DEFAULT_VERSION], production: true })).versions;
  if (!current?.production) throw new Error('build returned no production image');
  const image = current.production.image.path;
  const boot = await inspectOsImage(image);
  t.is(boot.developmentMode, false);
  const bootPartition = boot.partitions.find((p) => p.label === 'resin-boot')?.startBytes ?? -1;
  t.false('os_console' in ((await readGrubenv(image, bootPartition)) ?? {}), 'no kernel console on the serial line');

  const dut = await createDut({ board: await loadBoard('qemu-x86_64'), image, login: 'ssh' });
  t.teardown(() => dut.close());
  const sh = async (command: string): Promise<string> => {
    const result = await dut.exec(command, { timeoutMs: 120_000 });
    if (result.exitCode !== 0) throw new Error(`"${command}" exited ${result.exitCode}: ${result.stdout}`);
    return result.stdout.trimEnd();
  };
  const until = (what: string, command: string) => sh(`timeout 90 sh -c 'until ${command}; do sleep 1; done' || { echo "not within 90 s: ${what}"; exit 1; }`);
  const serialText = () => textOf(dut.transcript.entries);
  const passwordless = async (): Promise<boolean> => acceptsEmptyPassword(await dut.sshEndpoint());

  await dut.boot();
  t.regex(await sh('cat /proc/cmdline'), /\bconsole=null quiet\b/);
  await until('the engine', 'balena-engine info >/dev/null 2>&1');
  // Not a byte of the kernel, systemd or a login prompt: only firmware and bootloader lines may be there.
  const silent = serialText();
  t.notRegex(silent, OS_TEXT, silent.slice(-600));
  t.is((await dut.exec('systemctl is-active serial-getty@ttyS0.service')).stdout.trim(), 'inactive', 'no getty in production');
  t.not((await dut.exec('balena-engine -H tcp://127.0.0.1:2375 version')).exitCode, 0, 'no engine on TCP 2375 in production');
  t.false(await passwordless(), 'production admits only config.json keys');

  // developmentMode true, written as a user would: config.json watched, no reboot.
  const setMode = (on: boolean) => sh(`jq '.developmentMode = ${on}' /mnt/boot/config.json > /tmp/config.json && cp /tmp/config.json /mnt/boot/config.json && sync`);
  await setMode(true);
  await until('a getty on ttyS0', 'systemctl is-active -q serial-getty@ttyS0.service');
  await until('the engine on TCP 2375', 'balena-engine -H tcp://127.0.0.1:2375 version >/dev/null 2>&1');
  // balenaOS's rule: development sshd, but with os.sshKeys set (the run key is) no passwordless login.
  t.regex(await sh('cat /var/volatile/development-features'), /^SSHD_OPTS='-f \/etc\/ssh\/sshd_config_development -o PasswordAuthentication=no'$/m);
  t.false(await passwordless(), 'development mode with os.sshKeys set still wants a key');
  // Without os.sshKeys the development sshd admits root with an empty password. The harness's
  // session stays open meanwhile, and the keys go back even if the wait fails.
  await sh(`cp /mnt/boot/config.json /tmp/config.keys.json && jq 'del(.os.sshKeys)' /tmp/config.keys.json > /tmp/config.json && cp /tmp/config.json /mnt/boot/config.json && sync`);
  let opened = false;
  try {
    for (const deadline = Date.now() + 90_000; !(opened = await passwordless()) && Date.now() < deadline; ) await sleep(1000);
    t.regex(await sh('cat /var/volatile/development-features'), /^SSHD_OPTS='-f \/etc\/ssh\/sshd_config_development'$/m);
    t.is((await dut.exec('test -e /root/.ssh/authorized_keys')).exitCode, 1, 'no keys, no authorized_keys');
  } finally {
    await sh('cp /tmp/config.keys.json /mnt/boot/config.json && sync');
  }
  t.true(opened, 'development mode without os.sshKeys admits root with an empty password');
  await until('the keys back, passwords off', "test -s /root/.ssh/authorized_keys && grep -q PasswordAuthentication=no /var/volatile/development-features");
  t.false(await passwordless(), 'with the keys back, a key is needed again');
  await setMode(false);
  await until('no getty', '! systemctl is-active -q serial-getty@ttyS0.service');
  await until('no engine on TCP 2375', '! balena-engine -H tcp://127.0.0.1:2375 version >/dev/null 2>&1');
  t.false(await passwordless());

  // A reboot seen over SSH alone: a new boot id answers, and this boot too says nothing on the line.
  const before = await sh('cat /proc/sys/kernel/random/boot_id');
  const mark = dut.transcript.mark();
  await dut.reboot();
  t.not(await sh('cat /proc/sys/kernel/random/boot_id'), before);
  t.notRegex(textOf(dut.transcript.since(mark)), OS_TEXT);
});

/** What the kernel, systemd (its welcome; GRUB has its own) or a getty print. */
const OS_TEXT = /Linux version|systemd\[1\]|Welcome to (?!GRUB)|login:/;

/** Whether sshd lets root in with an empty password (balenaOS development mode), tried from the host. */
function acceptsEmptyPassword(endpoint: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => {
      client.end();
      resolve(true);
    });
    client.once('error', (error: Error & { level?: string }) => (error.level === 'client-authentication' ? resolve(false) : reject(error)));
    client.connect({ ...endpoint, username: 'root', password: '', tryKeyboard: false, readyTimeout: 30_000 });
  });
}

// One boot for both: what the flasher installs is the reference image, byte for byte.
test.serial('a flasher installs the reference image on the internal disk and powers off; the installed OS boots on root A from a read-only overlay whose fingerprint catches a changed file, with its names laid out as balenaOS has them', async (t) => {
  t.timeout(30 * 60_000);
  const built: BuildResult = await buildImages({ versions: [DEFAULT_VERSION], flasher: true });
  const [current] = built.versions;
  if (!current?.flasher) throw new Error('build returned no flasher image');
  const image = current.flasher.image.path;
  const facts = await inspectOsImage(image);
  t.true(facts.installer);
  t.is(facts.version, current.version);
  t.log(`flasher ${image}: ${(current.flasher.image.size / 2 ** 20).toFixed(0)} MiB`);

  const progress: string[] = [];
  const dut = await createDut({
    board: await loadBoard('qemu-x86_64'),
    image,
    installer: true,
    login: 'console',
    // The installer copies config.json less its installer section.
    config: { installer: { secureboot: false } },
    onFlashProgress: ({ elapsedMs, lastLine }) => progress.push(`${Math.round(elapsedMs / 1000)} s: ${lastLine}`),
  });
  t.teardown(() => dut.close());
  const run = (command: string, timeoutMs = 120_000) => dut.exec(command, { transport: 'serial', timeoutMs });
  const sh = async (command: string, timeoutMs?: number): Promise<string> => {
    const result = await run(command, timeoutMs);
    if (result.exitCode !== 0) throw new Error(`"${command}" exited ${result.exitCode}: ${result.stdout}`);
    return result.stdout.trimEnd();
  };
  const started = Date.now();
  await dut.boot();
  const states = dut.timeline.entries.map((e) => e.state);
  t.log(`flashed and booted in ${((Date.now() - started) / 1000).toFixed(0)} s: ${states.join(' → ')}`);
  for (const line of progress) t.log(`progress ${line}`);
  t.deepEqual(states.slice(states.indexOf('provisioning')), ['provisioning', 'flashing', 'powering-on', 'booting', 'ready']);
  const flashing = dut.timeline.entries.find((e) => e.state === 'flashing')?.at ?? 0;
  const poweringOn = dut.timeline.entries.find((e) => e.state === 'powering-on')?.at ?? 0;
  t.log(`installer: ${((poweringOn - flashing) / 1000).toFixed(0)} s from power-on to power-off`);
  const installerText = textOf(dut.transcript.entries);
  t.regex(installerText, /\[resin-init-flasher\] \/dev\/sda is our install media, skip it/);
  t.regex(installerText, /\[resin-init-flasher\] \/dev\/vda will be used for flashing/);
  t.regex(installerText, /\[resin-init-flasher\] Flashed \d+ bytes to \/dev\/vda/);

  // Booted from the internal disk, with the stick still plugged in.
  t.is(await sh('findmnt -n -c -o SOURCE -t ext4 -M /mnt/sysroot/active'), '/dev/vda2');
  t.is(await sh('lsblk -no LABEL /dev/sda1'), 'flash-boot');
  t.regex(await sh('cat /etc/os-release'), new RegExp(`^VERSION="${current.version}"$`, 'm'));
  const config = JSON.parse(await sh('cat /mnt/boot/config.json')) as { installer?: unknown; os?: { sshKeys?: string[] } };
  t.is(config.installer, undefined, 'config.json without its installer section');
  t.is(config.os?.sshKeys?.length, 1, 'the run key came along from the stick');
  t.is((await dut.exec('echo over ssh')).stdout.trim(), 'over ssh', 'SSH with that key');
  // The firmware booted the internal disk through the entry the installer added (NVRAM survives the power-off).
  const efi = await sh('efibootmgr');
  const entry = /^Boot([0-9A-F]{4})\*? balenaOS$/m.exec(efi)?.[1];
  t.truthy(entry, efi);
  t.regex(efi, new RegExp(`^BootCurrent: ${entry}$`, 'm'), 'booted through the balenaOS entry');

  // The installed OS, as the reference image must behave.
  t.regex(await sh('cat /proc/cmdline'), /root=LABEL=resin-rootA\b/);
  t.is(await sh('readlink -f /dev/disk/by-state/active'), await sh('readlink -f /dev/disk/by-label/resin-rootA'));
  t.is(await sh('readlink -f /dev/disk/by-state/inactive'), await sh('readlink -f /dev/disk/by-label/resin-rootB'));

  const fingerprint = await run('cd / && md5sum --quiet -c /balenaos.fingerprint');
  t.is(fingerprint.exitCode, 0, fingerprint.stdout);
  t.regex(await sh('findmnt -n -o FSTYPE,OPTIONS /'), /^overlay\s+ro,/, 'the OS runs from a read-only overlay of its layers');
  t.is(await sh('readlink -f /dev/disk/by-state/active'), await sh('findmnt -n -c -o SOURCE -t ext4 -M /mnt/sysroot/active'));
  // The root is read-only: an OS file changes only in its layer on the partition.
  await sh('echo tampered >> "$(find /mnt/sysroot/active/balena/overlay2 -path "*/diff/usr/lib/balena/release")"');
  const tampered = await run('cd / && md5sum --quiet -c /balenaos.fingerprint');
  t.is(tampered.exitCode, 1, 'the fingerprint catches a changed OS file');
  t.regex(tampered.stdout, /\/usr\/lib\/balena\/release: FAILED/);

  // Names as the image lays them out: dnsmasq for the host (127.0.0.2) and for containers
  // (10.114.102.1 on resin-dns). What they do with config.json is the os suite's to check.
  t.regex(await sh('cat /etc/resolv.conf'), /^nameserver 127\.0\.0\.2$/m);
  t.regex(await sh('ip -4 -o addr show dev resin-dns'), /inet 10\.114\.102\.1\/24/);
  t.is((await sh('cat /run/dnsmasq.servers')).trim(), 'server=8.8.8.8', 'without dnsServers, balenaOS\'s default');

  // The reset flags (remove_me_to_reset) are the os suite's: their test needs a reboot.
});
