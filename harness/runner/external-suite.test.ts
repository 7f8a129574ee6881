/**
 * The README's minimal suite of one's own, copied out of the README into a
 * folder outside the project: dutlab loads it with `dutlab` and
 * `dutlab/balena` resolved to itself, and a user's `tsc` type-checks it
 * against the installed package (a mistyped use of the API is an error).
 * It runs on a real DUT in harness/cli/run-command.test.ts.
 */
import test from 'ava';
import { execa } from 'execa';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadSuite } from './discover.ts';
import { readmeSuite, writeReadmeSuite } from './testing/readme-suite.ts';

test('the README suite loads from a folder outside the project, importing dutlab and dutlab/balena', async (t) => {
  const files = await readmeSuite();
  t.deepEqual(Object.keys(files).sort(), ['10-basics.ts', 'suite.ts']);
  const suite = await writeReadmeSuite();
  t.teardown(() => rm(path.dirname(suite), { recursive: true, force: true }));
  const loaded = await loadSuite(suite);
  t.is(loaded.name, 'my-product');
  t.is(loaded.definition.title, 'my product on balenaOS');
  t.deepEqual(
    loaded.tests.map((x) => x.title),
    ['the OS names its version and the engine answers', 'a missing file is reported by its exit code, and time moves on'],
  );
});

test('a suite of one\'s own type-checks against the installed package, and a misuse of the API is a type error', async (t) => {
  const suite = await writeReadmeSuite();
  const folder = path.dirname(suite);
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  // As `npm install --save-dev /path/to/dutlab` leaves it.
  await mkdir(path.join(suite, 'node_modules'));
  await symlink(path.resolve('.'), path.join(suite, 'node_modules', 'dutlab'));
  const tsconfig = {
    compilerOptions: {
      module: 'NodeNext',
      target: 'ES2022',
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      typeRoots: [path.resolve('node_modules/@types')],
      types: ['node'],
    },
    include: ['*.ts'],
  };
  await writeFile(path.join(suite, 'tsconfig.json'), JSON.stringify(tsconfig));
  const tsc = path.resolve('node_modules/.bin/tsc');
  const clean = await execa(tsc, ['-p', suite], { reject: false });
  t.is(clean.exitCode, 0, clean.stdout);

  await writeFile(
    path.join(suite, '20-wrong.ts'),
    "import { defineTests } from 'dutlab';\nexport default defineTests({ title: 'x', async run(t) { const up: number = await t.sh('cat /proc/uptime'); t.log(String(up)); } });\n",
  );
  const wrong = await execa(tsc, ['-p', suite], { reject: false });
  t.not(wrong.exitCode, 0);
  t.regex(wrong.stdout, /20-wrong\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
});

test('a test that is neither run() nor beforeReboot() + afterReboot() is refused at load, naming its file and title', async (t) => {
  const cases: [string, RegExp][] = [
    ['{ title: "both", async run() {}, async beforeReboot() {}, async afterReboot() {} }', /20-odd\.ts: test "both": has run\(\) and a reboot part/],
    ['{ title: "half", async beforeReboot() {} }', /20-odd\.ts: test "half": has beforeReboot\(\) without afterReboot\(\)/],
    ['{ title: "empty" }', /20-odd\.ts: test "empty": has neither run\(\) nor beforeReboot\(\) \+ afterReboot\(\)/],
  ];
  for (const [definition, message] of cases) {
    // A fresh folder each time: a module once imported is not imported again.
    const folder = await writeReadmeSuite();
    t.teardown(() => rm(path.dirname(folder), { recursive: true, force: true }));
    await writeFile(path.join(folder, '20-odd.ts'), `export default [${definition}];\n`);
    await t.throwsAsync(loadSuite(folder), { message }, definition);
  }
});
