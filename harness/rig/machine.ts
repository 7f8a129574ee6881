import type { SerialPort } from 'serialport';
import type { VirtualBoard } from '../boards/types.ts';
import { closeSerialLine, openSerialLine } from '../drivers/serial-line.ts';
import { forwardPort } from '../qemu/forward.ts';
import { launchQemu, type QemuInstance } from '../qemu/index.ts';
import type { AccelDecision } from '../qemu/kvm-probe.ts';

export interface MachineOptions {
  /** The emulated SD card the machine boots when the mux gives it the card. */
  card: string;
  /** Whether the card is on the DUT's side of the mux at power-on. */
  hasCard: () => Promise<boolean>;
  sshPort: number;
  /** More guest TCP ports → fixed host ports, forwarded at every power-on (a farm board's other open ports). */
  forwards: Record<string, number>;
  accel: AccelDecision;
  /** Bytes the board's UART sends. */
  toConsole: (chunk: Buffer) => void;
  note: (text: string) => void;
}

/**
 * The board behind a virtual rig: a QEMU process that exists while the relay
 * is on. Power on starts it with the card if the mux points at the DUT
 * (without one, like a board with an empty slot, the firmware finds nothing
 * to boot); power off kills it at once, as cutting the supply does.
 */
export class EmulatedMachine {
  private instance: QemuInstance | undefined;
  private line: SerialPort | undefined;
  private switching: Promise<void> = Promise.resolve();
  private wanted = false;

  constructor(
    private readonly board: VirtualBoard,
    private readonly options: MachineOptions,
  ) {}

  get powered(): boolean {
    return this.instance !== undefined;
  }

  /** The host port forwarded to the board's sshd: fixed for the rig's life, as a farm board's address is. */
  get sshPort(): number {
    return this.options.sshPort;
  }

  /** Switches are applied in order; a relay clicking on twice starts one machine. */
  setPower(on: boolean): Promise<void> {
    this.wanted = on;
    this.switching = this.switching.then(() => (this.wanted === on ? (on ? this.start() : this.kill()) : undefined)).catch((error: unknown) => {
      this.options.note(`rig: power ${on ? 'on' : 'off'} failed: ${String(error)}`);
    });
    return this.switching;
  }

  /** Bytes the console adapter sends to the board's UART: lost while the board is off. */
  toUart(chunk: Buffer): void {
    this.line?.write(chunk);
  }

  async stop(): Promise<void> {
    await this.setPower(false);
  }

  private async start(): Promise<void> {
    if (this.instance) return;
    const withCard = await this.options.hasCard();
    const instance = await launchQemu({
      qemu: this.board.qemu,
      dut: this.board.name,
      ...(withCard ? { disk: this.options.card, diskFormat: 'raw' as const } : {}),
      paused: true,
      sshPort: this.options.sshPort,
      accel: this.options.accel,
    });
    this.instance = instance;
    for (const [guest, host] of Object.entries(this.options.forwards)) await forwardPort(instance.qmp, host, Number(guest), this.board.name);
    const line = await openSerialLine(instance.pty, 115200, this.board.name);
    this.line = line;
    line.on('data', (chunk: Buffer) => this.options.toConsole(chunk));
    line.on('error', () => undefined);
    void instance.exited.then((exit) => {
      if (this.instance !== instance) return;
      this.instance = undefined;
      this.line = undefined;
      void closeSerialLine(line);
      // A reset ends QEMU (-no-reboot, see qemu/args.ts): the board restarts with the relay still on.
      if (exit.reason === 'reset' && this.wanted) {
        this.options.note('rig: the board reset; its QEMU starts again, cold');
        void this.setPower(true);
        return;
      }
      // The guest powered itself off, or QEMU crashed: the relay is still on, the board is dark.
      this.options.note(`rig: the board's QEMU exited (${exit.reason}) with the relay on`);
    });
    if (!withCard) this.options.note('rig: powered on with the SD card on the host side of the mux: nothing to boot');
    await instance.qmp.cont();
  }

  private async kill(): Promise<void> {
    const instance = this.instance;
    const line = this.line;
    this.instance = undefined;
    this.line = undefined;
    if (line) await closeSerialLine(line);
    await instance?.stop({ graceMs: 0 });
  }
}
