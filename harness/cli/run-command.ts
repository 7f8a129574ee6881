import { mkdir, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { loadBoard, type Board } from '../boards/index.ts';
import { createDut } from '../dut/create.ts';
import { ConfigError } from '../errors.ts';
import { resolveAccel } from '../qemu/index.ts';
import { registerCleanup, setSignalExitCode, shutdownSignal } from '../proc/cleanup.ts';
import { Reporter } from '../report/index.ts';
import { loadSuite } from '../runner/discover.ts';
import { loadRunConfig, toRegExp, type RunConfig } from '../runner/run-config.ts';
import { writeSerialLog } from '../runner/artifacts.ts';
import { runSuites } from '../runner/run.ts';
import type { Feature, RunImages } from '../runner/types.ts';
import { buildImages, DEFAULT_NEXT_VERSION, DEFAULT_VERSION } from '../../images/build.ts';
import { progressPrinter } from '../../images/builder/steps.ts';
import { bootTimeoutMs, parseCommandArgs, timelinePrinter } from './dut-session.ts';

/**
 * `dutlab run`: boot the image on the board, run the suites, write TAP (live
 * on stdout), JUnit, a JSON summary and the serial log under --reports.
 * Exit 0 all passed, 1 test failures, 2 infrastructure errors, bad input or
 * an interrupted run. Reports are complete even when the run is interrupted.
 */
export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('run', argv, {
    board: { type: 'string', default: 'qemu-x86_64' },
    image: { type: 'string' },
    'next-hostapp': { type: 'string' },
    'current-hostapp': { type: 'string' },
    suite: { type: 'string' },
    reports: { type: 'string', default: 'reports' },
    grep: { type: 'string' },
    bail: { type: 'boolean' },
    config: { type: 'string' },
    'boot-timeout': { type: 'string', default: '360' },
  });
  const bootTimeout = bootTimeoutMs(values['boot-timeout']);
  const config: RunConfig = values.config ? await loadRunConfig(values.config) : {};
  const suiteNames = (values.suite ?? config.suites?.join(',') ?? 'os,hup').split(',').filter(Boolean);
  const suites = await Promise.all(suiteNames.map((name) => loadSuite(name)));
  const grep = values.grep ?? config.grep;
  const board = await loadBoard(values.board);
  const images = await resolveImages(values.image, values['next-hostapp'], values['current-hostapp']);

  const runId = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  const reportsDir = path.resolve(values.reports, runId);
  await mkdir(reportsDir, { recursive: true });
  await pointLatest(path.resolve(values.reports), runId);

  const media = [images.nextHostapp, images.currentHostapp, images.busybox].filter((f): f is string => !!f);
  const dut = await createDut({ board, image: images.image, media, bootTimeoutMs: bootTimeout, root: path.join(reportsDir, 'dut') });
  dut.timeline.subscribe(timelinePrinter(Date.now()));
  const reporter = new Reporter({ reportsDir });
  const started = Date.now();
  // Decided before boot (the probe's verdict is cached) so the report's header can name it.
  const accel = board.kind === 'qemu' ? (await resolveAccel(board.qemu.accel, {})).accel : undefined;
  reporter.start({
    board: board.name,
    deviceType: board.deviceType,
    image: images.image,
    ...(images.version ? { imageVersion: images.version } : {}),
    ...(accel ? { accel } : {}),
    startedAt: started,
  });

  setSignalExitCode(2);
  const unregister = registerCleanup({
    name: 'dutlab run',
    graceful: async () => {
      reporter.end({ durationMs: Date.now() - started, timeline: [...dut.entries()], interrupted: shutdownSignal() ?? 'signal' });
      await writeSerialLog(dut, path.join(reportsDir, 'serial.log')).catch(() => undefined);
      await dut.close();
    },
    immediate: () => undefined,
  });
  try {
    await runSuites({
      suites,
      dut,
      images,
      features: featuresOf(board, images),
      reporter,
      reportsDir,
      ...(grep ? { grep: toRegExp(grep, '--grep') } : {}),
      ...(values.bail ?? config.bail ? { bail: true } : {}),
      knownFlaky: (config.knownFlaky ?? []).map((p, i) => toRegExp(p, `${values.config}: knownFlaky[${i}]`)),
      log: (message) => process.stderr.write(`${message}\n`),
    });
  } finally {
    await writeSerialLog(dut, path.join(reportsDir, 'serial.log')).catch(() => undefined);
    await dut.close();
  }
  unregister();
  setSignalExitCode(undefined);
  process.stderr.write(`reports: ${reportsDir}\n`);
  return reporter.end({ durationMs: Date.now() - started, timeline: [...dut.entries()] });
}

/** What the board and images offer; tests that need more are skipped with the reason. */
function featuresOf(board: Board, images: RunImages): Set<Feature> {
  const features = new Set<Feature>(['serial']);
  if (board.kind === 'qemu') {
    features.add('hard-reset');
    if (board.qemu.network === 'user') features.add('ssh');
  }
  if (images.nextHostapp) features.add('hup');
  return features;
}

/**
 * The reference image and its hostapps (built if missing) unless --image
 * names another OS; then hostapps come from --next-hostapp/--current-hostapp
 * or update tests are skipped. The busybox container image is always ours.
 */
async function resolveImages(image?: string, nextHostapp?: string, currentHostapp?: string): Promise<RunImages> {
  const built = await buildImages({ versions: image ? [DEFAULT_VERSION] : [DEFAULT_VERSION, DEFAULT_NEXT_VERSION], onStep: progressPrinter() });
  if (image) {
    return { image, busybox: built.busybox.path, ...(nextHostapp ? { nextHostapp } : {}), ...(currentHostapp ? { currentHostapp } : {}) };
  }
  const [current, next] = built.versions;
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
