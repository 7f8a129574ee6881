/**
 * The engine against real shells behind a real pty, reached through
 * `serialport` as a QEMU guest's `-chardev pty` serial line is: bash (with a
 * Debian-style coloured prompt and title-setting PROMPT_COMMAND), dash, and
 * busybox ash, each with its own line editor, echo and prompt habits.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { CommandError, DutError } from '../errors.ts';
import { Console } from './console.ts';
import { login } from './login.ts';
import type { Shell } from './shell.ts';
import { KERNEL_NOISE, mangle } from './testing/mangle.ts';
import { spawnPtyDut } from './testing/pty-dut.ts';

const BASHRC = join(tmpdir(), `dutlab-bashrc-${process.pid}`);
writeFileSync(BASHRC, String.raw`PS1='\[\e[01;32m\]\u@\h\[\e[00m\]:\[\e[01;34m\]\w\[\e[00m\]\$ '
PROMPT_COMMAND='echo -ne "\033]0;\u@\h: \w\007"'
alias ls='ls --color=auto'
`);
test.after.always(() => rmSync(BASHRC, { force: true }));

const SHELLS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['bash', ['bash', '--noprofile', '--rcfile', BASHRC, '-i']],
  ['dash', ['dash', '-i']],
  ['busybox ash', ['busybox', 'sh', '-i']],
];

async function ptyShell(t: ExecutionContext, argv: readonly string[], noise?: { seed: number; maxChunk: number }): Promise<Shell> {
  const dut = await spawnPtyDut(argv);
  t.teardown(() => dut.close());
  const stream = noise ? mangle(dut.port, { ...noise, injectRate: 0.02, injections: KERNEL_NOISE }) : dut.port;
  const console = new Console({ stream, name: 'pty-1' });
  t.teardown(() => console.close());
  return login(console, { timeoutMs: 10_000, pokeMs: 500 });
}

// [command, exit code, output]
const EXIT_CODES: ReadonlyArray<readonly [string, number, string?]> = [
  ['true', 0, ''],
  ['false', 1, ''],
  ['exit 42', 42],
  ['no-such-command-dutlab', 127],
  ['(exit 3)', 3],
  ['sh -c "exit 200"', 200],
  ['exit 255', 255],
  ['test 1 -eq 2', 1],
  ['echo a; false', 1, 'a\n'],
  ['false; echo a', 0, 'a\n'],
  ['set -e; false; echo unreachable', 1, ''],
  ["sh -c 'kill -9 $$'", 137],
  ['if then', 2],
  ['read line', 1, ''],
  ['cat', 0, ''],
  ['grep -q root /etc/passwd', 0, ''],
  ['grep -q no-such-user-dutlab /etc/passwd', 1, ''],
  ['echo $((6 * 7))', 0, '42\n'],
  ['printf x', 0, 'x'],
  ['echo out; echo err >&2; exit 9', 9, 'out\nerr\n'],
];

const QUOTING: ReadonlyArray<readonly [string, string]> = [
  [`echo "it's \\"double\\" and 'single'"`, `it's "double" and 'single'\n`],
  [`printf '%s\\n' 'a\\b' "\\$HOME" '$HOME' "back\\\\slash"`, 'a\\b\n$HOME\n$HOME\nback\\slash\n'],
  [`x='  spaced  '; echo "[$x]"`, '[  spaced  ]\n'],
  ['for i in 1 2 3; do\n  echo "n=$i"\ndone', 'n=1\nn=2\nn=3\n'],
  ["cat <<'EOF'\n$NOT_EXPANDED `backtick` \\ 'q' \"qq\"\nEOF", "$NOT_EXPANDED `backtick` \\ 'q' \"qq\"\n"],
  [`echo '!!' "!x" '$(id)' '\`id\`'`, '!! !x $(id) `id`\n'],
  [`printf 'tab\\there\\n'`, 'tab\there\n'],
  ["printf '%s\\n' 'tab\tinside' 'cr\rinside'", 'tab\tinside\ncrinside\n'],
  [`echo 'µs → ✓'`, 'µs → ✓\n'],
  [`echo ${'x'.repeat(6000)}`, `${'x'.repeat(6000)}\n`],
  [`printf '%s' '${"a'\\''b\\\\c$d ".repeat(800)}' | wc -c`, '7200\n'],
];

for (const [name, argv] of SHELLS) {
  test(`${name}: 20 commands come back with the right exit code and output`, async (t) => {
    const shell = await ptyShell(t, argv);
    for (const [command, exitCode, output] of EXIT_CODES) {
      const result = await shell.run(command, { timeoutMs: 5000 });
      t.is(result.exitCode, exitCode, command);
      if (output !== undefined) t.is(result.output, output, command);
    }
    t.regex((await shell.run('no-such-command-dutlab')).output, /not found/);
  });

  test(`${name}: quoting torture`, async (t) => {
    const shell = await ptyShell(t, argv);
    for (const [command, output] of QUOTING) {
      t.like(await shell.run(command, { timeoutMs: 5000 }), { output, exitCode: 0 }, command.slice(0, 60));
    }
  });

  test(`${name}: 100 KB outputs`, async (t) => {
    const shell = await ptyShell(t, argv);
    const zeros = await shell.run("head -c 102400 /dev/zero | tr '\\0' x", { timeoutMs: 10_000 });
    t.is(zeros.output, 'x'.repeat(102_400));
    const seq = await shell.run('seq 1 20000', { timeoutMs: 10_000 });
    t.is(seq.output, `${Array.from({ length: 20_000 }, (_, i) => i + 1).join('\n')}\n`);
  });

  test(`${name}: escape codes, fake prompts, kernel lines and panics in output`, async (t) => {
    const shell = await ptyShell(t, argv);
    t.like(await shell.run(`printf '\\033[1;31mred\\033[0m \\033]0;title\\007\\033[?2004hplain\\n'`), { output: 'red plain\n' });
    t.like(await shell.run(`printf 'root@host:~# \\n# \\ndutlab$ '`), { output: 'root@host:~# \n# \ndutlab$ ' });
    const kernel = `printf 'a\\n[   12.345678] random: crng init done\\nb\\n'`;
    t.like(await shell.run(kernel), { output: 'a\nb\n' });
    t.like(await shell.run(kernel, { kernelLog: true }), { output: 'a\n[   12.345678] random: crng init done\nb\n' });
    const panic = shell.run(`printf '[   99.000000] Kernel panic - not syncing: test\\n[   99.1] ---[ end Kernel panic ]---\\n'`);
    t.like(await t.throwsAsync(panic), { kind: 'panic' });
    t.like(await shell.run('echo still here'), { output: 'still here\n' });
  });

  test(`${name}: state does not leak between commands; stdin is not the console`, async (t) => {
    const shell = await ptyShell(t, argv);
    await shell.run('cd /tmp; export DUTLAB_X=1; set -e');
    t.like(await shell.run('pwd; echo "x=${DUTLAB_X:-unset}"; false; echo after'), { output: `${process.cwd()}\nx=unset\nafter\n` });
    // A command reading stdin gets EOF instead of the next command line.
    const [reader, next] = await Promise.all([shell.run('cat; echo cat-done'), shell.run('echo next')]);
    t.is(reader.output, 'cat-done\n');
    t.is(next.output, 'next\n');
  });

  test(`${name}: a command that cannot change the shell runs in it (bash only), one that could in a subshell`, async (t) => {
    const shell = await ptyShell(t, argv);
    // A child's parent is the login shell only when no subshell stood between them.
    const parents = async (command: string): Promise<string[]> => (await shell.runOk(command)).output.trim().split('\n');
    const [child, login] = await parents("sh -c 'echo $PPID'; echo $$");
    if (name === 'bash') t.is(child, login);
    else t.not(child, login);
    const [subChild, subLogin] = await parents("x=1; sh -c 'echo $PPID'; echo $$");
    t.not(subChild, subLogin);
  });
}

test('bash: concurrent callers get their own results', async (t) => {
  const shell = await ptyShell(t, SHELLS[0]?.[1] ?? []);
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => shell.run(`sleep 0.0${9 - i}; echo ${i}; exit ${i}`)));
  t.deepEqual(
    results.map((result) => [result.output, result.exitCode]),
    Array.from({ length: 10 }, (_, i) => [`${i}\n`, i]),
  );
});

test('dash: a command that outlives its timeout is interrupted and the shell carries on', async (t) => {
  const shell = await ptyShell(t, SHELLS[1]?.[1] ?? []);
  const started = Date.now();
  const error = await t.throwsAsync(shell.run('echo started; sleep 30', { timeoutMs: 300, step: 'slow' }), { instanceOf: DutError });
  t.is(error.kind, 'timeout');
  t.is(error.step, 'slow');
  t.regex(error.excerpt ?? '', /started/);
  t.like(await shell.run('echo alive', { timeoutMs: 5000 }), { output: 'alive\n' });
  // Well under the 30 s sleep: ^C ended it.
  t.true(Date.now() - started < 8000);
});

test('bash: runOk throws with the output tail', async (t) => {
  const shell = await ptyShell(t, SHELLS[0]?.[1] ?? []);
  const error = await t.throwsAsync(shell.runOk('echo building; ls /no-such-dir-dutlab'), { instanceOf: CommandError });
  t.is(error.exitCode, 2);
  t.regex(error.message, /building\n.*no-such-dir-dutlab/);
});

test('the relay dying mid-command is console-lost', async (t) => {
  const dut = await spawnPtyDut(['dash', '-i']);
  t.teardown(() => dut.close());
  const shell = await login(new Console({ stream: dut.port, name: 'pty-1' }), { timeoutMs: 10_000, pokeMs: 500 });
  const running = shell.run('sleep 30', { timeoutMs: 10_000 });
  setTimeout(() => dut.relay.kill('SIGKILL'), 200);
  t.like(await t.throwsAsync(running), { kind: 'console-lost' });
});

test('login through a getty-like prompt on a real tty, then a coloured bash', async (t) => {
  // Like agetty, an empty line (a poke typed ahead while it started) just prompts again.
  const getty = String.raw`printf '\033[2J\033[H\r\nDebian GNU/Linux 12 dut ttyS0\r\n\r\n'
while :; do printf 'dut login: '; read user; [ -n "$user" ] && break; done
printf 'Password: '; stty -echo; read pass; stty echo; echo
if [ "$user" = root ] && [ "$pass" = 'pa$$ word' ]; then exec bash --noprofile --rcfile "$1" -i; fi
echo 'Login incorrect'; sleep 60`;
  const dut = await spawnPtyDut(['sh', '-c', getty, 'getty', BASHRC]);
  t.teardown(() => dut.close());
  const console = new Console({ stream: dut.port, name: 'pty-1' });
  const shell = await login(console, { password: 'pa$$ word', timeoutMs: 10_000, pokeMs: 500 });
  t.like(await shell.run('echo $0'), { output: 'bash\n' });
});

for (const [seed, maxChunk] of [
  [1, 1],
  [2, 7],
  [3, 64],
] as const) {
  test(`line noise (seed ${seed}, chunks up to ${maxChunk} bytes, kernel records and escapes spliced in): output stays exact`, async (t) => {
    const shell = await ptyShell(t, ['dash', '-i'], { seed, maxChunk });
    for (const [command, exitCode, output] of EXIT_CODES) {
      const result = await shell.run(command, { timeoutMs: 10_000 });
      t.is(result.exitCode, exitCode, command);
      if (output !== undefined) t.is(result.output, output, command);
    }
    const big = await shell.run(maxChunk === 1 ? 'seq 1 4000' : 'seq 1 20000', { timeoutMs: 30_000 });
    t.is(big.output, `${Array.from({ length: maxChunk === 1 ? 4000 : 20_000 }, (_, i) => i + 1).join('\n')}\n`);
  });
}
