/**
 * QEMU command line from a board's settings and a run's paths. Pure: no file
 * system, no processes — so every flag is unit-tested and the launcher only
 * decides *which* paths and ports, never *how* they are spelled.
 */
import type { DiskBus, QemuSettings } from '../boards/types.ts';

export interface ExtraDrive {
  path: string;
  format: 'raw' | 'qcow2';
  /** Default virtio. */
  bus?: DiskBus;
  /** Default true: media the guest only reads. */
  readonly?: boolean;
  /** Where the firmware tries it among the boot disks (the boot disk is 0); default: not a boot disk. */
  bootindex?: number;
  /** Disk serial number: the guest finds the disk as /dev/disk/by-id/virtio-<serial> (ata-QEMU_HARDDISK_<serial> on sata). */
  serial?: string;
}

export interface QemuArgsInput {
  settings: QemuSettings;
  /** Resolved accelerator ("auto" is decided before this point). */
  accel: 'kvm' | 'tcg';
  /** Per-run qcow2 overlay of the image; omitted = no boot disk. */
  overlay?: string;
  /** qcow2 (default), or raw for a disk the guest owns outright (an emulated SD card). */
  overlayFormat?: 'qcow2' | 'raw';
  /** UEFI only: read-only OVMF code and the per-run qcow2 VARS copy. */
  firmwareCode?: string;
  firmwareVars?: string;
  extraDrives?: readonly ExtraDrive[];
  serialLog: string;
  qmpSocket: string;
  pidfile: string;
  /** Host port forwarded to the guest's sshd; required when network is user. */
  sshHostPort?: number;
  /** -S: CPUs stay stopped until QMP `cont`. */
  startPaused: boolean;
  /** Shown in `ps` and QMP query-name, to tell runs apart. */
  name?: string;
  /** No bootindex on any disk: the firmware's own boot entries decide, as an installer leaves them. */
  firmwareBootOrder?: boolean;
  /** Resume from this internal snapshot of the disks (savevm) instead of booting. */
  loadvm?: string;
  /** Appended verbatim; an escape hatch for experiments. */
  extraArgs?: readonly string[];
}

/** QEMU's option parser splits on ','; a literal comma in a value is ',,'. */
export function escapeOpt(value: string): string {
  return value.replace(/,/g, ',,');
}

function driveDevice(bus: DiskBus, driveId: string, index: number, bootindex?: number, serial?: string): string[] {
  const boot = `${bootindex === undefined ? '' : `,bootindex=${bootindex}`}${serial ? `,serial=${escapeOpt(serial)}` : ''}`;
  switch (bus) {
    case 'virtio':
      return ['-device', `virtio-blk-pci,drive=${driveId}${boot}`];
    case 'sata':
      // q35 has an ICH9 AHCI controller built in (buses ide.0–ide.5); on `pc`
      // the same bus names belong to the PIIX IDE controller — still a
      // "SATA-ish" disk to the guest, which is what the choice is about.
      return ['-device', `ide-hd,drive=${driveId},bus=ide.${index}${boot}`];
    case 'usb':
      // leviathan writes balenaOS to a USB-storage disk; this mimics it.
      return ['-device', `usb-storage,bus=xhci.0,drive=${driveId}${boot}`];
  }
}

export function buildQemuArgs(input: QemuArgsInput): string[] {
  const { settings: s } = input;
  const args: string[] = [];

  // No implicit devices or config files: the command line is the whole VM.
  args.push('-nodefaults', '-no-user-config', '-display', 'none');
  if (input.name) args.push('-name', escapeOpt(input.name));
  args.push('-machine', s.machine, '-accel', input.accel);
  // KVM: expose the host CPU. TCG: keep QEMU's default model, which is what
  // boot times in the notes were measured with; `cpu` overrides either.
  const cpu = s.cpu ?? (input.accel === 'kvm' ? 'host' : undefined);
  if (cpu) args.push('-cpu', cpu);
  args.push('-m', String(s.memory), '-smp', String(s.cpus));

  if (s.firmware === 'uefi') {
    if (!input.firmwareCode || !input.firmwareVars) {
      throw new Error('buildQemuArgs: uefi firmware needs firmwareCode and firmwareVars');
    }
    // CODE is shared and must never change: read-only. VARS is a per-run
    // qcow2 copy, because a raw writable pflash makes `savevm` refuse
    // ("Device 'pflash1' is writable but does not support snapshots").
    args.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${escapeOpt(input.firmwareCode)}`);
    args.push('-drive', `if=pflash,format=qcow2,unit=1,file=${escapeOpt(input.firmwareVars)}`);
  }
  // bios: QEMU's built-in SeaBIOS, no flags needed.

  const drives = input.extraDrives ?? [];
  const buses = [input.overlay ? s.diskBus : undefined, ...drives.map((d) => d.bus ?? 'virtio')];
  if (buses.includes('usb')) args.push('-device', 'qemu-xhci,id=xhci');

  let sataIndex = 0;
  if (input.overlay) {
    // The image itself is the overlay's backing file and is never written.
    args.push('-drive', `file=${escapeOpt(input.overlay)},format=${input.overlayFormat ?? 'qcow2'},if=none,id=disk0`);
    args.push(...driveDevice(s.diskBus, 'disk0', sataIndex, input.firmwareBootOrder ? undefined : 0));
    if (s.diskBus === 'sata') sataIndex++;
  }
  drives.forEach((drive, i) => {
    const id = `extra${i}`;
    const bus = drive.bus ?? 'virtio';
    args.push('-drive', `file=${escapeOpt(drive.path)},format=${drive.format},if=none,id=${id}${drive.readonly === false ? '' : ',readonly=on'}`);
    args.push(...driveDevice(bus, id, sataIndex, input.firmwareBootOrder ? undefined : drive.bootindex, drive.serial));
    if (bus === 'sata') sataIndex++;
  });

  // Serial on a pty: the same kind of path a USB-serial adapter gives, so the
  // console layer has one code path. `logfile` keeps every byte the guest
  // printed, whether or not anybody had the pty open at the time.
  args.push('-chardev', `pty,id=serial0,logfile=${escapeOpt(input.serialLog)},logappend=on`);
  args.push('-serial', 'chardev:serial0');

  if (s.network === 'user') {
    if (input.sshHostPort === undefined) throw new Error('buildQemuArgs: network user needs sshHostPort');
    args.push('-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${input.sshHostPort}-:${s.sshGuestPort}`);
    // romfile= drops the iPXE option ROM: we never network-boot, and it only
    // adds firmware work before the disk is tried.
    args.push('-device', 'virtio-net-pci,netdev=net0,romfile=');
  }

  // Guests generate ssh host keys and start dockerd early; without an entropy
  // source older kernels can stall there.
  args.push('-device', 'virtio-rng-pci');

  args.push('-qmp', `unix:${escapeOpt(input.qmpSocket)},server=on,wait=off`);
  args.push('-pidfile', input.pidfile);
  // A reset ends this QEMU and its owner starts a new one, cold, on the same disks and NVRAM. Under TCG a
  // warm reset left OVMF's SEC decompressing over RAM that still held translated guest code: 8 to over 120 s
  // of silence before the firmware's first line (measured 2026-12-06), against 4 s from a cold start.
  args.push('-no-reboot');
  if (input.startPaused) args.push('-S');
  if (input.loadvm) args.push('-loadvm', input.loadvm);
  if (input.extraArgs) args.push(...input.extraArgs);
  return args;
}
