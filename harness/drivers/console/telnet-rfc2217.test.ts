import test from 'ava';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { DutError } from '../../errors.ts';
import { BINARY, COM_PORT_OPTION, comPortCommand, comPortSession, escapeIac, IAC, negotiation, SUPPRESS_GO_AHEAD, TelnetParser, type TelnetEvent } from './telnet-rfc2217.ts';
import { Bytes, eventually } from './testing/fixtures.ts';

const ECHO = 1;
const TERMINAL_TYPE = 24;

/** What a server might send at once: data with doubled 0xFF, negotiations, a COM-PORT reply carrying an escaped 0xFF, and a NOP. */
const SERVER_STREAM = Buffer.concat([
  Buffer.from('login'),
  Buffer.from([IAC, IAC, 0x00, IAC, IAC, IAC, IAC]),
  negotiation('will', ECHO),
  negotiation('do', COM_PORT_OPTION),
  Buffer.from(': '),
  comPortCommand(101, Buffer.from([0x00, 0x00, 0x01, 0xff])),
  Buffer.from([IAC, 0xf1]),
  Buffer.from('\r\n'),
]);

/** Events with adjacent data joined: how a stream is cut must not change what it says. */
function normalized(events: TelnetEvent[]): unknown[] {
  const out: unknown[] = [];
  for (const event of events) {
    const last = out.at(-1) as { type?: string; data?: string } | undefined;
    if (event.type === 'data' && last?.type === 'data') last.data += event.data.toString('latin1');
    else out.push(event.type === 'data' ? { type: 'data', data: event.data.toString('latin1') } : { ...event, ...('data' in event ? { data: [...event.data] } : {}) });
  }
  return out;
}

const EXPECTED = [
  { type: 'data', data: 'login\xff\x00\xff\xff' },
  { type: 'negotiate', verb: 'will', option: ECHO },
  { type: 'negotiate', verb: 'do', option: COM_PORT_OPTION },
  { type: 'data', data: ': ' },
  { type: 'subnegotiation', option: COM_PORT_OPTION, data: [101, 0x00, 0x00, 0x01, 0xff] },
  { type: 'data', data: '\r\n' },
];

test('the parser un-doubles IAC, strips commands and reads subnegotiations', (t) => {
  t.deepEqual(normalized(new TelnetParser().push(SERVER_STREAM)), EXPECTED);
});

test('the parser reads the same whatever the TCP chunks: cut at every byte, and at every single point', (t) => {
  const parser = new TelnetParser();
  t.deepEqual(normalized([...SERVER_STREAM].flatMap((byte) => parser.push(Buffer.from([byte])))), EXPECTED);
  for (let cut = 1; cut < SERVER_STREAM.length; cut += 1) {
    const split = new TelnetParser();
    const events = [...split.push(SERVER_STREAM.subarray(0, cut)), ...split.push(SERVER_STREAM.subarray(cut))];
    t.deepEqual(normalized(events), EXPECTED, `cut at ${cut}`);
  }
});

test('a subnegotiation whose SE was lost ends at the next command', (t) => {
  const events = new TelnetParser().push(Buffer.from([IAC, 0xfa, COM_PORT_OPTION, 106, 0x10, IAC, 0xfb, ECHO, 0x41]));
  t.deepEqual(normalized(events), [
    { type: 'subnegotiation', option: COM_PORT_OPTION, data: [106, 0x10] },
    { type: 'negotiate', verb: 'will', option: ECHO },
    { type: 'data', data: 'A' },
  ]);
});

test('outgoing 0xFF is doubled, in data and in command values', (t) => {
  t.deepEqual([...escapeIac(Buffer.from([0x41, 0xff, 0xff, 0x42]))], [0x41, 0xff, 0xff, 0xff, 0xff, 0x42]);
  t.deepEqual([...comPortCommand(1, Buffer.from([0x00, 0x01, 0xc2, 0x00]))], [0xff, 0xfa, 0x2c, 0x01, 0x00, 0x01, 0xc2, 0x00, 0xff, 0xf0]);
  t.deepEqual([...comPortCommand(1, Buffer.from([0x00, 0x00, 0x00, 0xff]))], [0xff, 0xfa, 0x2c, 0x01, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xf0]);
});

/** A scripted telnet server on a real socket: what the client sent, and the server's end. */
async function server(t: import('ava').ExecutionContext) {
  const listener = createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  t.teardown(() => listener.close());
  const accepted = once(listener, 'connection') as Promise<[Socket]>;
  const client = connect((listener.address() as AddressInfo).port, '127.0.0.1');
  t.teardown(() => client.destroy());
  await once(client, 'connect');
  const [far] = await accepted;
  t.teardown(() => far.destroy());
  return { client, far, sent: Bytes.of(far) };
}

test('the client offers COM-PORT, agrees to BINARY and SUPPRESS-GO-AHEAD, refuses the rest, sets 8N1 at the baud rate, and checks the rate the server set', async (t) => {
  const { client, far, sent } = await server(t);
  const session = comPortSession(client, { baud: 115200, where: 'console-server:3001', board: 'rpi4-lab2' });
  await sent.until(negotiation('will', COM_PORT_OPTION));
  far.write(Buffer.concat([negotiation('will', ECHO), negotiation('do', TERMINAL_TYPE), negotiation('will', BINARY), negotiation('do', SUPPRESS_GO_AHEAD)]));
  // The DO for COM-PORT arrives cut in two.
  far.write(Buffer.from([IAC]));
  far.write(Buffer.from([0xfd, COM_PORT_OPTION]));
  const settings = Buffer.concat([
    comPortCommand(1, Buffer.from([0x00, 0x01, 0xc2, 0x00])),
    comPortCommand(2, Buffer.from([8])),
    comPortCommand(3, Buffer.from([1])),
    comPortCommand(4, Buffer.from([1])),
  ]);
  await sent.until(settings);
  for (const answer of [negotiation('dont', ECHO), negotiation('wont', TERMINAL_TYPE), negotiation('do', BINARY), negotiation('will', SUPPRESS_GO_AHEAD)]) {
    t.true(sent.all.includes(answer), `answered ${[...answer]}`);
  }
  // A repeated request for a state already agreed is not answered (no negotiation loop).
  const before = sent.all.length;
  far.write(negotiation('will', BINARY));
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(sent.all.length, before);
  // The server set another rate than asked.
  far.write(comPortCommand(101, Buffer.from([0x00, 0x00, 0x25, 0x80])));
  const error = await t.throwsAsync(session, { instanceOf: DutError });
  t.is(error.kind, 'config');
  t.is(error.message, "dut rpi4-lab2, step open console: ser2net at console-server:3001 set the line to 9600 baud, not the board file's 115200");
});

test('a server that refuses COM-PORT is a board file that does not match its console server', async (t) => {
  const { client, far, sent } = await server(t);
  const session = comPortSession(client, { baud: 115200, where: 'console-server:3001', board: 'rpi4-lab2' });
  await sent.until(negotiation('will', COM_PORT_OPTION));
  far.write(negotiation('dont', COM_PORT_OPTION));
  const error = await t.throwsAsync(session, { instanceOf: DutError });
  t.is(error.kind, 'config');
  t.regex(error.message, /ser2net at console-server:3001 refused the COM-PORT-OPTION: its accepter must be telnet\(rfc2217\)/);
});

test('once negotiated, serial bytes cross both ways with 0xFF escaped on the wire', async (t) => {
  const { client, far, sent } = await server(t);
  const session = comPortSession(client, { baud: 115200, where: 'console-server:3001', board: 'rpi4-lab2' });
  far.write(negotiation('do', COM_PORT_OPTION));
  far.write(Buffer.concat([Buffer.from('early'), comPortCommand(101, Buffer.from([0x00, 0x01, 0xc2, 0x00])), Buffer.from([0x41, IAC, IAC, 0x42])]));
  const stream = await session;
  const received = Bytes.of(stream);
  await received.until(Buffer.from([0x65, 0x61, 0x72, 0x6c, 0x79, 0x41, 0xff, 0x42]));
  const mark = sent.all.length;
  stream.write(Buffer.from([0x43, 0xff, 0x44]));
  await eventually(() => sent.all.subarray(mark).equals(Buffer.from([0x43, 0xff, 0xff, 0x44])), 2000, () => `sent ${[...sent.all.subarray(mark)]}`);
  t.pass();
});
