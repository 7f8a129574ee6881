import test, { type ExecutionContext } from 'ava';
import { mkdir, readFile, symlink, writeFile, readdir, chmod } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { hashTree, writeAtomically, exists } from './cache.ts';
import { layout, sfdiskScript, assembleDisk } from './disk.ts';
import { fingerprint } from './fingerprint.ts';
import { osIdentityFiles } from './os-release.ts';
import { loadRecipe } from '../recipe.ts';
import { Steps, type StepEvent } from './steps.ts';
import { tool } from './tool.ts';
import { ToolError } from '../../harness/errors.ts';
import { tempDir } from '../../harness/testing/temp-dir.ts';

const temp = (t: ExecutionContext) => tempDir(t, 'builder');

test('partitions are packed from 1 MiB in order and named by label', (t) => {
  const parts = [
    { name: 'resin-boot', file: 'b', sizeMiB: 40, type: 'efi' as const },
    { name: 'resin-rootA', file: 'a', sizeMiB: 1024, type: 'linux' as const },
  ];
  t.deepEqual(
    layout(parts).map((p) => p.startMiB),
    [1, 41],
  );
  const script = sfdiskScript(parts);
  t.regex(script, /^label: gpt$/m);
  t.regex(script, /start=2048, size=81920, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="resin-boot"/);
  t.regex(script, /start=83968, size=2097152, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="resin-rootA"/);
});

test('a disk assembled from partition files has them at the GPT offsets, by name', async (t) => {
  const dir = await temp(t);
  const a = path.join(dir, 'a.bin');
  const b = path.join(dir, 'b.bin');
  await writeFile(a, Buffer.alloc(1024 * 1024, 0x41));
  await writeFile(b, Buffer.concat([Buffer.from('second partition'), Buffer.alloc(2 * 1024 * 1024 - 16)]));
  const disk = path.join(dir, 'disk.img');
  await assembleDisk(disk, [
    { name: 'first', file: a, sizeMiB: 1, type: 'efi' },
    { name: 'second', file: b, sizeMiB: 2, type: 'linux' },
  ]);
  const table = JSON.parse((await execa('sfdisk', ['-J', disk])).stdout).partitiontable;
  t.is(table.label, 'gpt');
  t.deepEqual(
    table.partitions.map((p: { name: string; start: number; size: number }) => [p.name, p.start, p.size]),
    [
      ['first', 2048, 2048],
      ['second', 4096, 4096],
    ],
  );
  const bytes = await readFile(disk);
  t.is(bytes.subarray(2 * 1024 * 1024, 2 * 1024 * 1024 + 16).toString(), 'second partition');
  t.is(bytes[1024 * 1024], 0x41);
});

test('os identity files carry the balenaOS fields for the version', async (t) => {
  const { recipe } = await loadRecipe();
  const files = osIdentityFiles(recipe, '2.3.4');
  const osRelease = files['etc/os-release'] ?? '';
  for (const field of ['ID="balena-os"', 'NAME="balenaOS"', 'VERSION="2.3.4"', 'VERSION_ID="2.3.4"', 'META_BALENA_VERSION="2.3.4"', 'SLUG="generic-amd64"', 'MACHINE="', 'PRETTY_NAME="balenaOS 2.3.4"']) {
    t.true(osRelease.includes(field), field);
  }
  t.is(files['etc/issue'], 'balenaOS 2.3.4\n\n');
  t.not(files['usr/lib/balena/release'], osIdentityFiles(recipe, '2.3.5')['usr/lib/balena/release']);
});

test('the fingerprint lists regular files with md5s, skips mutable paths, and md5sum -c accepts it', async (t) => {
  const root = await temp(t);
  await mkdir(path.join(root, 'usr/bin'), { recursive: true });
  await mkdir(path.join(root, 'var/log'), { recursive: true });
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'usr/bin/tool'), 'binary');
  await writeFile(path.join(root, 'etc/machine-id'), 'abc');
  await writeFile(path.join(root, 'etc/os-release'), 'ID=x\n');
  await writeFile(path.join(root, 'var/log/syslog'), 'changes');
  await symlink('tool', path.join(root, 'usr/bin/link'));
  const list = await fingerprint(root);
  t.regex(list, /^[0-9a-f]{32} {2}\/etc\/os-release\n[0-9a-f]{32} {2}\/usr\/bin\/tool\n$/);
  const paths = list.trim().split('\n').map((l) => l.split('  ')[1]);
  t.deepEqual(paths, ['/etc/os-release', '/usr/bin/tool']);
  // The list names absolute paths (as on the device); check it from inside the tree.
  const relative = list.replaceAll('  /', '  ');
  await writeFile(path.join(root, 'check.md5'), relative);
  const result = await execa('md5sum', ['--quiet', '-c', 'check.md5'], { cwd: root, reject: false });
  t.is(result.exitCode, 0, result.stdout + result.stderr);
  await writeFile(path.join(root, 'usr/bin/tool'), 'tampered');
  const bad = await execa('md5sum', ['--quiet', '-c', 'check.md5'], { cwd: root, reject: false });
  t.is(bad.exitCode, 1);
  t.regex(bad.stdout, /usr\/bin\/tool: FAILED/);
});

test('the tree hash changes with content, mode and link targets', async (t) => {
  const root = await temp(t);
  await writeFile(path.join(root, 'f'), 'one');
  await symlink('f', path.join(root, 'l'));
  const first = await hashTree(root);
  t.is(await hashTree(root), first);
  await writeFile(path.join(root, 'f'), 'two');
  const second = await hashTree(root);
  t.not(second, first);
  await chmod(path.join(root, 'f'), 0o755);
  t.not(await hashTree(root), second);
});

test('a failed atomic write leaves neither the target nor the partial file', async (t) => {
  const dir = await temp(t);
  const target = path.join(dir, 'artifact.img');
  await t.throwsAsync(
    writeAtomically(target, async (partial) => {
      await writeFile(partial, 'half');
      throw new Error('tool died');
    }),
    { message: 'tool died' },
  );
  t.false(await exists(target));
  t.deepEqual(await readdir(dir), []);
  await writeAtomically(target, (partial) => writeFile(partial, 'whole'));
  t.is(await readFile(target, 'utf8'), 'whole');
});

test('a failing tool is a ToolError naming the tool with its stderr tail', async (t) => {
  const error = await t.throwsAsync(tool('mkfs.ext4', ['-L', 'x', '/nonexistent/dir/file.img', '1M']), { instanceOf: ToolError });
  t.is(error?.tool, 'mkfs.ext4');
  t.regex(error?.message ?? '', /mkfs\.ext4 failed/);
  t.regex(error?.stderrTail ?? '', /No such file or directory/);
});

test('steps report start, done with duration, failure and cache hits', async (t) => {
  const events: StepEvent[] = [];
  const steps = new Steps((e) => events.push(e));
  t.is(await steps.run('one', async () => 1), 1);
  await t.throwsAsync(steps.run('two', async () => Promise.reject(new Error('x'))));
  steps.cached('three');
  t.deepEqual(
    events.map((e) => `${e.title}:${e.phase}`),
    ['one:start', 'one:done', 'two:start', 'two:failed', 'three:cached'],
  );
  t.true(typeof events[1]?.ms === 'number');
});
