import { EventEmitter } from 'node:events';
import { PtyLink } from './pty-link.ts';

export interface LcusEmulatorOptions {
  /** Where the relay's tty appears, as /dev/serial/by-id would name it. */
  link: string;
  channels: number;
  onSwitch?: (channel: number, on: boolean) => void;
}

const START = 0xa0;
const STATUS_QUERY = 0xff;
const FRAME = 4;

/**
 * An LCUS-type USB-serial relay module on a pty (the rig's PtyLink, which
 * stays present while the driver closes and reopens it, as a plugged-in
 * adapter does). Its protocol is parsed byte by byte as the module's MCU
 * does: a frame starts at 0xA0, one with a bad checksum (or an unknown
 * channel or state) is ignored, and a 0xFF outside a frame is the status
 * query, answered with one `CH<n>:ON  ` / `CH<n>:OFF ` line per channel.
 *
 * Events: `switch(channel, on)` for every frame that switches a channel.
 */
export class LcusEmulator extends EventEmitter<{ switch: [channel: number, on: boolean] }> {
  /** Fault: the relay that never answers. It neither switches nor replies to a status query. */
  silent = false;
  private readonly states: boolean[];
  private pending = Buffer.alloc(0);
  private pty: PtyLink | undefined;

  private constructor(channels: number) {
    super();
    this.states = Array.from({ length: channels }, () => false);
  }

  static async start(options: LcusEmulatorOptions): Promise<LcusEmulator> {
    const relay = new LcusEmulator(options.channels);
    if (options.onSwitch) relay.on('switch', options.onSwitch);
    relay.pty = await PtyLink.open(options.link, (chunk) => relay.receive(chunk));
    return relay;
  }

  /** Whether `channel` (1-based) is switched on. */
  state(channel: number): boolean {
    return this.states[channel - 1] ?? false;
  }

  /** The module is unplugged: its tty and the link go. */
  async stop(): Promise<void> {
    await this.pty?.close();
  }

  private receive(chunk: Buffer): void {
    // A silent module's MCU hears nothing: what it was sent is not acted on later either.
    if (this.silent) return;
    let bytes = Buffer.concat([this.pending, chunk]);
    for (;;) {
      const first = bytes[0];
      if (first === undefined) break;
      if (first === STATUS_QUERY) {
        this.answerStatus();
        bytes = bytes.subarray(1);
        continue;
      }
      if (first !== START) {
        bytes = bytes.subarray(1);
        continue;
      }
      if (bytes.length < FRAME) break;
      if (this.apply(bytes.subarray(0, FRAME))) bytes = bytes.subarray(FRAME);
      // A bad frame: resynchronise on the next 0xA0, which may be inside it.
      else bytes = bytes.subarray(1);
    }
    this.pending = Buffer.from(bytes);
  }

  /** Switches for a valid frame; false for one the module would ignore. */
  private apply(frame: Buffer): boolean {
    const [start = 0, channel = 0, state = 0, sum = 0] = frame;
    if (((start + channel + state) & 0xff) !== sum) return false;
    if (channel < 1 || channel > this.states.length || state > 1) return false;
    this.states[channel - 1] = state === 1;
    this.emit('switch', channel, state === 1);
    return true;
  }

  private answerStatus(): void {
    const lines = this.states.map((on, index) => `CH${index + 1}:${(on ? 'ON' : 'OFF').padEnd(4)}\r\n`);
    this.pty?.write(Buffer.from(lines.join('')));
  }
}
