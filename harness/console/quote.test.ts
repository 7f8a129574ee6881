import { execFileSync } from 'node:child_process';
import test from 'ava';
import { MAX_LINE_BYTES, shellQuote } from './quote.ts';

const SHELLS = [['sh'], ['bash'], ['busybox', 'sh']] as const;

const CASES: Array<[string, string]> = [
  ['empty', ''],
  ['plain', 'echo hello world'],
  ['single quotes', "it's 'quoted' ''"],
  ['double quotes and expansions', `"$HOME" \`id\` $(id) \${x:-y} $? $$ !! !$`],
  ['backslashes', 'a\\b\\\\c\\n\\t\\'],
  ['newlines', 'line 1\nline 2\n\n'],
  ['control characters the tty would act on', 'a\x03b\x04c\x15d\x11e\x13f\x1ag\x7fh\ri\tj\x1bk'],
  ['UTF-8', 'µs → ✓ 日本語'],
  ['one long line with quotes', `${"x'y\\".repeat(2000)}`],
  ['long UTF-8 line', '✓'.repeat(3000)],
];

for (const argv of SHELLS) {
  for (const [name, text] of CASES) {
    test(`${argv.join(' ')}: ${name} round-trips`, (t) => {
      const quoted = shellQuote(text);
      const [command = 'sh', ...args] = argv;
      const out = execFileSync(command, [...args, '-c', `printf %s ${quoted}`]);
      t.is(out.toString('utf8'), text);
    });
  }
}

test('no physical line exceeds the limit, far under the 4095-byte tty line', (t) => {
  for (const [, text] of CASES) {
    for (const line of shellQuote(text).split('\n')) t.true(Buffer.byteLength(line) <= MAX_LINE_BYTES);
  }
  t.true(shellQuote('x'.repeat(10_000)).split('\n').length >= 10);
});

test('the quoted text holds no control characters but newline', (t) => {
  const quoted = shellQuote(CASES[6]?.[1] ?? '');
  t.true([...quoted].every((char) => char === '\n' || (char >= ' ' && char !== '\x7f')));
});

test('NUL is refused', (t) => {
  t.throws(() => shellQuote('a\0b'), { message: /NUL/ });
});
