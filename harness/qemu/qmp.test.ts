/**
 * QMP client against a scripted fake server on a unix socket: protocol edge
 * cases (out-of-order answers, errors, timeouts, hang-ups) that a real QEMU
 * will not produce on demand. The real thing is exercised in launcher.test.ts.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DutError } from '../errors.ts';
import { QmpClient, QmpError } from './qmp.ts';

type Handler = (msg: { execute: string; arguments?: Record<string, unknown>; id?: unknown }, socket: Socket) => void;

async function fakeQemu(handler: Handler, options: { greet?: boolean } = {}): Promise<{ path: string; server: Server; sockets: Socket[]; done: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dutlab-qmp-'));
  const path = join(dir, 'qmp.sock');
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    if (options.greet ?? true) socket.write('{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": []}}\r\n');
    let buffer = '';
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const msg = JSON.parse(line) as Parameters<Handler>[0];
        if (msg.execute === 'qmp_capabilities') socket.write(`${JSON.stringify({ return: {}, id: msg.id })}\r\n`);
        else handler(msg, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    path,
    server,
    sockets,
    done: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const reply = (socket: Socket, body: object): void => {
  socket.write(`${JSON.stringify(body)}\r\n`);
};

test('handshake, greeting and a command', async (t) => {
  const fake = await fakeQemu((msg, socket) => {
    if (msg.execute === 'query-status') reply(socket, { return: { status: 'running', running: true }, id: msg.id });
  });
  const qmp = await QmpClient.connect(fake.path, { timeoutMs: 2_000 });
  t.deepEqual((qmp.greeting.version as { qemu: object }).qemu, { major: 7, minor: 2, micro: 0 });
  t.deepEqual(await qmp.status(), { status: 'running', running: true });
  qmp.close();
  await fake.done();
});

test('answers are matched by id, not by order', async (t) => {
  const held: Parameters<Handler>[0][] = [];
  const fake = await fakeQemu((msg, socket) => {
    held.push(msg);
    if (held.length === 2) {
      // answer the second first
      reply(socket, { return: 'second', id: held[1]?.id });
      reply(socket, { return: 'first', id: held[0]?.id });
    }
  });
  const qmp = await QmpClient.connect(fake.path);
  const [a, b] = await Promise.all([qmp.execute('a'), qmp.execute('b')]);
  t.is(a, 'first');
  t.is(b, 'second');
  qmp.close();
  await fake.done();
});

test('an error answer rejects with QmpError carrying the class', async (t) => {
  const fake = await fakeQemu((msg, socket) => {
    reply(socket, { error: { class: 'CommandNotFound', desc: `The command ${msg.execute} has not been found` }, id: msg.id });
  });
  const qmp = await QmpClient.connect(fake.path);
  const error = await t.throwsAsync(qmp.execute('nope'), { instanceOf: QmpError });
  t.is(error?.qmpClass, 'CommandNotFound');
  t.regex(error?.message ?? '', /nope: CommandNotFound/);
  qmp.close();
  await fake.done();
});

test('a command without answer times out with DutError timeout; a late answer is ignored', async (t) => {
  let late: (() => void) | undefined;
  const fake = await fakeQemu((msg, socket) => {
    late = () => reply(socket, { return: {}, id: msg.id });
  });
  const qmp = await QmpClient.connect(fake.path);
  const error = await t.throwsAsync(qmp.execute('slow', undefined, { timeoutMs: 100 }), { instanceOf: DutError });
  t.is(error?.kind, 'timeout');
  late?.();
  await new Promise((r) => setTimeout(r, 50));
  t.false(qmp.closed);
  qmp.close();
  await fake.done();
});

test('events are emitted by name and waitable', async (t) => {
  const fake = await fakeQemu((msg, socket) => {
    if (msg.execute === 'system_reset') {
      reply(socket, { return: {}, id: msg.id });
      reply(socket, { event: 'RESET', data: { guest: false, reason: 'host-qmp-system-reset' }, timestamp: { seconds: 1, microseconds: 2 } });
    }
  });
  const qmp = await QmpClient.connect(fake.path);
  const seen: string[] = [];
  qmp.on('event', (e) => seen.push(e.event));
  const byName = new Promise((resolve) => qmp.once('RESET', resolve));
  const waited = qmp.waitForEvent('RESET', { timeoutMs: 1_000 });
  await qmp.reset();
  const event = await waited;
  await byName;
  t.is(event.data.reason, 'host-qmp-system-reset');
  t.deepEqual(seen, ['RESET']);
  await t.throwsAsync(qmp.waitForEvent('POWERDOWN', { timeoutMs: 50 }), { message: /no QMP POWERDOWN event within 50 ms/ });
  qmp.close();
  await fake.done();
});

test('hang-up rejects pending commands with DutError process', async (t) => {
  const fake = await fakeQemu((_msg, socket) => socket.destroy());
  const qmp = await QmpClient.connect(fake.path);
  const error = await t.throwsAsync(qmp.execute('query-status'), { instanceOf: DutError });
  t.is(error?.kind, 'process');
  t.true(qmp.closed);
  await t.throwsAsync(qmp.execute('query-status'), { message: /connection closed/ });
  await fake.done();
});

test('quit succeeds when QEMU hangs up instead of answering', async (t) => {
  const fake = await fakeQemu((msg, socket) => {
    if (msg.execute === 'quit') socket.destroy();
  });
  const qmp = await QmpClient.connect(fake.path);
  await t.notThrowsAsync(qmp.quit());
  t.true(qmp.closed);
  await fake.done();
});

test('hmp passes the command line and returns the text', async (t) => {
  const fake = await fakeQemu((msg, socket) => {
    reply(socket, { return: `ran: ${String(msg.arguments?.['command-line'])}\r\n`, id: msg.id });
  });
  const qmp = await QmpClient.connect(fake.path);
  t.is(await qmp.hmp('info status'), 'ran: info status\r\n');
  qmp.close();
  await fake.done();
});

test('connect gives up after its budget when nobody listens', async (t) => {
  const started = Date.now();
  const error = await t.throwsAsync(QmpClient.connect('/nonexistent/qmp.sock', { timeoutMs: 300 }), { instanceOf: DutError });
  t.regex(error?.message ?? '', /not reachable within 300 ms/);
  t.true(Date.now() - started < 2_000);
});

test('connect without greeting times out', async (t) => {
  const fake = await fakeQemu(() => undefined, { greet: false });
  await t.throwsAsync(QmpClient.connect(fake.path, { timeoutMs: 200 }), { message: /no QMP greeting/ });
  await fake.done();
});

test('connect stops retrying when aborted', async (t) => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 100);
  const started = Date.now();
  await t.throwsAsync(QmpClient.connect('/nonexistent/qmp.sock', { timeoutMs: 5_000, signal: controller.signal }), { message: /aborted/ });
  t.true(Date.now() - started < 1_000);
});
