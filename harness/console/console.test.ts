import test from 'ava';
import { DutError } from '../errors.ts';
import { Console } from './console.ts';
import { textOf } from './transcript.ts';
import { FakeDut } from './testing/fake-dut.ts';

function setup(options: Partial<ConstructorParameters<typeof Console>[0]> = {}) {
  const dut = new FakeDut();
  const console = new Console({ stream: dut.stream, name: 'fake-1', rebootExpected: false, ...options });
  return { dut, console };
}

test('expect resolves with the pattern index, the match and the text before it, and consumes through the match', async (t) => {
  const { dut, console } = setup();
  dut.say('U-Boot? no. Welcome\r\n\x1b[1mdut login: \x1b[0m');
  const first = await console.expect(['Password:', /(\w+) login: /], { timeoutMs: 1000 });
  t.is(first.index, 1);
  t.is((first.match as RegExpExecArray)[1], 'dut');
  t.is(first.before, 'U-Boot? no. Welcome\n');
  dut.say('more');
  const second = await console.expect(['more'], { timeoutMs: 1000 });
  t.is(second.before, '');
  t.is(second.match, 'more');
});

test('the earliest match in the text wins, whatever the pattern order', async (t) => {
  const { dut, console } = setup();
  dut.say('Password: then login: ');
  const seen = await console.expect([/login: /, 'Password: '], { timeoutMs: 1000 });
  t.is(seen.index, 1);
});

test('patterns match across byte-by-byte chunks and escape codes', async (t) => {
  const { dut, console } = setup();
  const waiting = console.expect(['login: '], { timeoutMs: 5000 });
  await dut.trickle('boot\r\nlo\x1b[0mg\x1b]0;t\x07in\x1b[?2004h: ');
  t.is((await waiting).before, 'boot\n');
});

test('a timeout rejects with a typed error carrying the last ~2 KB of output', async (t) => {
  const { dut, console } = setup();
  dut.say(`${'x'.repeat(5000)}\r\nlast words`);
  const error = await t.throwsAsync(console.expect(['login: '], { timeoutMs: 100, step: 'waiting' }), { instanceOf: DutError });
  t.is(error.kind, 'timeout');
  t.is(error.dut, 'fake-1');
  t.is(error.step, 'waiting');
  t.regex(error.message, /"login: " not seen within 100 ms/);
  t.true((error.excerpt ?? '').endsWith('x\nlast words'));
  t.true((error.excerpt ?? '').length <= 2048);
});

test('text read during a timed-out wait is still there for the next one', async (t) => {
  const { dut, console } = setup();
  dut.say('dut logi');
  await t.throwsAsync(console.expect(['login: '], { timeoutMs: 50 }));
  dut.say('n: ');
  t.is((await console.expect(['login: '], { timeoutMs: 1000 })).before, 'dut ');
});

test('the stream closing mid-wait rejects with console-lost, and so does every later call', async (t) => {
  const { dut, console } = setup();
  const waiting = console.expect(['never'], { timeoutMs: 5000, step: 'booting' });
  setTimeout(() => dut.hangUp(), 20);
  const error = await t.throwsAsync(waiting, { instanceOf: DutError });
  t.is(error.kind, 'console-lost');
  t.is(error.step, 'booting');
  t.like(await t.throwsAsync(console.expect(['x'], { timeoutMs: 100 })), { kind: 'console-lost' });
  t.like(await t.throwsAsync(console.send('x')), { kind: 'console-lost' });
});

test('only one wait at a time', async (t) => {
  const { dut, console } = setup();
  const first = console.expect(['a'], { timeoutMs: 1000 });
  await t.throwsAsync(console.expect(['b'], { timeoutMs: 1000 }), { message: /already active/ });
  dut.say('a');
  await first;
});

test('sends are cut into paced chunks and recorded as input', async (t) => {
  const { dut, console } = setup({ sendChunkBytes: 4, sendPauseMs: 1 });
  await Promise.all([console.send('0123456789\n'), console.send('second\n')]);
  t.is(dut.received, '0123456789\nsecond\n');
  t.is(dut.writes, 5);
  t.is(textOf(console.transcript.entries, ['input']), '0123456789\nsecond\n');
});

test('the transcript keeps raw bytes while matching sees clean text', async (t) => {
  const { dut, console } = setup();
  dut.say('\x1b[?2004hroot@dut:~# ');
  await console.expect([/# $/], { timeoutMs: 1000 });
  t.is(textOf(console.transcript.entries), '\x1b[?2004hroot@dut:~# ');
});

test('unread text is bounded while nobody waits', async (t) => {
  const { dut, console } = setup({ maxBufferChars: 1000 });
  dut.say('a'.repeat(5000));
  dut.say('END');
  await new Promise((resolve) => setImmediate(resolve));
  const seen = await console.expect(['END'], { timeoutMs: 1000 });
  t.is(seen.before.length, 997);
});

test('tolerated kernel traces are noted, not raised; once switched off they raise again', async (t) => {
  const { dut, console } = setup();
  console.tolerateTraces(true);
  const waiting = console.expect(['login: '], { timeoutMs: 5000 });
  dut.say('[    1.0] Kernel panic - not syncing: No working init found.\r\n[    1.1] ---[ end Kernel panic - not syncing: No working init found. ]---\r\nlogin: ');
  await waiting;
  t.regex(textOf(console.transcript.entries, ['info']), /expected .*Kernel panic/);
  console.tolerateTraces(false);
  const failing = console.expect(['never'], { timeoutMs: 5000 });
  dut.say('[    2.0] Kernel panic - not syncing: again\r\n[    2.1] ---[ end Kernel panic - not syncing: again ]---\r\n');
  const error = await t.throwsAsync(failing, { instanceOf: DutError });
  t.is(error?.kind, 'panic');
});
