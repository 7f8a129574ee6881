/**
 * `dutlab run` end to end in real QEMU: a representative subset of the os and
 * hup suites on the virtual board, so through the physical drivers (LCUS
 * relay, serial adapter, SD mux, flasher), against copies of the reference
 * image and hostapp passed as a foreign image would be (--image,
 * --next-hostapp), reports validated against the strict JUnit schema, and a
 * second run on the leased board refused; and runs on the QEMU board
 * interrupted at several moments that still leave complete reports, exit 2
 * and no QEMU.
 */
import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildImages } from '../../images/build.ts';
import { keepIfFailed } from '../testing/temp-dir.ts';
import { haveXsd, junitXsd, xmllint } from '../report/testing/fixtures.ts';
import { writeReadmeSuite } from '../runner/testing/readme-suite.ts';

const dutlab = path.resolve('bin/dutlab.js');

/**
 * The CI subset: one test of each os area (identity, engine, the engine's
 * port reached from this host through the rig's forward, network and time
 * through this host's servers, sshd, config.json applied live, zram, udev),
 * and of the tests that check what a reboot does: fsck of every partition
 * and the factory reset, which share one reboot. Resets and panics are judged in harness/faults/. The hup
 * suite is not in it: its cheapest test takes 4.5 min here (a 553 MiB
 * hostapp staged and loaded under TCG, a reboot, the commit), which the
 * CI's 25 min cannot hold; the full suites run with `dutlab run` (the main
 * job). `--next-hostapp` is still given: a foreign hostapp is inspected and
 * its version read before any slow work.
 */
export const CI_SUBSET =
  '^os/(os-release|partitions|uptime|zram|udev leaves|overlayfs|the kernel reports|the engine health check|in development mode the engine|the host OS and a container|chronyd runs|a burst of connections|config\\.json.s os\\.udevRules|fsck checks|removing remove_me_to_reset)';

/** The README's suite of one's own, loaded from a folder outside the project. */
const OWN_SUITE = '^my-product/';

async function latestRun(reports: string): Promise<string> {
  const runs = (await readdir(reports)).filter((d) => d !== 'latest').sort();
  return path.join(reports, runs.at(-1) ?? '');
}

test.serial('dutlab run on the virtual board, a foreign image and hostapp: the suites pass through the physical drivers, reports are complete, a second run on the leased board is refused', async (t) => {
  const reports = await mkdtemp(path.join(tmpdir(), 'dutlab-reports-'));
  t.teardown(() => keepIfFailed(t, reports));
  // Copies under other names: the versions must come from the files themselves; the block map goes along, as a vendor ships it.
  const built = await buildImages({ versions: ['1.0.0'], hostapps: ['1.0.1'] });
  const foreign = await mkdtemp(path.join(tmpdir(), 'dutlab-foreign-'));
  const image = path.join(foreign, 'some-os.img');
  const hostapp = path.join(foreign, 'next-os.tar');
  await execa('cp', ['--sparse=always', built.versions[0]?.image.path ?? '', image]);
  await execa('cp', [built.versions[0]?.bmap.path ?? '', path.join(foreign, 'some-os.bmap')]);
  await execa('cp', [built.hostapps[0]?.hostapp.path ?? '', hostapp]);
  t.teardown(() => rm(foreign, { recursive: true, force: true }));
  const ownSuite = await writeReadmeSuite();
  t.teardown(() => rm(path.dirname(ownSuite), { recursive: true, force: true }));
  const args = ['run', '--board', 'boards/virtual-x86_64.yaml', '--image', image, '--next-hostapp', hostapp, '--suite', `os,hup,${ownSuite}`, '--grep', `${CI_SUBSET}|${OWN_SUITE}`];
  const first = execa('node', [dutlab, ...args, '--reports', reports], { reject: false, timeout: 40 * 60_000, buffer: { stdout: true, stderr: true } });
  // Should an assertion below fail, the run must end before its files are removed (teardowns run last-registered first).
  t.teardown(async () => {
    first.kill('SIGINT');
    await first;
  });
  // Once the first run writes the card it holds the lease: a second run must not touch the board.
  await new Promise<void>((resolve, reject) => {
    let err = '';
    first.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (/\] writing-medium/.test(err)) resolve();
    });
    void first.then(() => reject(new Error(`the first run ended before writing the medium:\n${err.slice(-2000)}`)));
  });
  const second = await execa('node', [dutlab, ...args, '--reports', await mkdtemp(path.join(tmpdir(), 'dutlab-reports-'))], { reject: false, timeout: 60_000 });
  t.is(second.exitCode, 2, second.stderr);
  t.regex(second.stderr, new RegExp(`board virtual-x86_64 is leased by pid ${first.pid} on host \\S+ since \\S+ \\(run \\S+\\)`));

  const result = await first;
  const dir = await latestRun(reports);
  t.log(result.stdout.split('\n').filter((l) => /^\s*(not )?ok /.test(l)).join('\n'));
  t.is(result.exitCode, 0, `${result.stdout.slice(-3000)}\n${result.stderr.slice(-3000)}`);
  t.regex(result.stdout, /^TAP version 13$/m);
  t.regex(result.stdout, /# Subtest: os/);
  t.regex(result.stdout, /# Subtest: my-product/);

  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8'));
  t.is(summary.counts.failed, 0);
  t.is(summary.counts.errors, 0);
  t.is(summary.counts.passed, 17);
  t.is(summary.imageVersion, '1.0.0', 'read from the image itself');
  t.regex(summary.accel, /^(kvm|tcg)$/);
  t.like(summary.boardDescription, { kind: 'virtual', drivers: { console: 'serial', power: 'lcus', storage: 'usbsdmux', network: 'static' } });
  t.deepEqual(summary.features, ['hard-reset', 'host-network', 'hup', 'serial', 'ssh']);
  const states = summary.timeline.map((e: { state: string }) => e.state);
  t.deepEqual(states.slice(0, 7), ['idle', 'preparing', 'writing-medium', 'provisioning', 'powering-on', 'booting', 'ready']);
  // fsck and the factory reset share one reboot.
  t.is(states.filter((state: string) => state === 'rebooting').length, 1, states.join(' '));
  for (const file of ['results.tap', 'junit.xml', 'summary.json', 'serial.log']) t.true(existsSync(path.join(dir, file)), file);
  t.regex(await readFile(path.join(dir, 'serial.log'), 'utf8'), /balenaOS \d/);
  const [dutDir] = await readdir(path.join(dir, 'dut'));
  const transcript = await readFile(path.join(dir, 'dut', dutDir ?? '', 'console.jsonl'), 'utf8');
  t.regex(transcript, /medium \S+ written: bmap: \d+ MiB of \d+ MiB .*verified/);
  if (haveXsd) {
    const validation = xmllint(path.join(dir, 'junit.xml'), junitXsd);
    t.true(validation.ok, validation.output);
  } else {
    t.log(`${junitXsd} is absent (as on a user's clone): schema validation skipped`);
  }
  const boards = JSON.parse((await execa('node', [dutlab, 'boards', '--json'])).stdout) as { name: string; state: string }[];
  t.is(boards.find((b) => b.name === 'virtual-x86_64')?.state, 'free', 'the lease is gone with the run');
});

/** A suite folder of one's own, without a package.json: it imports dutlab by its package name. */
async function writeSuite(folder: string, name: string, title: string, tests: string[]): Promise<string> {
  const suite = path.join(folder, name);
  await mkdir(suite);
  await writeFile(path.join(suite, 'suite.ts'), `import { defineSuite } from 'dutlab';\nexport default defineSuite({ title: ${JSON.stringify(title)} });\n`);
  await writeFile(path.join(suite, '10-tests.ts'), `import { defineTests } from 'dutlab';\nexport default defineTests(\n  ${tests.join(',\n  ')},\n);\n`);
  return suite;
}

/**
 * Starts `dutlab run`, waits until `ready(stdout, stderr)` holds, then sends
 * `signal`. Cold unless a golden cache is given: the moments most of these
 * tests interrupt at are a boot's, which a golden snapshot would skip.
 */
async function interruptWhen(args: string[], ready: (out: string, err: string) => boolean, signal: NodeJS.Signals, goldenDir?: string) {
  const reports = await mkdtemp(path.join(tmpdir(), 'dutlab-reports-'));
  // One DUT unless the test asks for more: --parallel auto would follow the host's cores.
  const parallel = args.includes('--parallel') ? [] : ['--parallel', '1'];
  const child = execa('node', [dutlab, 'run', ...(goldenDir ? [] : ['--cold']), ...parallel, ...args, '--reports', reports], {
    reject: false,
    buffer: { stdout: true, stderr: true },
    ...(goldenDir ? { env: { DUTLAB_GOLDEN_DIR: goldenDir } } : {}),
  });
  let out = '';
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (ready(out, err)) resolve();
    };
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      check();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      check();
    });
    void child.then(() => reject(new Error(`dutlab run ended before the moment to interrupt:\n${err.slice(-2000)}`)));
  });
  const sentAt = Date.now();
  child.kill(signal);
  const result = await child;
  const dir = await latestRun(reports);
  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8'));
  // The run's disk lives under its report folder, so its QEMU names that folder.
  const left = await execa('pgrep', ['-af', `qemu-system.*${dir}`], { reject: false });
  return { result, dir, summary, left: left.stdout.trim(), stoppedInMs: Date.now() - sentAt };
}

async function checkInterrupted(t: import('ava').ExecutionContext, run: Awaited<ReturnType<typeof interruptWhen>>, signal: string): Promise<void> {
  t.is(run.result.exitCode, 2, run.result.stderr.slice(-2000));
  t.true(run.summary.interrupted);
  t.is(run.summary.interruptedBy, signal);
  t.is(run.summary.exitCode, 2);
  t.true(run.summary.counts.errors >= 1, 'what did not finish is an error');
  t.regex(await readFile(path.join(run.dir, 'results.tap'), 'utf8'), new RegExp(`Bail out! run interrupted by ${signal}`));
  if (haveXsd) {
    const validation = xmllint(path.join(run.dir, 'junit.xml'), junitXsd);
    t.true(validation.ok, validation.output);
  }
  t.is(run.left, '', 'no QEMU of the interrupted run is left');
  t.log(`stopped ${run.stoppedInMs} ms after ${signal}`);
}

test.serial('SIGTERM while the DUT boots: exit 2, every test reported as not run, no QEMU', async (t) => {
  const run = await interruptWhen(['--suite', 'os'], (_, err) => /\] booting/.test(err), 'SIGTERM');
  await checkInterrupted(t, run, 'SIGTERM');
  t.is(run.summary.counts.errors, run.summary.counts.total);
  t.regex(JSON.stringify(run.summary), /not run: run interrupted by SIGTERM/);
});

test.serial('SIGINT during a teardown, with a second DUT running another suite (--parallel 2): exit 2, a passed test stays passed, the teardown is cut short and reported, the rest are errors, both suites reported, no QEMU', async (t) => {
  const folder = await mkdtemp(path.join(tmpdir(), 'dutlab-suite-'));
  const suite = await writeSuite(folder, 'slow-teardown', 'a teardown that takes long', [
    `{ title: 'passes', async run(t) { await t.sh('true'); } }`,
    `{ title: 'passes, then tears down slowly', async run(t) {
    await t.sh('true');
    t.teardown(async () => { t.log('teardown started'); await t.sh('sleep 120', { timeoutMs: 200_000 }); });
  } }`,
    `{ title: 'never runs', async run() {} }`,
  ]);
  // The other DUT's suite: one test done, one still running when the signal comes.
  const peer = await writeSuite(folder, 'peer', 'on the second DUT', [
    `{ title: 'passes on the second DUT', async run(t) { await t.sh('true'); } }`,
    `{ title: 'still running at the signal', async run(t) { t.log('peer sleeping'); await t.sh('sleep 300', { timeoutMs: 400_000 }); } }`,
  ]);
  const golden = await mkdtemp(path.join(tmpdir(), 'dutlab-golden-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  t.teardown(() => rm(golden, { recursive: true, force: true }));
  const run = await interruptWhen(['--suite', `${suite},${peer}`, '--parallel', '2'], (_, err) => /teardown started/.test(err) && /peer sleeping/.test(err), 'SIGINT', golden);
  await checkInterrupted(t, run, 'SIGINT');
  t.deepEqual(
    run.summary.suites.map((s: { tests: { title: string; status: string }[] }) => s.tests.map((x) => `${x.title}:${x.status}`)),
    [
      ['passes:pass', 'passes, then tears down slowly:error', 'never runs:error'],
      ['passes on the second DUT:pass', 'still running at the signal:error'],
    ],
  );
  t.regex(run.summary.suites[1].tests[1].message, /interrupted by SIGINT/);
  t.regex(run.result.stderr, /qemu-x86_64-2: restoring/, 'the second DUT resumed the state the first saved');
  const [passed, slow, never] = run.summary.suites[0].tests;
  t.like(passed, { status: 'pass' });
  t.like(slow, { status: 'error', cause: 'interrupted' });
  t.regex(slow.message, /^teardown: /);
  t.regex(never.message, /not run: run interrupted by SIGINT/);
  t.true(run.stoppedInMs < 60_000, 'the remote sleep was killed, not waited for');
});

test.serial('SIGINT during an image build: exit 2 at once, no build tool left running', async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'dutlab-build-'));
  const child = execa('node', [dutlab, 'image', 'build', '--force', '--out', out], { reject: false, buffer: { stderr: true } });
  await new Promise<void>((resolve) => {
    let err = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      if (/… root filesystem/.test(err)) setTimeout(resolve, 3000);
    });
    void child.then(() => resolve());
  });
  const sentAt = Date.now();
  child.kill('SIGINT');
  const result = await child;
  t.is(result.exitCode, 2, String(result.stderr).slice(-2000));
  t.regex(String(result.stderr), /interrupted by SIGINT/);
  t.true(Date.now() - sentAt < 30_000);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const left = await execa('pgrep', ['-af', out], { reject: false });
  t.is(left.stdout.trim(), '', `nothing of the build in ${out} is left running`);
  await rm(out, { recursive: true, force: true });
});
