/**
 * A scripted DUT on the far end of an in-memory duplex stream. Tests make it
 * print (`say`) and react to what the harness sends (`onLine`).
 */
import { Duplex } from 'node:stream';

export class FakeDut {
  /** The harness's end of the line. */
  readonly stream: Duplex;
  /** Everything the harness sent, in order. */
  received = '';
  /** Write calls the harness made. */
  writes = 0;
  private pendingLine = '';
  private readonly lineHandlers: Array<(line: string) => void> = [];

  constructor() {
    this.stream = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _encoding, callback) => {
        this.writes += 1;
        this.input(chunk.toString('utf8'));
        callback();
      },
    });
  }

  say(data: string | Buffer): void {
    this.stream.push(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** Says `data` one byte per event-loop turn, as a slow UART would deliver it. */
  async trickle(data: string): Promise<void> {
    for (const byte of Buffer.from(data, 'latin1')) {
      this.say(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Calls `handler` with each complete line the harness sends. */
  onLine(handler: (line: string) => void): void {
    this.lineHandlers.push(handler);
  }

  /** The far end hangs up. */
  hangUp(): void {
    this.stream.push(null);
    this.stream.destroy();
  }

  private input(text: string): void {
    this.received += text;
    const lines = (this.pendingLine + text).split('\n');
    this.pendingLine = lines.pop() ?? '';
    for (const line of lines) for (const handler of this.lineHandlers) handler(line);
  }
}

/** A run line of the marker protocol, as the harness sends it. */
export const RUN_LINE = /__dutlab_(?:run|here) '(\w+)''(\w+)' (.*)$/;

/** What a shell prints for a command: the markers around its output, `\n` as `\r\n`. */
export function framed(marker: string, output: string, exitCode: number): string {
  return `\r\n${marker}:S\r\n${output}\r\n${marker}:E:${exitCode}\r\ndutlab$ `.replaceAll(/(?<!\r)\n/g, '\r\n');
}

/** Answers each run line with `reply(quotedCommand, marker)`, raw. */
export function answerRuns(dut: FakeDut, reply: (quotedCommand: string, marker: string) => string): void {
  dut.onLine((line) => {
    const run = RUN_LINE.exec(line);
    if (run) dut.say(reply(run[3] ?? '', `${run[1]}${run[2]}`));
  });
}
