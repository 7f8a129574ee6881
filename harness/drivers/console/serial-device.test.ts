import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Locator } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { PtyLink } from '../../rig/pty-link.ts';
import { serialDeviceConsole, type SerialDeviceOptions } from './serial-device.ts';
import { adapterPath, boardSide, Bytes, eventually, ttySpeed } from './testing/fixtures.ts';

const BOARD = 'rpi4-lab1';

// One test at a time: a pty that goes away frees its /dev/pts number for the
// next one while its link still points there, and a driver waiting for its
// adapter would take another test's pty for its own.

function driver(t: ExecutionContext, port: Locator, options: SerialDeviceOptions = {}) {
  const notes: string[] = [];
  const console = serialDeviceConsole({ kind: 'serial', port, baud: 115200 }, BOARD, { note: (text) => notes.push(text), ...options });
  t.teardown(() => console.close());
  return { console, notes };
}

/** The error the stream is destroyed with, or what happened instead. */
function ending(stream: Duplex): Promise<unknown> {
  return new Promise((resolve) => {
    stream.once('error', resolve);
    stream.once('close', () => resolve('closed without an error'));
  });
}

test.serial('bytes cross both ways, at the board file\'s baud rate', async (t) => {
  const link = await adapterPath(t);
  const { pty, received } = await boardSide(t, link);
  t.not(await ttySpeed(link), 115200, 'a fresh pty is at another rate, so the check below means something');
  const { console } = driver(t, { device: link });
  const stream = await console.open();
  const fromBoard = Bytes.of(stream);
  pty.write(Buffer.from('U-Boot 2024.01\r\n\xff\x00\x80', 'latin1'));
  await fromBoard.until(Buffer.from('U-Boot 2024.01\r\n\xff\x00\x80', 'latin1'));
  stream.write('printenv\r');
  await received.until('printenv\r');
  t.is(await ttySpeed(link), 115200);
  t.is(await console.open(), stream, 'opening again gives the same stream');
});

test.serial('an adapter that never appears is a lost console naming the board and the locator, within the bound', async (t) => {
  const missing = path.join(path.dirname(await adapterPath(t)), 'never');
  const started = Date.now();
  const error = await t.throwsAsync(driver(t, { device: missing }, { appearMs: 600 }).console.open(), { instanceOf: DutError });
  t.is(error.kind, 'console-lost');
  t.is(error.message, `dut ${BOARD}, step open console: console adapter: ${missing} is not present within 1 s`);
  const waited = Date.now() - started;
  t.true(waited >= 600 && waited < 3000, `waited ${waited} ms`);

  const unmatched = await t.throwsAsync(driver(t, { match: { ID_SERIAL_SHORT: 'dutlab-no-such-adapter' } }, { appearMs: 500 }).console.open(), { instanceOf: DutError });
  t.is(unmatched.kind, 'console-lost');
  t.regex(unmatched.message, /console adapter: udev match \{ID_SERIAL_SHORT=dutlab-no-such-adapter\} is not present within 1 s/);
});

test.serial('an adapter pulled out and put back: the same stream carries bytes again, what was written while it was away is sent once it is back, and notes say so', async (t) => {
  const link = await adapterPath(t);
  const first = await boardSide(t, link);
  const { console, notes } = driver(t, { device: link });
  const stream = await console.open();
  const fromBoard = Bytes.of(stream);
  let closed = false;
  stream.on('close', () => (closed = true));
  first.pty.write(Buffer.from('before\r\n'));
  await fromBoard.until('before\r\n');

  // Someone keeps typing while the adapter is pulled: writes that hit the dying line must not end the stream.
  const typing = setInterval(() => stream.write('while-away\r'), 5);
  await first.pty.close();
  await eventually(() => notes.length > 0, 5000, () => 'no note of the adapter going away');
  t.regex(notes[0] ?? '', new RegExp(`^console adapter ${link} went away \\(.+\\); waiting for it to return$`));
  await sleep(300);
  clearInterval(typing);

  const second = await boardSide(t, link);
  await eventually(() => notes.length > 1, 5000, () => `not reopened; notes: ${notes.join(' | ')}`);
  t.is(notes[1], `console adapter ${link} is back`);
  second.pty.write(Buffer.from('after\r\n'));
  await fromBoard.until('after\r\n');
  stream.write('reply\r');
  await second.received.until('reply\r');
  // Writes that hit the dying line are lost with it; those made once it was gone waited for it.
  t.true(second.received.all.includes('while-away'), 'bytes written while the adapter was away are sent when it is back');
  t.true(second.received.all.indexOf('while-away') < second.received.all.indexOf('reply'), 'in order');
  t.false(closed);
});

test.serial('an adapter that does not come back within the bound ends the stream with a lost console', async (t) => {
  const link = await adapterPath(t);
  const { pty } = await boardSide(t, link);
  const { console, notes } = driver(t, { device: link }, { reopenMs: 2000 });
  const stream = await console.open();
  const ended = ending(stream);
  const started = Date.now();
  await pty.close();
  const error = await ended;
  t.true(error instanceof DutError, String(error));
  t.like(error, { kind: 'console-lost', dut: BOARD, step: 'reopen console' });
  t.regex((error as DutError).message, new RegExp(`^dut ${BOARD}, step reopen console: console adapter ${link} went away \\(.+\\) and did not return within 2 s$`));
  const waited = Date.now() - started;
  t.true(waited >= 2000 && waited < 5000, `waited ${waited} ms`);
  t.is(notes.at(-1), (error as DutError).reason);
});

test.serial('close() stops waiting for an adapter that went away', async (t) => {
  const link = await adapterPath(t);
  const { pty } = await boardSide(t, link);
  const { console, notes } = driver(t, { device: link });
  await console.open();
  await pty.close();
  await eventually(() => notes.length > 0, 5000, () => 'no note of the adapter going away');
  await console.close();
  const back = await PtyLink.open(link, () => undefined);
  t.teardown(() => back.close());
  await sleep(1500);
  t.deepEqual(notes.slice(1), [], 'nothing reopened the adapter after close()');
});
