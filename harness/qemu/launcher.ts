/**
 * Start one QEMU virtual board and hand back a handle: serial pty, raw serial
 * log, forwarded ssh port, QMP client, the accelerator actually used, an
 * `exited` promise, and a bounded `stop()`.
 *
 * QEMU is always started with -S (CPUs stopped) so that QMP — and therefore
 * the event listener — is attached before the guest executes anything; unless
 * the caller asks for `paused`, we `cont` before returning. With `paused` the
 * caller can open the pty first and then `qmp.cont()`, missing no byte on the
 * pty (serial.log has every byte regardless).
 *
 * Teardown: see harness/proc/supervise.ts (process group, PR_SET_PDEATHSIG,
 * clean-up registry) and reaper.ts (stale runs of dead harnesses).
 */
import { rm, stat } from 'node:fs/promises';
import type { QemuBoard, QemuSettings } from '../boards/types.ts';
import { DutError } from '../errors.ts';
import { settlesWithin, spawnSupervised, type ExitInfo, type Supervised } from '../proc/supervise.ts';
import { buildQemuArgs, type ExtraDrive } from './args.ts';
import { createOverlay, createVarsCopy } from './disks.ts';
import { findUefiFirmware, type UefiFirmware } from './firmware.ts';
import { resolveAccel, type AccelDecision, type CachedProbeOptions } from './kvm-probe.ts';
import { freePort } from './ports.ts';
import { QmpClient, type QmpEvent } from './qmp.ts';
import { reapStaleRuns } from './reaper.ts';
import { createRunDir, defaultRunsRoot, type RunPaths } from './run-dir.ts';

export interface LaunchOptions {
  qemu: QemuSettings;
  /** Name used in errors and in QEMU's -name. Default "qemu". */
  dut?: string;
  /** Disk image to boot; never written (a qcow2 overlay takes the writes). */
  image?: string;
  imageFormat?: 'raw' | 'qcow2';
  /**
   * Instead of `image`: a qcow2 disk the guest writes to directly, made by a
   * storage driver. It outlives this QEMU process, so a power cycle (a new
   * launch) keeps what the guest wrote, as a real disk does.
   */
  disk?: string;
  /** Format of `disk`: qcow2 (default), or raw (an emulated board's SD card, written by its flasher). */
  diskFormat?: 'qcow2' | 'raw';
  /** Additional disks, e.g. a hostapp tarball as a raw virtio disk. */
  extraDrives?: readonly ExtraDrive[];
  /**
   * UEFI: the variable store (boot entries) as a file that outlives this QEMU
   * process, made from the template when missing, as a board's NVRAM keeps
   * what its OS wrote across power cycles. Default: a fresh copy per launch.
   */
  firmwareVars?: string;
  /** No bootindex on any disk: the firmware's own boot entries decide (an installer adds one). */
  firmwareBootOrder?: boolean;
  /** Use exactly this run directory... */
  runDir?: string;
  /** ...or create `<runsRoot>/<id>` (default `.dutlab/runs`), which is also what the reaper scans. */
  runsRoot?: string;
  /** Leave the guest CPUs stopped; call `qmp.cont()` when ready. */
  paused?: boolean;
  /** Host port for ssh forwarding; default: a free port, retried on a clash. */
  sshPort?: number;
  /** Default: OVMF found in the usual distribution paths. */
  firmware?: UefiFirmware;
  qemuBinary?: string;
  /** A decision made earlier (skips the KVM probe). */
  accel?: AccelDecision;
  probe?: CachedProbeOptions;
  /** Budget for QEMU to come up and answer QMP. Default 15 s. */
  startTimeoutMs?: number;
  /** Kill leftovers of dead harnesses under runsRoot first. Default true. */
  reap?: boolean;
  /**
   * Have the kernel kill QEMU when this process dies (PR_SET_PDEATHSIG via
   * setpriv). Default true; false only to test the reaper or to debug a VM
   * that should outlive the harness.
   */
  parentDeath?: boolean;
  /** Resume from this internal snapshot (savevm) that every writable disk holds, instead of booting. */
  loadvm?: string;
  extraArgs?: readonly string[];
}

export interface QemuExit extends ExitInfo {
  /**
   * stopped: by stop(); guest-shutdown: the guest powered off; reset: the
   * guest or a QMP system_reset reset the machine (with -no-reboot, QEMU
   * exits: the owner starts it again); crashed: anything else.
   */
  reason: 'stopped' | 'guest-shutdown' | 'reset' | 'crashed';
  /** Set when the exit was not asked for (reason crashed). */
  error?: DutError;
  stderrTail: string;
}

export interface QemuInstance {
  readonly dut: string;
  readonly run: RunPaths;
  readonly pid: number;
  /** /dev/pts/N of the guest's first serial port. */
  readonly pty: string;
  readonly serialLog: string;
  /** Host port forwarded to the guest's sshd; undefined with network none. */
  readonly sshPort: number | undefined;
  readonly qmp: QmpClient;
  readonly accel: AccelDecision;
  /** Whether the kernel kills QEMU if the harness dies (PR_SET_PDEATHSIG). */
  readonly parentDeathSignal: boolean;
  readonly argv: readonly string[];
  /** Resolves once QEMU has exited; `error` is set if nobody asked it to. */
  readonly exited: Promise<QemuExit>;
  /**
   * QMP quit, then SIGTERM, then SIGKILL to the process group, each bounded.
   * Idempotent; resolves with the exit.
   */
  stop(options?: { graceMs?: number }): Promise<QemuExit>;
  stderrTail(lines?: number): string;
}

/** Launch a board's VM; `options.qemu` defaults to the board's settings. */
export function launchBoard(board: QemuBoard, options: Omit<LaunchOptions, 'qemu'> & { qemu?: QemuSettings } = {}): Promise<QemuInstance> {
  return launchQemu({ dut: board.name, ...options, qemu: options.qemu ?? board.qemu });
}

/** SHUTDOWN reasons that are a reset turned into an exit by -no-reboot. */
const RESETS = new Set(['guest-reset', 'host-qmp-system-reset']);

const PORT_CLASH = /host forwarding rule|Could not set up host forwarding/i;

export async function launchQemu(options: LaunchOptions): Promise<QemuInstance> {
  const dut = options.dut ?? 'qemu';
  const qemuBinary = options.qemuBinary ?? 'qemu-system-x86_64';
  const runsRoot = options.runsRoot ?? defaultRunsRoot();
  if (options.reap ?? true) await reapStaleRuns(runsRoot);

  const accel = options.accel ?? (await resolveAccel(options.qemu.accel, { qemuBinary, ...options.probe }));
  const run = await createRunDir({ dir: options.runDir, root: runsRoot });
  if (options.image) await createOverlay(options.image, options.imageFormat ?? 'raw', run.overlay);
  let firmware: UefiFirmware | undefined;
  if (options.qemu.firmware === 'uefi') {
    firmware = options.firmware ?? findUefiFirmware();
    const kept = options.firmwareVars && (await stat(options.firmwareVars).then(() => true, () => false));
    if (!kept) await createVarsCopy(firmware.varsTemplate, options.firmwareVars ?? run.vars);
  }

  const attempts = options.sshPort === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    const sshPort = options.qemu.network === 'user' ? (options.sshPort ?? (await freePort())) : undefined;
    const argv = buildQemuArgs({
      settings: options.qemu,
      accel: accel.accel,
      overlay: options.image ? run.overlay : options.disk,
      ...(!options.image && options.diskFormat ? { overlayFormat: options.diskFormat } : {}),
      firmwareCode: firmware?.code,
      firmwareVars: firmware ? (options.firmwareVars ?? run.vars) : undefined,
      extraDrives: options.extraDrives,
      ...(options.firmwareBootOrder ? { firmwareBootOrder: true } : {}),
      serialLog: run.serialLog,
      qmpSocket: run.qmpSocket,
      pidfile: run.pidfile,
      sshHostPort: sshPort,
      startPaused: true,
      name: `dutlab-${dut}-${run.id}`,
      ...(options.loadvm ? { loadvm: options.loadvm } : {}),
      extraArgs: options.extraArgs,
    });
    try {
      return await start({ options, dut, qemuBinary, run, argv, accel, sshPort });
    } catch (error) {
      const clash = error instanceof DutError && PORT_CLASH.test(error.excerpt ?? '');
      if (!clash || attempt >= attempts) throw error;
    }
  }
}

interface StartContext {
  options: LaunchOptions;
  dut: string;
  qemuBinary: string;
  run: RunPaths;
  argv: string[];
  accel: AccelDecision;
  sshPort: number | undefined;
}

function describeExit(info: ExitInfo): string {
  return info.code === null ? `signal ${info.signal ?? '?'}` : `code ${info.code}`;
}

async function start(ctx: StartContext): Promise<QemuInstance> {
  const { options, dut, run, argv } = ctx;
  await rm(run.pidfile, { force: true });
  await rm(run.qmpSocket, { force: true });

  // stop() is defined once QMP is up; until then the registry SIGKILLs the group.
  const hooks: { stop?: () => Promise<unknown> } = {};
  const child: Supervised = spawnSupervised(ctx.qemuBinary, argv, {
    name: `qemu ${dut} (${run.id})`,
    outputLog: run.qemuLog,
    parentDeath: options.parentDeath ?? true,
    graceful: () => hooks.stop?.() ?? Promise.resolve(),
  });

  let qmp: QmpClient;
  let pty: string;
  try {
    const exitedEarly = new AbortController();
    void child.exited.then(() => exitedEarly.abort());
    qmp = await QmpClient.connect(run.qmpSocket, {
      timeoutMs: options.startTimeoutMs ?? 15_000,
      signal: exitedEarly.signal,
    });
    const chardevs = await qmp.execute<{ label: string; filename: string }[]>('query-chardev');
    const serial = chardevs.find((c) => c.label === 'serial0');
    if (!serial?.filename.startsWith('pty:')) {
      throw new DutError('process', `QEMU did not report a pty for serial0 (got ${serial?.filename ?? 'nothing'})`);
    }
    pty = serial.filename.slice('pty:'.length);
  } catch (error) {
    await child.terminate({ termMs: 500, killMs: 3_000 }).catch(() => undefined);
    const info = child.exitInfo();
    const tail = child.outputTail(20);
    const what = info ? `QEMU exited during start-up (${describeExit(info)})` : 'QEMU did not come up';
    throw new DutError('process', `${what}: ${(error as Error).message}${tail ? `\n${tail}` : ''}`, {
      dut,
      step: 'qemu start',
      excerpt: tail,
      cause: error,
    });
  }

  let stopping = false;
  let shutdown: QmpEvent | undefined;
  qmp.on('SHUTDOWN', (event) => {
    shutdown = event;
  });

  const exited: Promise<QemuExit> = child.exited.then(async (info) => {
    qmp.close();
    if (!run.qmpSocket.startsWith(run.dir)) await rm(run.qmpSocket, { force: true });
    const stderrTail = child.outputTail(20);
    if (stopping) return { ...info, reason: 'stopped', stderrTail };
    if (info.code === 0 && RESETS.has(String(shutdown?.data.reason))) return { ...info, reason: 'reset', stderrTail };
    if (shutdown?.data.guest === true && info.code === 0) return { ...info, reason: 'guest-shutdown', stderrTail };
    const cause = shutdown ? ` after SHUTDOWN (${String(shutdown.data.reason)})` : '';
    const error = new DutError(
      'process',
      `QEMU exited unexpectedly (${describeExit(info)})${cause}${stderrTail ? `:\n${stderrTail}` : ''}`,
      { dut, step: 'qemu', excerpt: stderrTail },
    );
    return { ...info, reason: 'crashed', error, stderrTail };
  });

  let stopPromise: Promise<QemuExit> | undefined;
  const stop = (stopOptions: { graceMs?: number } = {}): Promise<QemuExit> => {
    stopPromise ??= (async () => {
      if (!child.exitInfo()) stopping = true;
      if (!child.exitInfo()) {
        await qmp.quit({ timeoutMs: 1_000 }).catch(() => undefined);
        if (!(await settlesWithin(child.exited, stopOptions.graceMs ?? 3_000))) {
          await child.terminate({ termMs: 2_000, killMs: 3_000 });
        }
      }
      return exited;
    })();
    return stopPromise;
  };
  hooks.stop = stop;

  const instance: QemuInstance = {
    dut,
    run,
    pid: child.pid,
    pty,
    serialLog: run.serialLog,
    sshPort: ctx.sshPort,
    qmp,
    accel: ctx.accel,
    parentDeathSignal: child.parentDeathSignal,
    argv: [ctx.qemuBinary, ...argv],
    exited,
    stop,
    stderrTail: (lines?: number) => child.outputTail(lines),
  };

  if (!options.paused) {
    try {
      await qmp.cont();
    } catch (error) {
      await stop().catch(() => undefined);
      throw error;
    }
  }
  return instance;
}
