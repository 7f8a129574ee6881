import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Accel, NetworkSerialConsole, PhysicalBoard, PowerConfig, StorageConfig, VirtualBoard } from '../boards/types.ts';
import { freePort } from '../qemu/ports.ts';
import { resolveAccel } from '../qemu/kvm-probe.ts';
import { installCommand } from './commands.ts';
import { LcusEmulator } from './lcus-emulator.ts';
import { EmulatedMachine } from './machine.ts';
import { PlugEmulator } from './plug-emulator.ts';
import { PtyLink } from './pty-link.ts';
import { watchSwitchFile } from './relay-files.ts';
import { Ser2net } from './ser2net.ts';
import { createSdMux, muxMode } from './sd-mux-state.ts';

/**
 * A board farm's slot, emulated: a QEMU machine reachable only through the
 * interfaces a physical board has. Its UART is a pty at a fixed path (a
 * USB-serial adapter, optionally behind ser2net); its supply is switched by
 * an emulated LCUS relay on another pty, a Tasmota plug over HTTP, or a
 * usbrelay-compatible command; its SD card sits behind a usbsdmux-compatible
 * mux. `board` describes it as a physical board file would, so the physical
 * drivers bind to it unchanged.
 */
export interface Rig {
  readonly dir: string;
  readonly board: PhysicalBoard;
  /** Fault injection: the console adapter is pulled out (its device node vanishes) until `plugConsole`. */
  unplugConsole(): Promise<void>;
  plugConsole(): Promise<void>;
  /** Fault injection: the relay (or plug) neither switches nor answers. */
  silencePower(silent: boolean): void;
  describe(): Record<string, unknown>;
  stop(): Promise<void>;
}

const ENTRIES = path.join(import.meta.dirname, 'bin');

export async function startRig(board: VirtualBoard, options: { dir: string; accel?: Accel; note?: (text: string) => void }): Promise<Rig> {
  const dir = path.resolve(options.dir);
  await mkdir(dir, { recursive: true });
  const note = options.note ?? (() => undefined);
  const card = await createSdMux(dir, board.rig.cardMiB);
  const accel = await resolveAccel(options.accel ?? board.qemu.accel, {});
  const consoleLink = path.join(dir, 'ttyUSB-console');
  let adapter: PtyLink | undefined;
  const forwards: Record<string, number> = {};
  for (const port of board.rig.forwardPorts) forwards[String(port)] = await freePort();
  const machine = new EmulatedMachine(board, {
    card,
    hasCard: async () => (await muxMode(dir)) === 'dut',
    sshPort: await freePort(),
    forwards,
    accel,
    toConsole: (chunk) => adapter?.write(chunk),
    note,
  });
  const plug = async (): Promise<void> => {
    adapter = await PtyLink.open(consoleLink, (chunk) => machine.toUart(chunk));
  };
  await plug();

  const stops: (() => Promise<void> | void)[] = [];
  const power = await startPower(board, dir, (on) => void machine.setPower(on), stops);
  const consoleConfig = await startConsole(board, consoleLink, stops);
  const storage: StorageConfig = {
    kind: 'usbsdmux',
    control: { device: path.join(dir, 'sg0') },
    medium: { device: path.join(dir, 'sda') },
    command: await installCommand(dir, 'usbsdmux', path.join(ENTRIES, 'usbsdmux.ts'), dir),
    verify: true,
    timeoutMs: 30_000,
  };
  const physical: PhysicalBoard = {
    name: board.name,
    deviceType: board.deviceType,
    kind: 'physical',
    console: consoleConfig,
    power: power.config,
    storage,
    // The rig's QEMU uses user networking: its gateway is this host, as a farm host is on the lab network.
    network: { kind: 'static', host: '127.0.0.1', port: machine.sshPort, hostAddress: '10.0.2.2', ports: forwards },
    source: board.source,
  };
  return {
    dir,
    board: physical,
    async unplugConsole() {
      await adapter?.close();
      adapter = undefined;
    },
    plugConsole: plug,
    silencePower: power.silence,
    describe: () => ({ dir, power: board.rig.power, console: board.rig.console, card, accel: accel.accel, accelReason: accel.reason, sshPort: machine.sshPort }),
    async stop() {
      await machine.stop();
      for (const stop of stops.reverse()) await stop();
      await adapter?.close();
    },
  };
}

interface RigPower {
  config: PowerConfig;
  silence(silent: boolean): void;
}

const POWER_BOUNDS = { minOffMs: 1000, timeoutMs: 5000 };

async function startPower(board: VirtualBoard, dir: string, setPower: (on: boolean) => void, stops: (() => Promise<void> | void)[]): Promise<RigPower> {
  switch (board.rig.power) {
    case 'lcus': {
      const link = path.join(dir, 'ttyUSB-relay');
      const relay = await LcusEmulator.start({ link, channels: 1, onSwitch: (_channel, on) => setPower(on) });
      stops.push(() => relay.stop());
      return {
        config: { kind: 'lcus', port: { device: link }, channel: 1, baud: 9600, status: true, ...POWER_BOUNDS },
        silence: (silent) => (relay.silent = silent),
      };
    }
    case 'tasmota': {
      const plug = await PlugEmulator.start({ onSwitch: (_output, on) => setPower(on) });
      stops.push(() => plug.stop());
      return { config: { kind: 'tasmota', url: plug.url, output: 1, ...POWER_BOUNDS }, silence: (silent) => (plug.silent = silent) };
    }
    case 'usbrelay': {
      const state = path.join(dir, 'usbrelay');
      const command = await installCommand(dir, 'usbrelay', path.join(ENTRIES, 'usbrelay.ts'), state);
      const relay = 'DUTLB_1';
      await mkdir(state, { recursive: true });
      await writeFile(path.join(state, 'relays'), `${relay}\n`);
      const watch = watchSwitchFile(path.join(state, relay), setPower);
      stops.push(() => watch.stop());
      // A HID relay has no silent mode to emulate: a dead one makes the command fail, which the driver reports.
      return { config: { kind: 'usbrelay', relay, command, ...POWER_BOUNDS }, silence: () => undefined };
    }
  }
}

async function startConsole(board: VirtualBoard, link: string, stops: (() => Promise<void> | void)[]): Promise<PhysicalBoard['console']> {
  if (board.rig.console === 'serial') return { kind: 'serial', port: { device: link }, baud: 115200 };
  const protocol: NetworkSerialConsole['protocol'] = board.rig.console === 'ser2net-rfc2217' ? 'rfc2217' : 'raw';
  const server = await Ser2net.start({ device: link, protocol, baud: 115200 });
  stops.push(() => server.stop());
  return { kind: 'ser2net', host: '127.0.0.1', port: server.port, protocol, baud: 115200 };
}
