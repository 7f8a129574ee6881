/**
 * What a board file describes, after validation and defaults.
 *
 * A board is discriminated on `kind`: a QEMU board says how to build the
 * virtual machine; a physical board names the resources that reach real
 * hardware (a serial console, a power switch, a storage switch). Console,
 * power and storage are themselves discriminated on `kind`, so adding a new
 * relay or SD-mux model is one more union member and one schema branch.
 */

export type BoardKind = Board['kind'];

export type Accel = 'auto' | 'kvm' | 'tcg';
export type DiskBus = 'virtio' | 'sata' | 'usb';
export type Firmware = 'uefi' | 'bios';
export type MachineType = 'q35' | 'pc';
export type NetworkMode = 'user' | 'none';

export interface QemuSettings {
  machine: MachineType;
  firmware: Firmware;
  /** MiB */
  memory: number;
  cpus: number;
  accel: Accel;
  diskBus: DiskBus;
  /** `user`: slirp networking with a host port forwarded to the guest's sshd. */
  network: NetworkMode;
  /** Guest TCP port the forwarded host port reaches (balenaOS sshd: 22222). */
  sshGuestPort: number;
  /** -cpu model; default: `host` under KVM, QEMU's default under TCG. */
  cpu?: string;
}

export interface QemuSerialConsole {
  kind: 'qemu-serial';
}

export interface SerialConsole {
  kind: 'serial';
  device: string;
  baud: number;
}

export type ConsoleConfig = QemuSerialConsole | SerialConsole;

export interface UsbRelayPower {
  kind: 'usb-relay';
  device: string;
  channel: number;
}

/** Any power switch scriptable from a shell (PDU CLI, smart plug, ...). */
export interface CommandPower {
  kind: 'command';
  on: string[];
  off: string[];
}

/** A person flips the switch; the harness prompts. */
export interface ManualPower {
  kind: 'manual';
}

export type PowerConfig = UsbRelayPower | CommandPower | ManualPower;

export interface SdMuxStorage {
  kind: 'sd-mux';
  model: 'usbsdmux' | 'sdwire';
  /** Control device of the mux (e.g. /dev/sg0 for usbsdmux). */
  device: string;
}

export type StorageConfig = SdMuxStorage;

interface BoardCommon {
  name: string;
  /** What suites see (balena device type slug). */
  deviceType: string;
  /** File the board came from, for messages. */
  source: string;
}

export interface QemuBoard extends BoardCommon {
  kind: 'qemu';
  qemu: QemuSettings;
  console: QemuSerialConsole;
}

export interface PhysicalBoard extends BoardCommon {
  kind: 'physical';
  console: SerialConsole;
  power: PowerConfig;
  storage: StorageConfig;
}

export type Board = QemuBoard | PhysicalBoard;

export const QEMU_DEFAULTS: QemuSettings = {
  machine: 'q35',
  firmware: 'uefi',
  memory: 1024,
  cpus: 2,
  accel: 'auto',
  diskBus: 'virtio',
  network: 'user',
  sshGuestPort: 22222,
};
