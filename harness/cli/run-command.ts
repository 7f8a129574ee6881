import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { loadBoard } from '../boards/index.ts';
import { boardCopies, copiesHostCanRun } from '../dut/binders.ts';
import { createDut } from '../dut/create.ts';
import { GoldenCache } from '../dut/golden-cache.ts';
import type { Dut } from '../dut/dut.ts';
import { ConfigError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { Reporter, SuiteSequencer, type RunEnd } from '../report/index.ts';
import { loadSuite } from '../runner/discover.ts';
import { ISOLATIONS } from '../runner/isolation.ts';
import { REBOOT_MODES } from '../runner/shared-reboot.ts';
import { loadRunConfig, toRegExp, type RunConfig } from '../runner/run-config.ts';
import { writeSerialLog } from '../runner/artifacts.ts';
import { runSuitesOn } from '../runner/run.ts';
import type { Feature, RunImages } from '../runner/types.ts';
import { buildBusybox, buildImages, DEFAULT_NEXT_VERSION, DEFAULT_OUT_DIR, DEFAULT_VERSION } from '../../images/build.ts';
import { progressPrinter } from '../../images/builder/steps.ts';
import { inspectHostapp } from '../../images/inspect/hostapp.ts';
import { inspectOsImage } from '../../images/inspect/os-image.ts';
import { defineCommand } from './command.ts';
import { accelOption, bootTimeoutMs, dutFlags, flashProgressPrinter, loginOption, runId as newRunId, timelinePrinter } from './dut-session.ts';
import { interruptedBy } from './signals.ts';
import { takeBoard, waitMs } from './take-board.ts';
import { writeProgressPrinter } from '../storage/progress.ts';

/**
 * `dutlab run`: boot the image on the board, run the suites, write TAP (live
 * on stdout), JUnit, a JSON summary and the serial log under --reports.
 * Exit 0 all passed, 1 test failures, 2 infrastructure errors, bad input or
 * an interrupted run.
 *
 * Order matters: every input is checked first (flags, run config, suites,
 * board, image, hostapps: seconds, no QEMU), then the reports are opened,
 * and only then does slow work start (image build, boot), so that an
 * interruption at any moment still ends in complete reports.
 */
export const runCommand = defineCommand({
  name: 'run',
  summary: 'Boot the image on the board, run the suites, and write TAP (live on stdout), JUnit, summary.json and the serial log.',
  details: `Reports go to DIR/<run id>/ (DIR/latest points at the newest). Every input is checked before any
slow work. Exit 0: all passed; 1: a test failed; 2: an error (harness, board, bad input) or an
interrupted run.`,
  flags: {
    board: dutFlags.board,
    image: dutFlags.image,
    suite: {
      type: 'string',
      value: 'NAME|PATH,...',
      help: 'suites to run: a name from suites/ or the path of a suite folder anywhere (default os,hup)',
    },
    grep: { type: 'string', value: 'RE', help: 'run only the tests whose "suite/title" matches' },
    bail: { type: 'boolean', help: 'stop at the first test that does not pass' },
    reports: { type: 'string', default: 'reports', value: 'DIR', help: 'where the run reports go' },
    config: { type: 'string', value: 'FILE', help: 'a run.yaml: suites, grep, bail, knownFlaky, isolate, reboots' },
    'next-hostapp': { type: 'string', value: 'TAR', help: 'the hostapp of the OS version to update to (with --image)' },
    'current-hostapp': { type: 'string', value: 'TAR', help: 'the hostapp of the booted version (with --image)' },
    'boot-timeout': dutFlags['boot-timeout'],
    accel: dutFlags.accel,
    wait: dutFlags.wait,
    login: dutFlags.login,
    cold: dutFlags.cold,
    isolate: {
      type: 'string',
      value: 'test|suite|none',
      help: 'rewind the DUT to its golden snapshot before each test, each suite (default) or never; tests that reboot still reboot for real',
    },
    reboots: {
      type: 'string',
      value: 'shared|each',
      help: 'tests written as before and after a reboot share one reboot per suite (default), or each reboots alone',
    },
    parallel: {
      type: 'string',
      default: 'auto',
      value: 'N|auto',
      help: 'N DUTs at once (copies of a QEMU board), each taking the next suite (with --isolate test, the next test of a suite without a setup); the first boots, the others resume its golden snapshot. auto: one per board.cpus cores the host has, as memory allows (1 for a physical board)',
    },
  },
  examples: ['dutlab run --suite os --grep engine', 'dutlab run --board lab-rpi4 --image balena.img --next-hostapp next.tar --reports /srv/reports'],
  run: ({ values }, shutdown) => run(values, shutdown),
});

interface RunFlags {
  board: string;
  image?: string | undefined;
  suite?: string | undefined;
  grep?: string | undefined;
  bail?: boolean | undefined;
  reports: string;
  config?: string | undefined;
  'next-hostapp'?: string | undefined;
  'current-hostapp'?: string | undefined;
  'boot-timeout': string;
  accel?: string | undefined;
  wait?: string | undefined;
  login: string;
  cold: boolean;
  isolate?: string | undefined;
  reboots?: string | undefined;
  parallel: string;
}

async function run(values: RunFlags, shutdown: AbortSignal): Promise<number> {
  const bootTimeout = bootTimeoutMs(values['boot-timeout']);
  const accelOverride = accelOption(values.accel);
  const wait = waitMs(values.wait);
  const config: RunConfig = values.config ? await loadRunConfig(values.config) : {};
  const suiteNames = (values.suite ?? config.suites?.join(',') ?? 'os,hup').split(',').filter(Boolean);
  const suites = await Promise.all(suiteNames.map((name) => loadSuite(name)));
  const grep = values.grep ?? config.grep;
  const grepPattern = grep ? toRegExp(grep, '--grep') : undefined;
  const knownFlaky = (config.knownFlaky ?? []).map((p, i) => toRegExp(p, `${values.config}: knownFlaky[${i}]`));
  const parallel = parallelOption(values.parallel);
  const isolate = oneOf(ISOLATIONS, values.isolate ?? config.isolate ?? 'suite', values.isolate !== undefined ? '--isolate' : `${values.config}: isolate`);
  const reboots = oneOf(REBOOT_MODES, values.reboots ?? config.reboots ?? 'shared', values.reboots !== undefined ? '--reboots' : `${values.config}: reboots`);
  const loaded = await loadBoard(values.board);
  const given = await checkImages(values.image, values['next-hostapp'], values['current-hostapp']);
  const login = loginOption(values.login, given?.developmentMode);
  const runId = newRunId();
  // Last of the checks: a leased board is waited for (or refused) before any report exists.
  const taken = await takeBoard(loaded, {
    ...(accelOverride ? { accel: accelOverride } : {}),
    runId,
    waitMs: wait,
    signal: shutdown,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const { board } = taken;
  const boards = boardCopies(board, parallel ?? Math.min(MAX_PARALLEL, copiesHostCanRun(board)));

  const reportsDir = path.resolve(values.reports, runId);
  await mkdir(reportsDir, { recursive: true });
  await pointLatest(path.resolve(values.reports), runId);
  const reporter = new Reporter({ reportsDir });
  const started = Date.now();
  reporter.start({
    board: board.name,
    deviceType: board.deviceType,
    image: given?.image ?? path.join(DEFAULT_OUT_DIR, `refos-${DEFAULT_VERSION}.img`),
    ...(given?.version ? { imageVersion: given.version } : {}),
    ...taken.facts,
    startedAt: started,
  });

  const duts: Dut[] = [];
  const sequencer = new SuiteSequencer(reporter);
  let features: Set<Feature> | undefined;
  let crash: unknown;
  try {
    const images = await untilAborted(given ? withBusybox(given) : referenceImages(), shutdown);
    const media = [images.nextHostapp, images.currentHostapp, images.busybox].filter((f): f is string => !!f);
    for (const copy of boards) {
      duts.push(
        await createDut({
          board: copy,
          image: images.image,
          media,
          bootTimeoutMs: bootTimeout,
          login,
          ...(given?.installer ? { installer: true, onFlashProgress: flashProgressPrinter() } : {}),
          root: path.join(reportsDir, 'dut'),
          ...(accelOverride ? { accel: accelOverride } : {}),
          ...(values.cold ? {} : { golden: new GoldenCache() }),
          onWriteProgress: writeProgressPrinter(),
        }),
      );
    }
    const clock = Date.now();
    for (const dut of duts) dut.timeline.subscribe(timelinePrinter(clock, duts.length > 1 ? dut.name : undefined));
    // Copies of one board: what one can do, all can.
    features = featuresOf(duts[0] as Dut, images);
    await runSuitesOn({
      suites,
      duts,
      images,
      features,
      reporter: sequencer,
      reportsDir,
      ...(grepPattern ? { grep: grepPattern } : {}),
      ...((values.bail ?? config.bail) ? { bail: true } : {}),
      knownFlaky,
      isolate,
      reboots,
      signal: shutdown,
      log: (message) => process.stderr.write(`${message}\n`),
    });
  } catch (error) {
    // Interrupted before the suites ran (image build, DUT set-up): the reports say so below.
    if (!shutdown.aborted) crash = error;
  }
  for (const dut of duts) await writeSerialLog(dut, path.join(reportsDir, duts.length > 1 ? `serial-${dut.name}.log` : 'serial.log')).catch(() => undefined);
  // The reports are final before the DUT is torn down: a signal during teardown changes nothing in them.
  const interrupted = interruptedBy(shutdown);
  sequencer.finish(interrupted);
  const [first] = duts;
  const exitCode = reporter.end({
    durationMs: Date.now() - started,
    timeline: mergedTimeline(duts),
    ...(interrupted ? { interrupted } : {}),
    ...(first ? { boardDescription: duts.length > 1 ? { ...first.board.describe(), parallel: duts.map((dut) => dut.board.describe()) } : first.board.describe(), ...(features ? { features: [...features].sort() } : {}) } : {}),
  });
  try {
    await Promise.all(duts.map((dut) => dut.close()));
  } finally {
    await taken.release(first);
  }
  process.stderr.write(`reports: ${reportsDir}\n`);
  if (crash) throw crash;
  return exitCode;
}

/**
 * What the bound board and the images offer; tests that need more are
 * skipped with the reason. Every board has power to cut, so a hard reset
 * (a reset line, or a power cycle where there is none); a console shell only
 * when the DUT is logged in to there.
 */
function featuresOf(dut: Dut, images: RunImages): Set<Feature> {
  const features = new Set<Feature>(['hard-reset']);
  if (dut.login === 'console') features.add('serial');
  if (dut.board.network) features.add('ssh');
  if (images.nextHostapp) features.add('hup');
  if (dut.board.network?.hostAddress) features.add('host-network');
  return features;
}

/**
 * --image and the hostapps, checked and read before any work: a missing,
 * truncated or foreign file is refused naming it, and the versions come from
 * the files themselves (os-release inside them), so the hup suite knows
 * which update is which on an image dutlab did not build.
 */
async function checkImages(image?: string, nextHostapp?: string, currentHostapp?: string): Promise<(RunImages & { developmentMode?: boolean; installer?: boolean }) | undefined> {
  if (!image) {
    if (nextHostapp || currentHostapp) throw new ConfigError(nextHostapp ? '--next-hostapp' : '--current-hostapp', 'needs --image: the reference image brings its own hostapps');
    return undefined;
  }
  const [os, next, current] = await Promise.all([
    inspectOsImage(image, '--image'),
    nextHostapp ? inspectHostapp(nextHostapp, '--next-hostapp') : undefined,
    currentHostapp ? inspectHostapp(currentHostapp, '--current-hostapp') : undefined,
  ]);
  return {
    image: os.path,
    ...(os.version ? { version: os.version } : {}),
    ...(next ? { nextHostapp: next.path, ...(next.version ? { nextVersion: next.version } : {}) } : {}),
    ...(current ? { currentHostapp: current.path } : {}),
    ...(os.developmentMode !== undefined ? { developmentMode: os.developmentMode } : {}),
    ...(os.installer ? { installer: true } : {}),
  };
}

/** A foreign image needs only the busybox container image of ours, not the reference OS. */
async function withBusybox(images: RunImages): Promise<RunImages> {
  const busybox = await buildBusybox({ onStep: progressPrinter() });
  return { ...images, busybox: busybox.path };
}

/** The reference image and its hostapps, built if missing. */
async function referenceImages(): Promise<RunImages> {
  // The next version is only an update to stage: its hostapp, no disk image.
  const built = await buildImages({ versions: [DEFAULT_VERSION], hostapps: [DEFAULT_NEXT_VERSION], onStep: progressPrinter() });
  const [current] = built.versions;
  const [next] = built.hostapps;
  if (!current || !next) throw new ConfigError('dutlab run', 'the reference images were not built');
  return {
    image: current.image.path,
    version: current.version,
    currentHostapp: current.hostapp.path,
    nextHostapp: next.hostapp.path,
    nextVersion: next.version,
    busybox: built.busybox.path,
  };
}

async function pointLatest(reports: string, runId: string): Promise<void> {
  const latest = path.join(reports, 'latest');
  await rm(latest, { force: true });
  await symlink(runId, latest);
}

function oneOf<T extends string>(allowed: readonly T[], value: string, where: string): T {
  if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(where, `must be one of ${allowed.join(', ')} (got "${value}")`);
  return value as T;
}

/** Up to the cores and memory of a host that runs QEMU guests of 1 GiB under TCG: more only queue for the same cores. */
const MAX_PARALLEL = 8;

/** A count, or undefined for `auto` (decided once the board is known). */
function parallelOption(value: string): number | undefined {
  if (value === 'auto') return undefined;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > MAX_PARALLEL) throw new ConfigError('--parallel', `must be auto or a whole number from 1 to ${MAX_PARALLEL} (got "${value}")`);
  return count;
}

/** Every DUT's lifecycle in one timeline, in time order; with several DUTs each entry names its DUT. */
function mergedTimeline(duts: readonly Dut[]): RunEnd['timeline'] {
  if (duts.length === 1) return [...(duts[0]?.entries() ?? [])];
  return duts
    .flatMap((dut) => dut.entries().map((entry) => ({ ...entry, detail: entry.detail ? `${dut.name}: ${entry.detail}` : dut.name })))
    .sort((a, b) => a.at - b.at);
}
