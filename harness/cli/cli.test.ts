/** The dutlab CLI as a user runs it: real processes, real QEMU for the boot cases. */
import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildImages } from '../../images/build.ts';
import { GoldenCache } from '../dut/golden-cache.ts';

const dutlab = path.resolve('bin/dutlab.js');

const alive = async (pid: number): Promise<boolean> => {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie is dead, only not yet reaped
  } catch {
    return false;
  }
};

test('bad input exits 2 with a message naming the flag or file', async (t) => {
  const board = await execa('node', [dutlab, 'boot', '--board', 'no-such-board', '--image', '/nonexistent.img'], { reject: false });
  t.is(board.exitCode, 2);
  t.regex(board.stderr, /no such board "no-such-board" \(known boards: qemu-x86_64/);

  const flag = await execa('node', [dutlab, 'exec', '--transport', 'pigeon', '--', 'true'], { reject: false });
  t.is(flag.exitCode, 2);
  t.regex(flag.stderr, /--transport: must be one of auto, serial, ssh \(got "pigeon"\)/);

  const reboots = await execa('node', [dutlab, 'run', '--reboots', 'sometimes'], { reject: false });
  t.is(reboots.exitCode, 2);
  t.regex(reboots.stderr, /--reboots: must be one of shared, each \(got "sometimes"\)/);

  const unknown = await execa('node', [dutlab, 'frobnicate'], { reject: false });
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /unknown command "frobnicate"/);
});

test('every command answers --help with its flags, their defaults and an example; a misspelt flag or command names the closest one', async (t) => {
  const top = await execa('node', [dutlab, '--help']);
  const commands = [...top.stdout.matchAll(/^ {2}dutlab (\w+)/gm)].map((m) => m[1] ?? '');
  t.deepEqual(commands, ['run', 'boot', 'exec', 'image', 'boards', 'cache']);
  for (const command of commands) {
    const help = await execa('node', [dutlab, command, ...(command === 'image' ? ['build'] : []), '--help']);
    t.regex(help.stdout, new RegExp(`^usage: dutlab ${command} `), command);
    t.regex(help.stdout, /^flags:\n {2}--/m, `${command} lists its flags`);
    t.regex(help.stdout, /^examples?:\n {2}dutlab /m, `${command} shows an example`);
    t.regex(help.stdout, /^ {2}--help +print this help$/m);
  }
  t.regex((await execa('node', [dutlab, 'run', '--help'])).stdout, /--boot-timeout S +seconds from power-on to a login \(default 360\)/);
  const misspelt = await execa('node', [dutlab, 'run', '--boad', 'x'], { reject: false });
  t.is(misspelt.exitCode, 2);
  t.regex(misspelt.stderr, /unknown flag --boad; did you mean --board\? \(dutlab run --help lists the flags\)/);
  const swapped = await execa('node', [dutlab, 'boards', '--jsno'], { reject: false });
  t.regex(swapped.stderr, /did you mean --json\?/);
  const command = await execa('node', [dutlab, 'boots'], { reject: false });
  t.is(command.exitCode, 2);
  t.regex(command.stderr, /unknown command "boots"; did you mean "boot"\?/);
});

/**
 * Each bad input of `dutlab run` is refused with exit 2, naming the file and
 * what is wrong, in seconds and before any QEMU starts (the run would create
 * its reports folder only after the checks).
 */
test.serial('bad input to dutlab run is refused before any work, naming the file', async (t) => {
  const built = await buildImages({ versions: ['1.0.0'] });
  const image = built.versions[0]?.image.path ?? '';
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-badinput-'));
  const zeros = path.join(dir, 'zeros.img');
  await writeFile(zeros, Buffer.alloc(1 << 20));
  const truncated = path.join(dir, 'truncated.img');
  await execa('cp', ['--sparse=always', image, truncated]);
  await execa('truncate', ['-s', '1G', truncated]);
  const physical = path.join(dir, 'lab-rpi4.yaml');
  await writeFile(
    physical,
    [
      'name: lab-rpi4',
      'deviceType: raspberrypi4-64',
      'kind: physical',
      'console: { kind: serial, port: { device: /dev/ttyUSB0 } }',
      'power: { kind: usbrelay, relay: HURTM_1, command: no-such-usbrelay }',
      'storage: { kind: usbsdmux, control: { device: /dev/sg0 }, medium: { device: /dev/sda } }',
      '',
    ].join('\n'),
  );
  const runConfig = path.join(dir, 'run.yaml');
  await writeFile(runConfig, 'suites: [os]\nbial: true\n');

  const cases: [string, string[], RegExp][] = [
    ['missing image', ['--image', path.join(dir, 'nope.img')], /--image .*nope\.img: not found/],
    ['not a GPT disk', ['--image', zeros], /--image .*zeros\.img: not a GPT disk/],
    ['truncated image', ['--image', truncated], /--image .*truncated\.img: truncated/],
    ['missing hostapp', ['--image', image, '--next-hostapp', path.join(dir, 'nope.tar')], /--next-hostapp .*nope\.tar: not found/],
    ['hostapp with two images', ['--image', image, '--next-hostapp', built.busybox.path], /--next-hostapp .*: holds 2 images/],
    ['hostapp without an image', ['--next-hostapp', built.busybox.path], /--next-hostapp: needs --image/],
    ['a farm board naming a tool this host lacks', ['--board', physical], /lab-rpi4\.yaml: power\.command: "no-such-usbrelay" is not an executable on this host \(Debian package usbrelay\)/],
    ['a misspelt run config field', ['--config', runConfig], /run\.yaml:2.*bial/],
  ];
  for (const [what, args, message] of cases) {
    const reports = path.join(dir, `reports-${what.replace(/\W+/g, '-')}`);
    const started = Date.now();
    const result = await execa('node', [dutlab, 'run', '--reports', reports, ...args], { reject: false, timeout: 60_000 });
    const seconds = (Date.now() - started) / 1000;
    t.log(`${what}: exit ${result.exitCode} in ${seconds.toFixed(1)} s: ${result.stderr.trim().split('\n').at(-1)}`);
    t.is(result.exitCode, 2, what);
    t.regex(result.stderr, message, what);
    t.false(existsSync(reports), `${what}: no run was started`);
    t.true(seconds < 20, `${what}: refused in ${seconds.toFixed(1)} s`);
  }
  await rm(dir, { recursive: true, force: true });
});

test.serial('a harness killed with SIGKILL while its DUT boots leaves no QEMU behind', async (t) => {
  const image = (await buildImages()).versions[0]?.image.path ?? '';
  const child = execa('node', [dutlab, 'boot', '--cold', '--image', image], { reject: false, buffer: false });
  // Killed mid-boot, when the harness holds the most (QEMU, QMP, the console): no need to wait for ready.
  await new Promise<void>((resolve, reject) => {
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (/\]\s+booting/.test(text)) resolve();
    });
    void child.then(() => reject(new Error(`dutlab boot exited before the DUT booted:\n${text.slice(-2000)}`)));
  });
  const found = await execa('pgrep', ['-P', String(child.pid), '-f', 'qemu-system'], { reject: false });
  const qemuPid = Number(found.stdout.trim().split('\n')[0]);
  t.true(await alive(qemuPid), 'QEMU runs while the harness does');

  child.kill('SIGKILL');
  await child;
  const deadline = Date.now() + 10_000;
  while ((await alive(qemuPid)) && Date.now() < deadline) await sleep(100);
  t.false(await alive(qemuPid), `QEMU ${qemuPid} outlived the killed harness`);
});

test('dutlab cache ls lists golden snapshots without their private key; prune --all removes them', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-cache-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const image = path.join(dir, 'os.img');
  await writeFile(image, 'image');
  const cache = new GoldenCache(path.join(dir, 'golden'));
  const runKey = { privateKey: 'PRIVATE KEY', publicKey: 'ssh-ed25519 AAAA', fingerprint: 'SHA256:x' };
  await cache.store('qemu-x86_64', await GoldenCache.keyParts(image, {}, {}), runKey, (entry) => writeFile(path.join(entry, 'disk.qcow2'), 'state'));
  const listed = await execa('node', [dutlab, 'cache', 'ls', '--dir', cache.root, '--json']);
  t.like(JSON.parse(listed.stdout), [{ board: 'qemu-x86_64', image }]);
  t.notRegex(listed.stdout, /PRIVATE/);
  t.regex((await execa('node', [dutlab, 'cache', 'ls', '--dir', cache.root])).stdout, /^KEY +BOARD +SIZE +LAST USED +IMAGE\n[0-9a-f]{24} +qemu-x86_64 /);
  t.regex((await execa('node', [dutlab, 'cache', 'prune', '--all', '--dir', cache.root])).stdout, /removed 1 golden snapshot/);
  t.deepEqual(await cache.list(), []);
  const wrong = await execa('node', [dutlab, 'cache', 'clean'], { reject: false });
  t.is(wrong.exitCode, 2);
  t.regex(wrong.stderr, /expected "ls" or "prune"/);
});
