/**
 * One flipped character on a serial line, the way a UART overrun or line
 * noise corrupts a transfer: wraps the console's stream and, once armed,
 * changes the middle character of the first full base64 line (76 characters
 * of the base64 alphabet in a row, which markers, prompts and hex checksums
 * never are) that passes in the chosen direction. Everything else passes
 * unchanged, so the transfer completes and only a check can tell.
 */
import { Duplex } from 'node:stream';

export interface Corrupter {
  stream: Duplex;
  /** Corrupt the next full base64 line that passes. */
  arm(): void;
  /** Whether a character was changed. */
  readonly fired: boolean;
}

const LINE = /[A-Za-z0-9+/]{76}/;

export function corrupting(inner: Duplex, direction: 'to-dut' | 'from-dut', replace: (char: string) => string): Corrupter {
  let armed = false;
  let fired = false;
  const flip = (chunk: Buffer): Buffer => {
    if (!armed || fired) return chunk;
    const match = LINE.exec(chunk.toString('latin1'));
    if (!match) return chunk;
    const at = match.index + 38;
    const copy = Buffer.from(chunk);
    copy[at] = replace(String.fromCharCode(copy[at] ?? 0)).charCodeAt(0);
    fired = true;
    return copy;
  };
  const outer = new Duplex({
    read: () => undefined,
    write: (chunk: Buffer, _encoding, callback) => inner.write(direction === 'to-dut' ? flip(chunk) : chunk, callback),
    destroy: (error, callback) => {
      inner.destroy();
      callback(error);
    },
  });
  inner.on('data', (data: Buffer) => outer.push(direction === 'from-dut' ? flip(data) : data));
  inner.on('end', () => outer.push(null));
  inner.on('close', () => outer.destroy());
  inner.on('error', (error) => outer.destroy(error));
  return {
    stream: outer,
    arm: () => {
      armed = true;
    },
    get fired() {
      return fired;
    },
  };
}

/** Another base64 character, so the line still decodes, to different bytes. */
export const otherBase64Char = (char: string): string => (char === 'A' ? 'B' : 'A');
