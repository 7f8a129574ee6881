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
  private pendingLine = '';
  private readonly lineHandlers: Array<(line: string) => void> = [];

  constructor() {
    this.stream = new Duplex({
      read: () => undefined,
      write: (chunk: Buffer, _encoding, callback) => {
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

/** Answers the marker protocol's run lines with a scripted reply, as a real shell would frame it. */
export function answerRuns(dut: FakeDut, reply: (command: string) => { output: string; exitCode: number }): void {
  dut.onLine((line) => {
    const run = /__dutlab_run '(\w+)''(\w+)' '(.*)'$/.exec(line);
    if (!run) return;
    const marker = `${run[1]}${run[2]}`;
    const { output, exitCode } = reply(run[3] ?? '');
    dut.say(`\r\n${marker}:S\r\n${output.replaceAll('\n', '\r\n')}\r\n${marker}:E:${exitCode}\r\ndutlab$ `);
  });
}
