/**
 * A console adapter at the wrong baud rate delivers line noise: bytes with
 * the high bit set, and runs of 0xFF and 0x00 where the receiver saw a line
 * held idle or in break. It comes through the serial driver into the console
 * engine like any output; the engine must record it and keep going.
 */
import test from 'ava';
import { Console } from '../../console/console.ts';
import { textOf } from '../../console/transcript.ts';
import type { DutError } from '../../errors.ts';
import { serialDeviceConsole } from './serial-device.ts';
import { adapterPath, boardSide, Bytes } from './testing/fixtures.ts';

const BOARD = 'rpi4-lab1';

/** Reproducible noise (a linear congruential generator, so a failure can be replayed). */
function lineNoise(bytes: number, seed = 0x2545f491): Buffer {
  const out = Buffer.alloc(bytes);
  let state = seed;
  for (let i = 0; i < bytes; ) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const kind = state >>> 29;
    if (kind === 0 || kind === 1) {
      const run = Math.min(bytes - i, 8 + (state & 0x3f));
      out.fill(kind === 0 ? 0xff : 0x00, i, i + run);
      i += run;
    } else {
      out[i] = 0x80 | (state >>> 16);
      i += 1;
    }
  }
  return out;
}

test('line noise from a wrong baud rate is recorded, faults no watcher, and a later prompt is still found', async (t) => {
  const link = await adapterPath(t);
  const { pty, received } = await boardSide(t, link);
  const driver = serialDeviceConsole({ kind: 'serial', port: { device: link }, baud: 115200 }, BOARD);
  t.teardown(() => driver.close());
  const faults: DutError[] = [];
  const stream = await driver.open();
  const arrived = Bytes.of(stream);
  const console = new Console({ stream, name: BOARD, rebootExpected: false, onFault: (error) => faults.push(error) });
  t.teardown(() => console.close());

  const noise = lineNoise(16 * 1024);
  const login = console.expect(['rpi4 login: '], { timeoutMs: 20_000, step: 'login' });
  // Paced as a UART delivers it: a pty drops what its input queue has no room for.
  for (let offset = 0; offset < noise.length; offset += 512) {
    pty.write(noise.subarray(offset, offset + 512));
    await arrived.until(noise.subarray(0, Math.min(offset + 512, noise.length)));
  }
  pty.write(Buffer.from('\r\nrpi4 login: '));
  const seen = await login;

  t.deepEqual(faults, []);
  // The record holds the noise exactly as UTF-8 decodes it (invalid bytes as U+FFFD), however the pty chunked it.
  t.is(textOf(console.transcript.entries, ['target']), `${noise.toString('utf8')}\r\nrpi4 login: `);
  t.true(seen.before.includes('\uFFFD'), 'the noise reached the matcher, before the prompt');
  await console.send('root\n');
  await received.until('root\n');
});
