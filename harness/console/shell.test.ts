/**
 * The marker protocol against a scripted DUT, for byte sequences a real shell
 * will not produce on demand: kernel records spliced into the markers,
 * markers delivered byte by byte, look-alike markers.
 */
import test from 'ava';
import { CommandError, DutError } from '../errors.ts';
import { Console } from './console.ts';
import { Shell } from './shell.ts';
import { FakeDut, framed, parseRunLine, type RunLine } from './testing/fake-dut.ts';

type Reply = (run: RunLine) => string | Promise<string>;

/** A fake shell: answers the setup checks, then `reply` answers every run line; `echo` echoes each line first, as a tty with echo on. */
async function setup(reply: Reply, options: { trickle?: boolean; echo?: boolean } = {}) {
  const dut = new FakeDut();
  const console = new Console({ stream: dut.stream, name: 'fake-1', rebootExpected: false });
  /** Every run line after the setup checks. */
  const runs: RunLine[] = [];
  dut.onLine((line) => {
    if (options.echo) dut.say(`${line}\r\n`);
    const run = parseRunLine(line);
    if (!run) return;
    if (run.quoted === "'echo ready'") {
      dut.say(framed(run, 'ready\n', 0));
      return;
    }
    runs.push(run);
    void Promise.resolve(reply(run)).then((text) => (options.trickle ? dut.trickle(text) : dut.say(text)));
  });
  const shell = await Shell.attach(console, { setupTimeoutMs: 2000 });
  return { dut, console, shell, runs };
}

const KMSG = '[   12.345678] random: crng init done\r\n';

test('kernel records spliced into the output and the markers are cut out', async (t) => {
  const { console, shell, runs } = await setup(({ marker, start }) => {
    const [a, b] = [marker.slice(0, 5), marker.slice(5)];
    const begin = start ? `dutlab$ \r\n${a}${KMSG}${b}:S\r\n` : '';
    return `${begin}hel${KMSG}lo\r\n[   13.000001] systemd[1]: Started Journal Service.\r\nworld\r\n\r\n${a}${KMSG}${b}:E:4${KMSG}2\r\ndutlab$ `;
  });
  t.like(await shell.run('anything'), { output: 'hello\nworld\n', exitCode: 42 });
  // Another use of the line: the next command prints a start marker, split by a record too.
  await console.send('\n');
  t.like(await shell.run('anything'), { output: 'hello\nworld\n', exitCode: 42 });
  t.deepEqual(
    runs.map((run) => run.start),
    [false, true],
  );
});

test('right after a clean end output begins after the prompt; after a timeout, an interrupt or another use of the line, after a start marker', async (t) => {
  let calls = 0;
  const { console, shell, runs } = await setup((run) => (++calls === 2 ? 'started...\r\n' : framed(run, `out ${calls}`, 0)));
  t.like(await shell.run('one'), { output: 'out 1' });
  await t.throwsAsync(shell.run('hangs', { timeoutMs: 100 }), { instanceOf: DutError });
  t.like(await shell.run('three'), { output: 'out 3' });
  t.like(await shell.run('four'), { output: 'out 4' });
  // Another reader takes the prompt: waiting for it would wait forever.
  await console.expect(['dutlab$ '], { timeoutMs: 1000 });
  t.like(await shell.run('five'), { output: 'out 5' });
  const controller = new AbortController();
  controller.abort(new Error('stop'));
  await t.throwsAsync(shell.run('six', { signal: controller.signal }));
  t.like(await shell.run('seven'), { output: 'out 7' });
  t.deepEqual(
    runs.map((run) => [run.quoted, run.start]),
    [
      ["'one'", false],
      ["'hangs'", false],
      ["'three'", true],
      ["'four'", false],
      ["'five'", true],
      ["'six'", false],
      ["'seven'", true],
    ],
  );
});

test('markers and output arriving one byte at a time', async (t) => {
  const { shell } = await setup((run) => framed(run, 'a\x1b[1mb\x1b[0m\nc', 7), { trickle: true });
  t.like(await shell.run('x'), { output: 'ab\nc', exitCode: 7 });
});

test('a fake prompt and look-alike markers in the output do not end it', async (t) => {
  let printed = '';
  const { shell } = await setup((run) => {
    // Our prompt, other prompts, an old marker, a half marker, ours without a status, our start marker.
    printed = `root@dut:~# \n# \ndutlab$ \ndlbcdfghjk:E:0\n${run.marker.slice(0, 6)}:E:1\n${run.marker}:E:\n${run.marker}:S\ndone`;
    return framed(run, printed, 3);
  });
  const result = await shell.run('x');
  t.is(result.exitCode, 3);
  t.is(result.output, printed);
});

test('a line that echoes input: every command prints a start marker, and the echo is not output', async (t) => {
  const { shell, runs } = await setup((run) => framed(run, 'out', 0), { echo: true });
  t.like(await shell.run('x'), { output: 'out' });
  t.like(await shell.run('x'), { output: 'out' });
  t.deepEqual(
    runs.map((run) => run.start),
    [true, true],
  );
});

test('leftovers before where output begins (prompts, echo, old markers) are not output', async (t) => {
  const { console, shell } = await setup((run) => `dutlab$ _dls x\\y ${run.quoted}\r\ndlzzzzzzzz:E:5\r\n${framed(run, 'out', 0)}`);
  await console.send('\n');
  t.like(await shell.run('x'), { output: 'out', exitCode: 0 }, 'after a start marker');
  // A job's notice comes before the prompt that follows the end marker.
  const late = await setup((run) => framed(run, 'out', 0).replace(/dutlab\$ $/, '[1]+  Done    sleep 1\r\ndutlab$ '));
  t.like(await late.shell.run('x'), { output: 'out', exitCode: 0 });
  t.like(await late.shell.run('x'), { output: 'out', exitCode: 0 }, 'after the prompt');
});

test('100 KB of output with kernel records every few KB', async (t) => {
  const line = `${'0123456789'.repeat(9)}abcdefghi\n`;
  const output = line.repeat(1024);
  const { shell } = await setup((run) => {
    const text = framed(run, output, 0);
    return text.replaceAll(/(.{4000})/gs, `$1${KMSG}`);
  });
  const result = await shell.run('big');
  t.is(result.output.length, 102_400);
  t.is(result.output, output);
});

test('kernelLog keeps printk-looking lines in the output', async (t) => {
  const { shell } = await setup((run) => framed(run, '[    0.000000] Linux version 6.1\n[    1.0] ok\n', 0));
  t.like(await shell.run('dmesg', { kernelLog: true }), { output: '[    0.000000] Linux version 6.1\n[    1.0] ok\n' });
  t.like(await shell.run('dmesg'), { output: '' });
});

test('runOk throws a CommandError with the exit code and the output tail', async (t) => {
  const { shell } = await setup((run) => framed(run, Array.from({ length: 40 }, (_, i) => `line ${i}`).join('\n'), 1));
  const error = await t.throwsAsync(shell.runOk('make', { step: 'build' }), { instanceOf: CommandError });
  t.is(error.kind, 'command');
  t.is(error.exitCode, 1);
  t.is(error.step, 'build');
  t.regex(error.message, /`make` exited 1\nline 25\n[^]*line 39$/);
  t.false(error.message.includes('line 24'));
});

test('a timeout rejects, interrupts the command with ^C, and the next command runs', async (t) => {
  let calls = 0;
  const { dut, shell } = await setup((run) => (++calls === 1 ? 'started...\r\n' : framed(run, 'next', 0)));
  const error = await t.throwsAsync(shell.run('sleep 100', { timeoutMs: 100 }), { instanceOf: DutError });
  t.is(error.kind, 'timeout');
  t.regex(error.excerpt ?? '', /started\.\.\./);
  t.true(dut.received.endsWith('\x03'));
  t.like(await shell.run('true'), { output: 'next' });
});

test('concurrent callers are queued: one command on the line at a time, results to the right caller', async (t) => {
  let inFlight = 0;
  let maxInFlight = 0;
  const { shell } = await setup(async (run) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    inFlight -= 1;
    return framed(run, run.quoted, run.quoted.length);
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
  const { shell } = await setup((run) =>
    ++calls === 1 ? framed(run, 'Linux version 6.1.0 (gcc) #1 SMP\n', 0) : '\r\n[    0.000000] Linux version 6.1.0 (gcc) #1 SMP\r\n',
  );
  t.like(await shell.run('cat /proc/version'), { exitCode: 0 });
  t.like(await t.throwsAsync(shell.run('sleep 1', { timeoutMs: 200 })), { kind: 'reset' });
});
