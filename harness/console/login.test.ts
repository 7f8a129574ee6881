import test from 'ava';
import { DutError } from '../errors.ts';
import { Console } from './console.ts';
import { login } from './login.ts';
import { answerRuns, FakeDut, framed } from './testing/fake-dut.ts';

/** A fake getty and shell: answers the protocol's run lines by echoing `echo`'s argument. */
function setup() {
  const dut = new FakeDut();
  const console = new Console({ stream: dut.stream, name: 'fake-1' });
  answerRuns(dut, (run) => framed(run, `${/^'echo (.*)'$/.exec(run.quoted)?.[1] ?? ''}\n`, 0));
  return { dut, console };
}

test('login: prompt, user sent, no password asked, shell prompt, shell set up', async (t) => {
  const { dut, console } = setup();
  dut.onLine((line) => {
    if (line === 'root') dut.say('root\r\nLast login: Mon Jan  1 00:00:00 UTC 2024 on ttyS0\r\n\x1b[?2004hroot@dut:~# ');
  });
  dut.say('\xff\x00\xfe garbage from the UART\r\n[    1.0] systemd[1]: Started Getty.\r\n\r\nDebian GNU/Linux 12 dut ttyS0\r\n\r\ndut login: ');
  const shell = await login(console, { timeoutMs: 5000 });
  t.true(dut.received.startsWith('root\n'));
  t.regex(dut.received, /stty -echo[^\n]*_dls\(\) \{/);
  t.like(await shell.run('echo hello'), { output: 'hello\n', exitCode: 0, truncated: false });
});

test('a password prompt gets the password', async (t) => {
  const { dut, console } = setup();
  dut.onLine((line) => {
    if (line === 'admin') dut.say('Password: ');
    if (line === 's3cret') dut.say('\r\n$ ');
  });
  dut.say('dut login: ');
  await login(console, { user: 'admin', password: 's3cret', timeoutMs: 5000 });
  t.true(dut.received.startsWith('admin\ns3cret\n'));
});

test('an already logged-in, silent shell is poked awake', async (t) => {
  const { dut, console } = setup();
  dut.onLine((line) => {
    if (line === '') dut.say('\r\n/ # ');
  });
  await login(console, { timeoutMs: 5000, pokeMs: 100 });
  t.true(dut.received.startsWith('\n'));
  t.false(dut.received.includes('root'));
});

test('a line that never shows a prompt times out at the deadline with an excerpt', async (t) => {
  const { dut, console } = setup();
  const noise = setInterval(() => dut.say('[   99.0] eth0: link down\r\n'), 20);
  const started = Date.now();
  const error = await t.throwsAsync(login(console, { timeoutMs: 1200, pokeMs: 400 }), { instanceOf: DutError });
  clearInterval(noise);
  t.is(error.kind, 'timeout');
  t.is(error.step, 'login');
  t.regex(error.message, /no shell prompt within 1200 ms/);
  t.regex(error.excerpt ?? '', /eth0: link down\n$/);
  t.true(Date.now() - started < 3000);
  // Output kept flowing: no poke was needed.
  t.is(dut.received, '');
});

test('a quiet line without a prompt is poked, then times out', async (t) => {
  const { dut, console } = setup();
  await t.throwsAsync(login(console, { timeoutMs: 2500, pokeMs: 200 }), { message: /no shell prompt/ });
  t.regex(dut.received, /^\n+$/);
});

test('rejected logins end with a config error after maxRejections', async (t) => {
  const { dut, console } = setup();
  dut.onLine((line) => {
    if (line === 'root') dut.say('Password: ');
    else dut.say('\r\nLogin incorrect\r\ndut login: ');
  });
  dut.say('dut login: ');
  const error = await t.throwsAsync(login(console, { password: 'wrong', timeoutMs: 5000 }), { instanceOf: DutError });
  t.is(error.kind, 'config');
  t.regex(error.message, /rejected 3 times/);
});

test('a panic during login is not mistaken for silence', async (t) => {
  const { dut, console } = setup();
  setTimeout(() => dut.say('[ 3.0] Kernel panic - not syncing: No working init found.\r\n[ 3.1] ---[ end Kernel panic ]---\r\n'), 50);
  t.like(await t.throwsAsync(login(console, { timeoutMs: 5000, pokeMs: 100 })), { kind: 'panic' });
});
