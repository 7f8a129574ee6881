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
const RUN_LINE = /(printf '\\n%s:S\\n' \w+\\\w+; )?_dl[sh] (\w+)\\(\w+) (.*)$/;

export interface RunLine {
  marker: string;
  /** The command as the line quotes it. */
  quoted: string;
  /** The line prints a start marker before the command's output. */
  start: boolean;
}

export function parseRunLine(line: string): RunLine | undefined {
  const run = RUN_LINE.exec(line);
  return run ? { marker: `${run[2]}${run[3]}`, quoted: run[4] ?? '', start: run[1] !== undefined } : undefined;
}

/**
 * What a shell prints for a run line: the start marker if the line asks for
 * one, the output, the end marker and the prompt, `\n` as `\r\n`.
 */
export function framed(run: RunLine, output: string, exitCode: number): string {
  const start = run.start ? `\r\n${run.marker}:S\r\n` : '';
  return `${start}${output}\r\n${run.marker}:E:${exitCode}\r\ndutlab$ `.replaceAll(/(?<!\r)\n/g, '\r\n');
}

/** Answers each run line with `reply(run)`, raw. */
export function answerRuns(dut: FakeDut, reply: (run: RunLine) => string): void {
  dut.onLine((line) => {
    const run = parseRunLine(line);
    if (run) dut.say(reply(run));
  });
}
