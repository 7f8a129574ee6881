import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SerialPort } from 'serialport';
import type { QemuBoard } from '../boards/types.ts';
import type { BootSettings, BoundBoard, NetworkEndpoint, PowerState } from '../dut/drivers.ts';
import { launchBoard, type QemuInstance } from '../qemu/index.ts';
import { createOverlay } from '../qemu/disks.ts';
import { editConfigJson } from '../storage/boot-files.ts';
import { ConsoleBridge } from './console-bridge.ts';
import { closeSerialLine, openSerialLine } from './serial-line.ts';

export interface QemuBindingOptions {
  /** Per-DUT directory for the disk; QEMU runs go to the shared runs root, which the reaper scans. */
  dir: string;
  /** Files attached read-only as extra disks, found on the DUT by serial number (see mediaPath). */
  media?: readonly string[];
  /** Keep the disk after the run (to inspect a failure). */
  keepDisk?: boolean;
}

/**
 * A QEMU board bound to the DUT driver interfaces. QEMU is both the power
 * and the console provider here (labgrid's QEMUDriver is too): power on
 * launches it paused, attaches the serial pty through `serialport` (the same
 * code path as a USB-serial adapter), then lets the CPUs run, so no byte of
 * the boot is missed. Storage is a qcow2 disk over the image that outlives
 * each QEMU process, so power cycles keep what the guest wrote.
 */
export function bindQemuBoard(board: QemuBoard, options: QemuBindingOptions): BoundBoard {
  const disk = path.join(options.dir, 'disk.qcow2');
  const bridge = new ConsoleBridge();
  let instance: QemuInstance | undefined;
  let line: SerialPort | undefined;
  let image: string | undefined;

  async function launch(): Promise<void> {
    instance = await launchBoard(board, {
      dut: board.name,
      disk,
      paused: true,
      extraDrives: (options.media ?? []).map((file, i) => ({ path: file, format: 'raw' as const, serial: mediaSerial(i) })),
    });
    line = await openSerialLine(instance.pty, 115200, board.name);
    bridge.attach(line);
    await instance.qmp.cont();
  }

  async function shutdown(): Promise<void> {
    const current = instance;
    instance = undefined;
    bridge.detach();
    if (line) await closeSerialLine(line);
    line = undefined;
    await current?.stop();
  }

  return {
    name: board.name,
    deviceType: board.deviceType,
    power: {
      on: launch,
      off: shutdown,
      async reset() {
        if (instance) await instance.qmp.reset();
        else await launch();
      },
      // A new QEMU process on the same disk: a guest wedged so that even
      // system_reset brings no firmware back (seen under TCG) comes back.
      async cycle() {
        await shutdown();
        await launch();
      },
      state(): PowerState {
        return instance ? 'on' : 'off';
      },
    },
    console: {
      open: async () => bridge,
      close: async () => {
        bridge.detach();
        bridge.destroy();
      },
    },
    storage: {
      async prepare(imagePath: string, settings: BootSettings) {
        image = imagePath;
        await mkdir(options.dir, { recursive: true });
        await rm(disk, { force: true });
        await createOverlay(imagePath, 'raw', disk);
        await editConfigJson(imagePath, disk, (config) => withBootSettings(config, settings));
      },
      async release() {
        if (!options.keepDisk) await rm(disk, { force: true });
      },
    },
    sshEndpoint(): NetworkEndpoint | undefined {
      return instance?.sshPort === undefined ? undefined : { host: '127.0.0.1', port: instance.sshPort };
    },
    mediaPath(hostPath: string): string | undefined {
      const index = (options.media ?? []).indexOf(hostPath);
      if (index < 0) return undefined;
      return board.qemu.diskBus === 'virtio' ? `/dev/disk/by-id/virtio-${mediaSerial(index)}` : undefined;
    },
    describe() {
      return {
        kind: 'qemu',
        image,
        accel: instance?.accel.accel,
        accelReason: instance?.accel.reason,
        runDir: instance?.run.dir,
      };
    },
    whileAlive<T>(work: Promise<T>): Promise<T> {
      return instance ? instance.whileRunning(work) : work;
    },
  };
}

/** Short: virtio-blk serials are cut at 20 bytes. */
function mediaSerial(index: number): string {
  return `dutlab-media${index}`;
}

/** config.json with this run's SSH key added to os.sshKeys and any settings merged. */
export function withBootSettings(config: Record<string, unknown>, settings: BootSettings): Record<string, unknown> {
  const os = (config['os'] as Record<string, unknown> | undefined) ?? {};
  const keys = Array.isArray(os['sshKeys']) ? (os['sshKeys'] as string[]) : [];
  return {
    ...config,
    ...settings.config,
    os: { ...os, sshKeys: settings.sshPublicKey ? [...keys, settings.sshPublicKey] : keys },
  };
}
