import type { ExecutionContext } from 'ava';
import { execa } from 'execa';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { PtyLink } from '../../../rig/pty-link.ts';
import { tempDir } from '../../../testing/temp-dir.ts';

/** A fixed path for an adapter's pty, in a directory removed when the test ends. */
export async function adapterPath(t: ExecutionContext): Promise<string> {
  return path.join(await tempDir(t, 'console'), 'ttyUSB-console');
}

/** The board's end of a pty adapter at `link`: what it received, and a way to send. */
export async function boardSide(t: ExecutionContext, link: string): Promise<{ pty: PtyLink; received: Bytes }> {
  const received = new Bytes();
  const pty = await PtyLink.open(link, received.add);
  t.teardown(() => pty.close());
  return { pty, received };
}

/** Bytes as they arrive, and a bounded wait for some to have. */
export class Bytes {
  private chunks: Buffer[] = [];
  readonly add = (chunk: Buffer): void => {
    this.chunks.push(chunk);
  };

  static of(stream: Readable): Bytes {
    const bytes = new Bytes();
    stream.on('data', bytes.add);
    return bytes;
  }

  get all(): Buffer {
    return Buffer.concat(this.chunks);
  }

  async until(expected: string | Buffer, ms = 5000): Promise<void> {
    await eventually(() => this.all.includes(expected), ms, () => `${JSON.stringify(expected.toString('latin1'))} not received; got ${JSON.stringify(this.all.toString('latin1'))}`);
  }
}

export async function eventually(condition: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`within ${ms} ms: ${what()}`);
    await sleep(20);
  }
}

/** The baud rate the tty's termios holds now, as `stty` reads it: what the last program to configure the line set. */
export async function ttySpeed(device: string): Promise<number> {
  return Number((await execa('stty', ['-F', device, 'speed'])).stdout.trim());
}
