/**
 * Line noise between a DUT and the console: target output is re-cut into tiny
 * chunks delivered on separate event-loop turns, and kernel messages and
 * escape codes are spliced in at random byte offsets, mid-line and mid-marker
 * included, the way printk interrupts a UART's transmit queue.
 */
import { Duplex } from 'node:stream';

export interface MangleOptions {
  seed: number;
  /** Largest chunk delivered at once. */
  maxChunk: number;
  /** Chance, per chunk, that an injection is spliced in before it. */
  injectRate: number;
  injections: readonly string[];
}

export const KERNEL_NOISE = [
  '[   12.345678] random: crng init done\r\n',
  '[   13.000001] systemd[1]: Started Journal Service.\r\n',
  '[  100.5] usb 1-1: new high-speed USB device number 2 using xhci_hcd\r\n',
  '\x1b[?2004h',
  '\x1b[0;32m',
  '\x1b]0;title\x07',
];

export function mangle(inner: Duplex, options: MangleOptions): Duplex {
  let seed = options.seed;
  // Deterministic PRNG (mulberry32), so a failure can be replayed.
  const random = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const queue: Buffer[] = [];
  let draining = false;
  let ended = false;

  const outer = new Duplex({
    read: () => undefined,
    write: (chunk: Buffer, _encoding, callback) => inner.write(chunk, callback),
    destroy: (error, callback) => {
      inner.destroy();
      callback(error);
    },
  });
  const drain = (): void => {
    const next = queue.shift();
    if (next) {
      outer.push(next);
      setImmediate(drain);
      return;
    }
    draining = false;
    if (ended) outer.push(null);
  };
  inner.on('data', (data: Buffer) => {
    let offset = 0;
    while (offset < data.length) {
      if (random() < options.injectRate) {
        const injection = options.injections[Math.floor(random() * options.injections.length)] ?? '';
        queue.push(Buffer.from(injection, 'latin1'));
      }
      const size = 1 + Math.floor(random() * options.maxChunk);
      queue.push(data.subarray(offset, offset + size));
      offset += size;
    }
    if (!draining) {
      draining = true;
      setImmediate(drain);
    }
  });
  inner.on('end', () => {
    ended = true;
    if (!draining) outer.push(null);
  });
  inner.on('close', () => outer.destroy());
  inner.on('error', (error) => outer.destroy(error));
  return outer;
}
