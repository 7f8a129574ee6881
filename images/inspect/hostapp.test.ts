import test, { type ExecutionContext } from 'ava';
import { existsSync } from 'node:fs';
import { readFile, truncate, writeFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { ConfigError } from '../../harness/errors.ts';
import { tempDirs } from './temp-dirs.ts';
import { inspectHostapp } from './hostapp.ts';

const temp = tempDirs('dutlab-inspect-');

interface Member {
  name: string;
  content?: string | Buffer;
  type?: 'file' | 'directory' | 'symlink';
  linkname?: string;
}

/** A tar in memory: fixtures are a few KiB, built with the same library the archives are written with. */
async function tarOf(members: Member[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const { name, content, type = 'file', linkname } of members) {
    const header = { name, type, linkname, mtime: new Date(0) };
    if (type === 'file') pack.entry(header, content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const osRelease = (version: string) => `ID=balena-os\nNAME="balenaOS"\nVERSION="${version}"\n`;

/** A root layer as balenaOS has it: /etc/os-release a link to ../usr/lib/os-release. */
const linkedRoot = (version: string) =>
  tarOf([
    { name: './', type: 'directory' },
    { name: './etc/', type: 'directory' },
    { name: './etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
    { name: './usr/', type: 'directory' },
    { name: './usr/lib/', type: 'directory' },
    { name: './usr/lib/os-release', content: osRelease(version) },
    { name: './usr/lib/other', content: Buffer.alloc(100_000, 7) },
  ]);

/** A docker save archive laid out as ours and docker's: layers first, manifest.json last. */
async function dockerArchive(file: string, layers: Buffer[], manifest: unknown, extra: Member[] = []): Promise<string> {
  const members: Member[] = layers.flatMap((layer, i) => [
    { name: `layer${i}/`, type: 'directory' as const },
    { name: `layer${i}/layer.tar`, content: layer },
  ]);
  members.push({ name: 'config.json', content: '{}' }, ...extra, { name: 'manifest.json', content: JSON.stringify(manifest) });
  await writeFile(file, await tarOf(members));
  return file;
}

const image = (tag: string, layers = ['layer0/layer.tar']) => ({ Config: 'config.json', RepoTags: [tag], Layers: layers });

async function refused(t: ExecutionContext, file: string, pattern: RegExp): Promise<void> {
  const error = await t.throwsAsync(inspectHostapp(file), { instanceOf: ConfigError });
  t.log(error?.message);
  t.regex(error?.message ?? '', pattern);
  t.true(error?.message.startsWith(`--next-hostapp ${file}: `), error?.message);
}

test('a single-image archive gives its tag, layer count and VERSION through the os-release link', async (t) => {
  const file = await dockerArchive(path.join(await temp(), 'ok.tar'), [await linkedRoot('9.9.9')], [image('refos:9.9.9')]);
  const facts = await inspectHostapp(file);
  t.deepEqual(facts, { path: file, sizeBytes: (await stat(file)).size, repoTags: ['refos:9.9.9'], layers: 1, version: '9.9.9' });
});

test('an OCI-style archive with a gzip layer under blobs/ is read, and so is a gzipped archive', async (t) => {
  const dir = await temp();
  const layer = gzipSync(await linkedRoot('2.0.0'));
  const members: Member[] = [
    { name: 'blobs/sha256/aaaa', content: '{"schemaVersion":2}' }, // a JSON blob is tried as a layer and set aside
    { name: 'blobs/sha256/bbbb', content: layer },
    { name: 'blobs/sha256/cccc', content: '{}' },
    { name: 'index.json', content: '{}' },
    { name: 'manifest.json', content: JSON.stringify([{ Config: 'blobs/sha256/cccc', RepoTags: null, Layers: ['blobs/sha256/bbbb'] }]) },
  ];
  const plain = path.join(dir, 'oci.tar');
  await writeFile(plain, await tarOf(members));
  t.like(await inspectHostapp(plain), { repoTags: [], layers: 1, version: '2.0.0' });
  const gz = path.join(dir, 'oci.tar.gz');
  await writeFile(gz, gzipSync(await readFile(plain)));
  t.like(await inspectHostapp(gz), { version: '2.0.0' });
});

test('upper layers win: /etc/os-release first, unless a whiteout removed it', async (t) => {
  const dir = await temp();
  const lower = await tarOf([{ name: 'etc/os-release', content: osRelease('1.0.0') }]);
  const upper = await tarOf([{ name: 'usr/lib/os-release', content: osRelease('2.0.0') }]);
  const whiteout = await tarOf([{ name: 'etc/.wh.os-release' }, { name: 'usr/lib/os-release', content: osRelease('3.0.0') }]);
  const layers = ['layer0/layer.tar', 'layer1/layer.tar'];
  const kept = await dockerArchive(path.join(dir, 'kept.tar'), [lower, upper], [image('x:1', layers)]);
  t.is((await inspectHostapp(kept)).version, '1.0.0');
  const removed = await dockerArchive(path.join(dir, 'removed.tar'), [lower, whiteout], [image('x:1', layers)]);
  t.like(await inspectHostapp(removed), { layers: 2, version: '3.0.0' });
});

test('a layer linked to an identical one (legacy docker save) is read through the link', async (t) => {
  const dir = await temp();
  const root = await linkedRoot('4.0.0');
  const file = await dockerArchive(path.join(dir, 'linked.tar'), [root], [image('x:1', ['layer1/layer.tar'])], [
    { name: 'layer1/', type: 'directory' },
    { name: 'layer1/layer.tar', type: 'symlink', linkname: '../layer0/layer.tar' },
  ]);
  t.like(await inspectHostapp(file), { layers: 1, version: '4.0.0' });
});

test('an image without os-release has no version', async (t) => {
  const layer = await tarOf([{ name: 'bin/sh', content: '#!' }]);
  const file = await dockerArchive(path.join(await temp(), 'bare.tar'), [layer], [image('bare:1')]);
  t.like(await inspectHostapp(file), { repoTags: ['bare:1'], layers: 1, version: undefined });
});

test('an archive holding two images, or none, is not a hostapp', async (t) => {
  const dir = await temp();
  const layer = await linkedRoot('1.0.0');
  const two = await dockerArchive(path.join(dir, 'two.tar'), [layer], [image('a:1'), image('b:1')]);
  await refused(t, two, /: holds 2 images \(a:1, b:1\), a hostapp is exactly one$/);
  const none = await dockerArchive(path.join(dir, 'none.tar'), [layer], []);
  await refused(t, none, /: holds no images, a hostapp is exactly one$/);
});

test('a tar without manifest.json, or with a broken one, is not a docker save archive', async (t) => {
  const dir = await temp();
  const plain = path.join(dir, 'plain.tar');
  await writeFile(plain, await tarOf([{ name: 'etc/os-release', content: osRelease('1') }]));
  await refused(t, plain, /: not a docker save archive: no manifest\.json$/);
  const broken = path.join(dir, 'broken.tar');
  await writeFile(broken, await tarOf([{ name: 'manifest.json', content: '[{' }]));
  await refused(t, broken, /: manifest\.json is not valid JSON/);
});

test('a manifest naming a layer or config the archive lacks is refused, naming it', async (t) => {
  const file = await dockerArchive(path.join(await temp(), 'lacking.tar'), [await linkedRoot('1.0.0')], [
    image('x:1', ['layer0/layer.tar', 'gone/layer.tar']),
  ]);
  await refused(t, file, /: manifest\.json names layer gone\/layer\.tar, which is not in the archive$/);
  const noConfig = await dockerArchive(path.join(await temp(), 'noconfig.tar'), [await linkedRoot('1.0.0')], [
    { ...image('x:1'), Config: 'abc.json' },
  ]);
  await refused(t, noConfig, /: manifest\.json names config abc\.json, which is not in the archive$/);
});

test('a layer that is not a tar is refused', async (t) => {
  const file = await dockerArchive(path.join(await temp(), 'junk.tar'), [Buffer.alloc(2048, 0x41)], [image('x:1')]);
  await refused(t, file, /: layer layer0\/layer\.tar is not a readable tar/);
});

test('a text file, a truncated archive and an xz file are refused as what they are', async (t) => {
  const dir = await temp();
  const text = path.join(dir, 'notes.tar');
  await writeFile(text, 'this is not a tar\n'.repeat(100));
  await refused(t, text, /: not a tar archive$/);

  const whole = await dockerArchive(path.join(dir, 'whole.tar'), [await linkedRoot('1.0.0')], [image('x:1')]);
  await truncate(whole, 60_000); // inside the layer's 100 kB file
  await refused(t, whole, /: truncated or corrupt tar archive after member layer0\/layer\.tar \(/);
  const layer = await linkedRoot('1.0.0');
  const cut = await dockerArchive(path.join(dir, 'cut.tar'), [layer], [image('x:1')]);
  // Between members, after config.json: headers and data are 512-byte blocks, the layer a whole number of them.
  await truncate(cut, 512 + (512 + layer.length) + (512 + 512));
  await refused(t, cut, /: not a docker save archive: no manifest\.json \(and no tar end marker: truncated\?\)$/);

  const gz = path.join(dir, 'cut.tar.gz');
  await writeFile(gz, gzipSync(await tarOf([{ name: 'a', content: Buffer.alloc(50_000, 1) }])).subarray(0, 60));
  await refused(t, gz, /: is gzip-compressed but truncated or corrupt \(unexpected end of file\)$/);

  const xz = path.join(dir, 'x.tar.xz');
  await writeFile(xz, Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]));
  await refused(t, xz, /: is xz-compressed, not a docker save archive \(a tar\)$/);
});

test('a missing path and a directory are refused by name', async (t) => {
  const dir = await temp();
  await refused(t, path.join(dir, 'nope.tar'), /: not found$/);
  await refused(t, dir, /: is a directory, not a docker save archive$/);
  const error = await t.throwsAsync(inspectHostapp(path.join(dir, 'nope.tar'), '--current-hostapp'), { instanceOf: ConfigError });
  t.true(error?.message.startsWith('--current-hostapp '));
});

const out = path.resolve('images/out');

test('the reference 1.0.1 hostapp is one image of version 1.0.1, read in seconds', async (t) => {
  const file = path.join(out, 'refos-1.0.1.hostapp.tar');
  if (!existsSync(file)) {
    t.log(`${file} is not built; skipped`);
    t.pass();
    return;
  }
  const started = performance.now();
  const facts = await inspectHostapp(file);
  const ms = performance.now() - started;
  t.log(`inspectHostapp(${path.basename(file)}, ${(facts.sizeBytes / 2 ** 20).toFixed(0)} MiB): ${ms.toFixed(0)} ms`);
  t.deepEqual(facts.repoTags, ['refos:1.0.1']);
  t.is(facts.layers, 1);
  t.is(facts.version, '1.0.1');
  t.true(ms < 20_000, `took ${ms} ms`);
});

test('the busybox container archive (two tagged variants) is refused as a hostapp', async (t) => {
  const file = path.join(out, 'dutlab-busybox.tar');
  if (!existsSync(file)) {
    t.log(`${file} is not built; skipped`);
    t.pass();
    return;
  }
  await refused(t, file, /: holds 2 images \(.+\), a hostapp is exactly one$/);
});
