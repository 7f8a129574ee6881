/**
 * The marker protocol against a scripted DUT, for byte sequences a real shell
 * will not produce on demand: kernel records spliced into the markers,
 * markers delivered byte by byte, look-alike markers.
 */
import test from 'ava';
import { CommandError, DutError } from '../errors.ts';
import { Console } from './console.ts';
import { Shell } from './shell.ts';
import { FakeDut, framed, RUN_LINE } from './testing/fake-dut.ts';

type Reply = (quotedCommand: string, marker: string) => string | Promise<string>;

/** A fake shell: set up (answers the setup check), then `reply` answers every run line. */
async function setup(reply: Reply, options: { trickle?: boolean } = {}) {
  const dut = new FakeDut();
  const console = new Console({ stream: dut.stream, name: 'fake-1', rebootExpected: false });
  let ready = false;
  dut.onLine((line) => {
    const run = RUN_LINE.exec(line);
    if (!run) return;
    const marker = `${run[1]}${run[2]}`;
    if (!ready) {
      ready = true;
      dut.say(framed(marker, 'ready\n', 0));
      return;
    }
    void Promise.resolve(reply(run[3] ?? '', marker)).then((text) => (options.trickle ? dut.trickle(text) : dut.say(text)));
  });
  const shell = await Shell.attach(console, { setupTimeoutMs: 2000 });
  return { dut, console, shell };
}

const KMSG = '[   12.345678] random: crng init done\r\n';

test('kernel records spliced into the output and both markers are cut out', async (t) => {
  const { shell } = await setup((_, marker) => {
    const [a, b] = [marker.slice(0, 5), marker.slice(5)];
    return `dutlab$ \r\n${a}${KMSG}${b}:S\r\nhel${KMSG}lo\r\n[   13.000001] systemd[1]: Started Journal Service.\r\nworld\r\n\r\n${a}${KMSG}${b}:E:4${KMSG}2\r\n`;
  });
  t.like(await shell.run('anything'), { output: 'hello\nworld\n', exitCode: 42 });
});

test('markers and output arriving one byte at a time', async (t) => {
  const { shell } = await setup((_, marker) => framed(marker, 'a\x1b[1mb\x1b[0m\nc', 7), { trickle: true });
  t.like(await shell.run('x'), { output: 'ab\nc', exitCode: 7 });
});

test('a fake prompt and look-alike markers in the output do not end it', async (t) => {
  let printed = '';
  const { shell } = await setup((_, marker) => {
    // Our prompt, other prompts, an old marker, a half marker, ours without a status, our start marker.
    printed = `root@dut:~# \n# \ndutlab$ \ndlbcdfghjkmnpq:E:0\n${marker.slice(0, 6)}:E:1\n${marker}:E:\n${marker}:S\ndone`;
    return framed(marker, printed, 3);
  });
  const result = await shell.run('x');
  t.is(result.exitCode, 3);
  t.is(result.output, printed);
});

test('leftovers before the start marker (prompts, echo, old markers) are not output', async (t) => {
  const { shell } = await setup(
    (quoted, marker) => `dutlab$ __dutlab_run 'x''y' ${quoted}\r\ndlzzzzzzzzzzzz:E:5\r\n${framed(marker, 'out', 0)}`,
  );
  t.like(await shell.run('x'), { output: 'out', exitCode: 0 });
});

test('100 KB of output with kernel records every few KB', async (t) => {
  const line = `${'0123456789'.repeat(9)}abcdefghi\n`;
  const output = line.repeat(1024);
  const { shell } = await setup((_, marker) => {
    const text = framed(marker, output, 0);
    return text.replaceAll(/(.{4000})/gs, `$1${KMSG}`);
  });
  const result = await shell.run('big');
  t.is(result.output.length, 102_400);
  t.is(result.output, output);
});

test('kernelLog keeps printk-looking lines in the output', async (t) => {
  const { shell } = await setup((_, marker) => framed(marker, '[    0.000000] Linux version 6.1\n[    1.0] ok\n', 0));
  t.like(await shell.run('dmesg', { kernelLog: true }), { output: '[    0.000000] Linux version 6.1\n[    1.0] ok\n' });
  t.like(await shell.run('dmesg'), { output: '' });
});

test('runOk throws a CommandError with the exit code and the output tail', async (t) => {
  const { shell } = await setup((_, marker) => framed(marker, Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n'), 1));
  const error = await t.throwsAsync(shell.runOk('make', { step: 'build' }), { instanceOf: CommandError });
  t.is(error.kind, 'command');
  t.is(error.exitCode, 1);
  t.is(error.step, 'build');
  t.regex(error.message, /`make` exited 1\nline 25\n[^]*line 39$/);
  t.false(error.message.includes('line 24'));
});

test('a timeout rejects, interrupts the command with ^C, and the next command runs', async (t) => {
  let calls = 0;
  const { dut, shell } = await setup((_, marker) => (++calls === 1 ? 'started...\r\n' : framed(marker, 'next', 0)));
  const error = await t.throwsAsync(shell.run('sleep 100', { timeoutMs: 100 }), { instanceOf: DutError });
  t.is(error.kind, 'timeout');
  t.regex(error.excerpt ?? '', /started\.\.\./);
  t.true(dut.received.endsWith('\x03'));
  t.like(await shell.run('true'), { output: 'next' });
});

test('concurrent callers are queued: one command on the line at a time, results to the right caller', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const { shell } = await setup(async (quoted, marker) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    inFlight -= 1;
    return framed(marker, quoted, quoted.length);
  });
  const results = await Promise.all(['a', 'bb', 'ccc', 'dddd', 'eeeee'].map((command) => shell.run(command)));
  t.deepEqual(
    results.map((result) => [result.output, result.exitCode]),
    [
      ["'a'", 3],
      ["'bb'", 4],
      ["'ccc'", 5],
      ["'dddd'", 6],
      ["'eeeee'", 7],
    ],
  );
  t.is(maxInFlight, 1);
});

test('a boot banner in output of a completed command is not a reset; one in a hung command is', async (t) => {
  let calls = 0;
  const { shell } = await setup((_, marker) =>
    ++calls === 1 ? framed(marker, 'Linux version 6.1.0 (gcc) #1 SMP\n', 0) : '\r\n[    0.000000] Linux version 6.1.0 (gcc) #1 SMP\r\n',
  );
  t.like(await shell.run('cat /proc/version'), { exitCode: 0 });
  t.like(await t.throwsAsync(shell.run('sleep 1', { timeoutMs: 200 })), { kind: 'reset' });
});
