import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SerialPort } from 'serialport';
import type { QemuBoard } from '../boards/types.ts';
import type { BoundBoard, Medium, PowerState, WriteOptions } from '../dut/drivers.ts';
import { DutError } from '../errors.ts';
import { findUefiFirmware, launchBoard, resolveAccel, type QemuInstance } from '../qemu/index.ts';
import { hostKey } from '../qemu/kvm-probe.ts';
import { forwardPort } from '../qemu/forward.ts';
import { freePort } from '../qemu/ports.ts';
import { copyDisk, createBlankDisk, createOverlay, snapshotNames } from '../qemu/disks.ts';
import { fileIdentity } from '../storage/file-identity.ts';
import { ConsoleBridge } from './console-bridge.ts';
import { closeSerialLine, openSerialLine } from './serial-line.ts';

export interface QemuBindingOptions {
  /** Per-DUT directory for the disk; QEMU runs go to the shared runs root, which the reaper scans. */
  dir: string;
  /** Files attached read-only as extra disks, found on the DUT by serial number (see mediaPath). */
  media?: readonly string[];
  /** Keep the disk after the run (to inspect a failure). */
  keepDisk?: boolean;
  /** Where the board says what QEMU did that the console cannot show. */
  note?: (text: string) => void;
}

/**
 * A QEMU board bound to the DUT driver interfaces. QEMU is both the power
 * and the console provider here (labgrid's QEMUDriver is too): power on
 * launches it paused, attaches the serial pty through `serialport` (the same
 * code path as a USB-serial adapter), then lets the CPUs run, so no byte of
 * the boot is missed. Storage is a qcow2 disk over the image that outlives
 * each QEMU process, so power cycles keep what the guest wrote. A reset,
 * whether the OS or QMP system_reset asks for it, ends the QEMU process and
 * starts a new one on the same disks and NVRAM: a cold start, as fast as the
 * first. It has what a relay board lacks: a reset line, a network (user-mode,
 * host ports forwarded to sshd and any port a test reaches) and read-only
 * media disks.
 */
export function bindQemuBoard(board: QemuBoard, options: QemuBindingOptions): BoundBoard {
  const disk = path.join(options.dir, 'disk.qcow2');
  // An installer image goes on a USB stick (leviathan's worker does the same); `disk` is then the internal disk it writes.
  const stick = path.join(options.dir, 'stick.qcow2');
  // The board's NVRAM: boot entries its OS adds survive power cycles.
  const vars = path.join(options.dir, 'efivars.qcow2');
  const bridge = new ConsoleBridge();
  let instance: QemuInstance | undefined;
  // The board's ports stay put for its life, across reboots and power cycles, as a farm board's address does.
  let sshPort: number | undefined;
  const forwards = new Map<number, number>();
  let line: SerialPort | undefined;
  let image: string | undefined;
  let withStick = false;
  // A machine reset (by its OS, or system_reset) ends its QEMU (-no-reboot, see args.ts) and is started again here.
  let restarting: Promise<void> | undefined;
  let restartFailure: unknown;
  // The next launch resumes from this saved state; any launch after it boots.
  let resume: string | undefined;

  async function launch(): Promise<void> {
    const media = (options.media ?? []).map((file, i) => ({ path: file, format: 'raw' as const, serial: mediaSerial(i) }));
    const started = await launchBoard(board, {
      dut: board.name,
      disk,
      firmwareVars: vars,
      paused: true,
      ...(sshPort !== undefined ? { sshPort } : {}),
      // The stick stays plugged in after the install, as on a desk; which disk boots is the firmware's
      // business then: the blank internal disk fails over to the stick, the installer's entry boots the OS.
      ...(withStick ? { firmwareBootOrder: true } : {}),
      extraDrives: withStick ? [{ path: stick, format: 'qcow2', bus: 'usb', readonly: false, serial: 'dutlab-installer' }, ...media] : media,
      ...(resume ? { loadvm: resume } : {}),
    });
    resume = undefined;
    instance = started;
    restartFailure = undefined;
    sshPort = started.sshPort;
    for (const [guest, host] of forwards) await forwardPort(started.qmp, host, guest, board.name);
    line = await openSerialLine(started.pty, 115200, board.name);
    bridge.attach(line);
    void started.exited.then((exit) => {
      if (instance !== started || exit.reason !== 'reset') return;
      options.note?.('QEMU: the machine reset; starting it again, cold, on the same disks');
      restarting = shutdown()
        .then(launch)
        .catch((error: unknown) => {
          restartFailure = error;
        })
        .finally(() => {
          restarting = undefined;
        });
    });
    await started.qmp.cont();
  }

  /** The running QEMU, once any restart after a reset is done; a failed restart is the caller's error. */
  async function running(): Promise<QemuInstance | undefined> {
    await restarting;
    if (restartFailure) throw restartFailure;
    return instance;
  }

  async function shutdown(): Promise<void> {
    const current = instance;
    instance = undefined;
    bridge.detach();
    if (line) await closeSerialLine(line);
    line = undefined;
    await current?.stop();
  }

  /** `savevm` or `loadvm` of the saved state with the guest paused, then `after` while still paused. */
  async function pausedState(verb: 'savevm' | 'loadvm', step: string, after: () => Promise<void>): Promise<void> {
    const current = await running();
    if (!current) throw new DutError('power', `QEMU is not running: no machine state to ${verb === 'savevm' ? 'save' : 'load'}`, { dut: board.name, step });
    await current.qmp.stop();
    try {
      // HMP answers an error as text, not as a QMP error.
      const said = (await current.qmp.hmp(`${verb} ${SAVED_STATE}`, { timeoutMs: 5 * 60_000 })).trim();
      if (said) throw new DutError('tool', `${verb} ${SAVED_STATE}: ${said}`, { dut: board.name, step });
      await after();
    } finally {
      await current.qmp.cont();
    }
  }

  async function waitOff(): Promise<void> {
    for (let current = await running(); current; current = await running()) {
      const exit = await current.exited;
      if (exit.reason === 'reset') continue;
      if (exit.reason !== 'guest-shutdown') throw exit.error ?? new DutError('process', `QEMU exited (${exit.reason}) instead of the guest powering off`, { dut: board.name, step: 'wait for power off' });
      await shutdown();
      return;
    }
  }

  return {
    name: board.name,
    deviceType: board.deviceType,
    power: {
      // Power switches wait for a restart in flight, and bring the board back even if that restart failed.
      on: async () => {
        await restarting;
        await launch();
      },
      off: async () => {
        await restarting;
        await shutdown();
      },
      async cycle() {
        await restarting;
        await shutdown();
        await launch();
      },
      state(): PowerState {
        return instance ? 'on' : 'off';
      },
      waitOff,
    },
    console: {
      open: async () => bridge,
      close: async () => {
        bridge.detach();
        bridge.destroy();
      },
    },
    reset: {
      async reset() {
        const current = await running();
        if (current) await current.qmp.reset();
        else await launch();
      },
    },
    storage: {
      // Writing the medium is making the run's overlay: the image itself is never written.
      async write(imagePath: string, writeOptions: WriteOptions = {}): Promise<Medium> {
        image = imagePath;
        withStick = writeOptions.installer === true;
        await mkdir(options.dir, { recursive: true });
        await Promise.all([disk, stick, vars].map((file) => rm(file, { force: true })));
        if (!withStick) {
          await createOverlay(imagePath, 'raw', disk);
          return { path: disk, format: 'qcow2' };
        }
        await createOverlay(imagePath, 'raw', stick);
        await createBlankDisk(disk, INTERNAL_DISK_BYTES);
        return { path: stick, format: 'qcow2', summary: `installer on a USB stick, a blank internal disk of ${INTERNAL_DISK_BYTES / 2 ** 30} GiB` };
      },
      handOver: async () => undefined,
      async release() {
        if (!options.keepDisk) await Promise.all([disk, stick, vars].map((file) => rm(file, { force: true })));
      },
    },
    ...(board.qemu.network === 'user'
      ? {
          network: {
            asksConsole: false,
            // QEMU user networking's gateway: the guest's packets to it leave from this host's loopback.
            hostAddress: '10.0.2.2',
            async reach(port: number) {
              const current = await running();
              if (!current?.sshPort) throw new DutError('ssh-unreachable', `QEMU is not running: no way to its port ${port}`, { dut: board.name, step: 'port forward' });
              if (port === board.qemu.sshGuestPort) return { host: '127.0.0.1', port: current.sshPort };
              let forwarded = forwards.get(port);
              if (forwarded === undefined) {
                forwarded = await freePort();
                await forwardPort(current.qmp, forwarded, port, board.name);
                forwards.set(port, forwarded);
              }
              return { host: '127.0.0.1', port: forwarded };
            },
            async endpoint() {
              const current = await running();
              if (current?.sshPort === undefined) throw new DutError('ssh-unreachable', 'QEMU is not running: no forwarded SSH port', { dut: board.name, step: 'ssh endpoint' });
              return { host: '127.0.0.1', port: current.sshPort };
            },
          },
        }
      : {}),
    snapshot: {
      async profile() {
        const firmware = board.qemu.firmware === 'uefi' ? findUefiFirmware().code : undefined;
        return {
          qemu: board.qemu,
          accel: (await resolveAccel(board.qemu.accel, {})).accel,
          emulator: (await hostKey()).qemu,
          ...(firmware ? { firmware: await fileIdentity(firmware) } : {}),
          media: await Promise.all((options.media ?? []).map(fileIdentity)),
        };
      },
      // Paused while it saves and its files are copied, so the copy is of one moment.
      async save(dir: string) {
        await pausedState('savevm', 'save state', async () => {
          await copyDisk(disk, path.join(dir, 'disk.qcow2'));
          await copyDisk(vars, path.join(dir, 'efivars.qcow2'));
        });
      },
      // loadvm on the running QEMU: the same process, pty and forwarded ports; the guest's own TCP sessions are from the saved moment.
      async rewind() {
        await pausedState('loadvm', 'rewind', async () => undefined);
      },
      async resumeFrom(dir: string, imagePath: string) {
        image = imagePath;
        withStick = false;
        await mkdir(options.dir, { recursive: true });
        await Promise.all([disk, stick, vars].map((file) => rm(file, { force: true })));
        for (const [from, to] of [['disk.qcow2', disk], ['efivars.qcow2', vars]] as const) {
          const source = path.join(dir, from);
          if (!(await snapshotNames(source)).includes(SAVED_STATE)) throw new DutError('config', `${source} holds no saved state ${SAVED_STATE}`, { dut: board.name, step: 'resume' });
          await copyDisk(source, to);
        }
        resume = SAVED_STATE;
        return { path: disk, format: 'qcow2', summary: `a copy of the state saved in ${dir}` };
      },
    },
    ...(board.qemu.diskBus === 'virtio'
      ? {
          media: {
            path(hostPath: string): string | undefined {
              const index = (options.media ?? []).indexOf(hostPath);
              return index < 0 ? undefined : `/dev/disk/by-id/virtio-${mediaSerial(index)}`;
            },
          },
        }
      : {}),
    describe() {
      return {
        kind: 'qemu',
        drivers: { power: 'qemu process', reset: 'QMP system_reset (QEMU started again cold)', console: 'QEMU serial pty (serialport)', storage: withStick ? 'qcow2 overlay on a USB stick, blank internal disk' : 'qcow2 overlay', network: board.qemu.network },
        image,
        accel: instance?.accel.accel,
        accelReason: instance?.accel.reason,
        runDir: instance?.run.dir,
      };
    },
    // `work`, unless QEMU exits first for anything but a reset: a reset is a reboot the work may be waiting for.
    async whileAlive<T>(work: Promise<T>): Promise<T> {
      const done = work.then(
        () => undefined,
        () => undefined,
      );
      for (let current = await running(); current; current = await running()) {
        const exit = await Promise.race([done, current.exited]);
        if (!exit) break;
        if (exit.reason !== 'reset') throw exit.error ?? new DutError('process', `QEMU exited (${exit.reason}) while work was pending`, { dut: board.name });
      }
      return work;
    },
    close: async () => undefined,
  };
}

/** The internal snapshot (savevm) a saved state's disk and NVRAM hold. */
export const SAVED_STATE = 'dutlab-golden';

/** The internal disk an installer writes: room for a balenaOS image, sparse until written. */
const INTERNAL_DISK_BYTES = 8 * 2 ** 30;

/** Short: virtio-blk serials are cut at 20 bytes. */
function mediaSerial(index: number): string {
  return `dutlab-media${index}`;
}
