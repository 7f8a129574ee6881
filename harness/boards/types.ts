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

/**
 * Where a piece of hardware is: a fixed path, or udev properties that match
 * exactly one device (`ID_SERIAL_SHORT`, `ID_PATH`, ...). `/dev/ttyUSB0`
 * names move between reboots of the host; a match does not.
 */
export type Locator = { device: string } | { match: Record<string, string> };

/** A local serial line: a USB-serial adapter, opened with `serialport`. */
export interface SerialConsole {
  kind: 'serial';
  port: Locator;
  baud: number;
}

/** A serial port another host serves with ser2net: raw TCP, or telnet with RFC 2217 (the baud rate is set remotely). */
export interface NetworkSerialConsole {
  kind: 'ser2net';
  host: string;
  port: number;
  protocol: 'raw' | 'rfc2217';
  baud: number;
}

export type PhysicalConsole = SerialConsole | NetworkSerialConsole;
export type ConsoleConfig = QemuSerialConsole | PhysicalConsole;

/** What every power switch shares: the bounds of its operations. */
export interface PowerCommon {
  /** The board stays off at least this long in a cycle (capacitors, PMICs). */
  minOffMs: number;
  /** An operation that has not answered by then is a power error naming the board and the device. */
  timeoutMs: number;
}

/** LCUS-type USB-serial relay: 9600 8N1, frames `A0 <channel> <0|1> <sum>`. */
export interface LcusPower extends PowerCommon {
  kind: 'lcus';
  port: Locator;
  channel: number;
  baud: number;
  /** The module answers the status query 0xFF with `CH<n>:ON|OFF` lines (multi-channel LCUS boards do). */
  status: boolean;
}

/** HID relay through Debian's `usbrelay` (`usbrelay <ID>_<n>=1`). */
export interface UsbRelayPower extends PowerCommon {
  kind: 'usbrelay';
  /** The relay's name as `usbrelay` lists it, e.g. `HURTM_1`. */
  relay: string;
  command: string;
}

/** A GPIO line driving a relay, through libgpiod's `gpioset`. */
export interface GpioPower extends PowerCommon {
  kind: 'gpio';
  chip: string;
  line: number;
  activeLow: boolean;
  command: string;
}

/** A Tasmota smart plug: `/cm?cmnd=Power<n>%20On|Off|Status`. */
export interface TasmotaPower extends PowerCommon {
  kind: 'tasmota';
  url: string;
  output: number;
}

/** A Shelly gen2 plug or relay: `/rpc/Switch.Set?id=<n>&on=true|false`, `/rpc/Switch.GetStatus?id=<n>`. */
export interface ShellyPower extends PowerCommon {
  kind: 'shelly';
  url: string;
  switch: number;
}

/** Any switch scriptable from a shell (a PDU's CLI, ...), like labgrid's ExternalPowerDriver. */
export interface CommandPower extends PowerCommon {
  kind: 'command';
  on: string[];
  off: string[];
  /** Prints `on` or `off`; without it the state is what was last set. */
  status?: string[];
}

export type PowerConfig = LcusPower | UsbRelayPower | GpioPower | TasmotaPower | ShellyPower | CommandPower;

/** What every storage switch shares: the medium the host writes while the switch points at it. */
export interface StorageCommon {
  /** The block device (or, for an emulated card, the image file) the host sees in host mode. */
  medium: Locator;
  /** Read the written image back and compare hashes before booting. Default true. */
  verify: boolean;
  timeoutMs: number;
}

/** Linux Automation's USB-SD-Mux through Debian's `usbsdmux <sg> host|dut|off`. */
export interface UsbSdMuxStorage extends StorageCommon {
  kind: 'usbsdmux';
  /** The mux's SCSI generic control device (/dev/sg*). */
  control: Locator;
  command: string;
}

/** An SDWire through `sd-mux-ctrl --device-serial=<serial> --ts|--dut`. */
export interface SdWireStorage extends StorageCommon {
  kind: 'sdwire';
  serial: string;
  command: string;
}

/** Any mux scriptable from a shell: commands that hand the medium to the host and to the DUT. */
export interface CommandStorage extends StorageCommon {
  kind: 'command';
  host: string[];
  dut: string[];
}

export type StorageConfig = UsbSdMuxStorage | SdWireStorage | CommandStorage;

interface NetworkCommon {
  /** sshd's port. */
  port: number;
  /** Where the board reaches this host (the farm host's address on the lab network), for servers a test starts here. */
  hostAddress?: string;
  /** DUT TCP port → the port this host reaches it at (a farm behind NAT; the virtual rig's forwards). */
  ports?: Record<string, number>;
}

/** The DUT's SSH address: fixed, found in a DHCP server's leases file by MAC, or asked of the DUT over its console. */
export type NetworkConfig = NetworkCommon &
  ({ kind: 'static'; host: string } | { kind: 'dhcp-leases'; file: string; mac: string } | { kind: 'console'; interface?: string });

/** Which of the rig's emulated devices a virtual board is driven through. */
export interface RigSettings {
  /** Size of the emulated SD card (MiB). */
  cardMiB: number;
  power: 'lcus' | 'tasmota' | 'usbrelay';
  console: 'serial' | 'ser2net-raw' | 'ser2net-rfc2217';
  /** Directory of the rig's device nodes and card (default .dutlab/rig/<board>). */
  dir?: string;
  /** DUT TCP ports besides sshd the rig makes reachable from this host, as a farm's network does (default none). */
  forwardPorts: number[];
}

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
  console: PhysicalConsole;
  power: PowerConfig;
  storage: StorageConfig;
  network?: NetworkConfig;
}

/**
 * A QEMU machine that offers only a physical board's interfaces (a serial
 * adapter on a pty, an emulated relay, an SD-mux emulator): the physical
 * drivers run against it unchanged.
 */
export interface VirtualBoard extends BoardCommon {
  kind: 'virtual';
  qemu: QemuSettings;
  rig: RigSettings;
}

export type Board = QemuBoard | PhysicalBoard | VirtualBoard;

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
