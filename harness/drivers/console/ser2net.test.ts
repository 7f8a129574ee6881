/**
 * The network console against Debian's real ser2net in front of a pty
 * adapter. The baud rate check reads the pty's termios with `stty`: ser2net
 * opens the device with the rate its configuration names (9600 here), so the
 * line can only be at the board file's 115200 if our SET-BAUDRATE reached
 * ser2net and ser2net applied it to the device.
 */
import test, { type ExecutionContext } from 'ava';
import type { NetworkSerialConsole } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { freePort } from '../../qemu/ports.ts';
import type { PtyLink } from '../../rig/pty-link.ts';
import { Ser2net } from '../../rig/ser2net.ts';
import { networkSerialConsole } from './ser2net.ts';
import { adapterPath, boardSide, Bytes, eventually, ttySpeed } from './testing/fixtures.ts';

const BOARD = 'rpi4-lab2';
const SERVER_BAUD = 9600;
/** Every byte value, 0xFF runs included: what a binary-clean console line must carry. */
const ALL_BYTES = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.alloc(16, 0xff), Buffer.alloc(16, 0x00)]);

async function served(t: ExecutionContext, protocol: 'raw' | 'rfc2217') {
  const link = await adapterPath(t);
  const board = await boardSide(t, link);
  const server = await Ser2net.start({ device: link, protocol, baud: SERVER_BAUD });
  t.teardown(() => server.stop());
  return { link, ...board, server };
}

/**
 * ser2net opens the device when a client connects, a moment after the TCP
 * connection is up, and drops what the device held before: the board's
 * bytes count from the first one that comes through.
 */
async function deviceOpened(pty: PtyLink, fromBoard: Bytes): Promise<void> {
  await eventually(
    () => {
      if (fromBoard.all.length > 0) return true;
      pty.write(Buffer.from('.'));
      return false;
    },
    5000,
    () => 'ser2net never passed a byte from the device',
  );
}

function driver(t: ExecutionContext, config: Partial<NetworkSerialConsole> & { port: number }, reopenMs?: number) {
  const notes: string[] = [];
  const console = networkSerialConsole({ kind: 'ser2net', host: '127.0.0.1', protocol: 'raw', baud: 115200, ...config }, BOARD, { note: (text) => notes.push(text), reopenMs });
  t.teardown(() => console.close());
  return { console, notes };
}

for (const protocol of ['raw', 'rfc2217'] as const) {
  test(`${protocol}: every byte value crosses both ways unchanged`, async (t) => {
    const { pty, received, server } = await served(t, protocol);
    const stream = await driver(t, { port: server.port, protocol }).console.open();
    const fromBoard = Bytes.of(stream);
    await deviceOpened(pty, fromBoard);
    pty.write(ALL_BYTES);
    await fromBoard.until(ALL_BYTES);
    const before = fromBoard.all.subarray(0, -ALL_BYTES.length).toString('latin1');
    t.regex(before, /^\.+$/, 'only the probes came before');
    t.true(fromBoard.all.subarray(-ALL_BYTES.length).equals(ALL_BYTES), 'nothing added or lost on the way in');
    stream.write(ALL_BYTES);
    await received.until(ALL_BYTES);
    t.true(received.all.equals(ALL_BYTES), 'nothing added or lost on the way out');
  });
}

test('raw: the line stays at the rate ser2net\'s configuration sets', async (t) => {
  const { link, pty, server } = await served(t, 'raw');
  const stream = await driver(t, { port: server.port, protocol: 'raw' }).console.open();
  await deviceOpened(pty, Bytes.of(stream));
  t.is(await ttySpeed(link), SERVER_BAUD);
});

test('rfc2217: the board file\'s baud rate is set on the device through ser2net', async (t) => {
  const { link, server } = await served(t, 'rfc2217');
  await driver(t, { port: server.port, protocol: 'rfc2217', baud: 115200 }).console.open();
  t.is(await ttySpeed(link), 115200);
});

test('a console server that refuses the connection is a lost console naming the board and host:port', async (t) => {
  const port = await freePort();
  const error = await t.throwsAsync(driver(t, { port }).console.open(), { instanceOf: DutError });
  t.is(error.kind, 'console-lost');
  t.regex(error.message, new RegExp(`^dut ${BOARD}, step open console: cannot reach ser2net at 127\\.0\\.0\\.1:${port}: connect ECONNREFUSED`));
});

test('rfc2217 against a raw accepter is refused as a board file that does not match its server', async (t) => {
  const { server, received } = await served(t, 'raw');
  const error = await t.throwsAsync(driver(t, { port: server.port, protocol: 'rfc2217' }).console.open(), { instanceOf: DutError });
  t.is(error.kind, 'config');
  t.regex(error.message, /ser2net at 127\.0\.0\.1:\d+ did not answer the RFC 2217 negotiation within 5 s: is its accepter raw tcp/);
  t.true(received.all.includes(Buffer.from([0xff, 0xfb, 0x2c])), 'the telnet offer reached the board as noise, which is why it is refused');
});

test('ser2net killed and started again: the same stream is redialled, renegotiated and carries bytes again', async (t) => {
  const { link, pty, received, server } = await served(t, 'rfc2217');
  const { console, notes } = driver(t, { port: server.port, protocol: 'rfc2217' });
  const stream = await console.open();
  const fromBoard = Bytes.of(stream);
  let closed = false;
  stream.on('close', () => (closed = true));
  pty.write(Buffer.from('before\r\n'));
  await fromBoard.until('before\r\n');

  await server.stop();
  await eventually(() => notes.length > 0, 5000, () => 'no note of the connection going away');
  t.regex(notes[0] ?? '', new RegExp(`^ser2net 127\\.0\\.0\\.1:${server.port} \\(rfc2217\\) went away \\(.+\\); waiting for it to return$`));
  const again = await Ser2net.start({ device: link, protocol: 'rfc2217', baud: SERVER_BAUD, port: server.port });
  t.teardown(() => again.stop());
  await eventually(() => notes.length > 1, 10_000, () => `not redialled; notes: ${notes.join(' | ')}`);
  t.is(notes[1], `ser2net 127.0.0.1:${server.port} (rfc2217) is back`);
  t.is(await ttySpeed(link), 115200, 'the new session set the rate again');
  pty.write(Buffer.from('after\r\n'));
  await fromBoard.until('after\r\n');
  stream.write('reply\r');
  await received.until('reply\r');
  t.false(closed);
});

test('a console server that does not come back within the bound ends the stream with a lost console', async (t) => {
  const { server } = await served(t, 'raw');
  const stream = await driver(t, { port: server.port }, 1500).console.open();
  const ended = new Promise<unknown>((resolve) => stream.once('error', resolve));
  await server.stop();
  const error = await ended;
  t.like(error, { kind: 'console-lost', dut: BOARD, step: 'reopen console' });
  t.regex((error as DutError).message, /ser2net 127\.0\.0\.1:\d+ \(raw\) went away \(.+\) and did not return within 2 s/);
  t.regex(String((error as DutError).cause), /ECONNREFUSED/, 'the last redial\'s failure is the cause');
});
