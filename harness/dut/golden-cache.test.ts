/**
 * The golden snapshot cache on its own: keys, whole entries, pruning. The
 * QEMU side (savevm, -loadvm, the clock) is exercised in dut.test.ts.
 */
import test from 'ava';
import { readdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { tempDirs } from '../report/testing/fixtures.ts';
import { parseSize } from '../cli/cache-command.ts';
import { GoldenCache } from './golden-cache.ts';

const temp = tempDirs('dutlab-golden-');
test.after.always(() => temp.cleanup());

const runKey = { privateKey: 'PRIVATE', publicKey: 'ssh-ed25519 AAAA test', fingerprint: 'SHA256:x' };

async function image(dir: string, name = 'os.img', bytes = 1024): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, Buffer.alloc(bytes));
  return file;
}

/** A saved state of `bytes` bytes, as a board's save() would leave it. */
const state = (bytes: number) => async (dir: string) => writeFile(path.join(dir, 'disk.qcow2'), Buffer.alloc(bytes, 1));

test('the key changes with the image file, the board profile and the provisioning, and with nothing else', async (t) => {
  const dir = temp.make();
  const img = await image(dir);
  const key = async (board: object, provisioning: object) => GoldenCache.key(await GoldenCache.keyParts(img, { ...board }, { ...provisioning }));
  const base = await key({ memory: 2048, media: [] }, { login: 'console', config: null });
  t.is(await key({ media: [], memory: 2048 }, { config: null, login: 'console' }), base, 'the order of fields does not matter');
  t.not(await key({ memory: 4096, media: [] }, { login: 'console', config: null }), base);
  t.not(await key({ memory: 2048, media: [] }, { login: 'ssh', config: null }), base);
  await utimes(img, new Date(), new Date(Date.now() + 5000));
  t.not(await key({ memory: 2048, media: [] }, { login: 'console', config: null }), base, 'a rewritten image is another image');
});

test('an entry appears whole with the run key it was provisioned with; a lookup marks it used; a second save of the same key keeps the first', async (t) => {
  const dir = temp.make();
  const cache = new GoldenCache(path.join(dir, 'cache'));
  const parts = await GoldenCache.keyParts(await image(dir), { board: 'q' }, {});
  const key = GoldenCache.key(parts);
  t.is(await cache.lookup(key), undefined);
  const saved = await cache.store('qemu-x86_64', parts, runKey, state(4096));
  t.like(saved, { key, board: 'qemu-x86_64', runKey });
  t.true(saved.bytes >= 4096);
  await cache.store('qemu-x86_64', parts, { ...runKey, privateKey: 'OTHER' }, state(10));
  t.is((await cache.lookup(key))?.runKey?.privateKey, 'PRIVATE');
  t.deepEqual((await readdir(cache.root)).filter((n) => n.startsWith('.')), [], 'no temporary folder is left');
});

test('a save that fails leaves no entry and no temporary folder', async (t) => {
  const dir = temp.make();
  const cache = new GoldenCache(path.join(dir, 'cache'));
  const parts = await GoldenCache.keyParts(await image(dir), {}, {});
  await t.throwsAsync(
    cache.store('q', parts, undefined, async () => {
      throw new Error('savevm: no space');
    }),
    { message: 'savevm: no space' },
  );
  t.deepEqual(await readdir(cache.root), []);
});

test('prune removes entries whose image is gone, then the least recently used beyond the size limit; a save prunes to the cache limit, keeping itself', async (t) => {
  const dir = temp.make();
  const cache = new GoldenCache(path.join(dir, 'cache'), 4 * 2 ** 20);
  const entries = [];
  for (const name of ['a.img', 'b.img', 'c.img']) {
    const parts = await GoldenCache.keyParts(await image(dir, name), { name }, {});
    entries.push(await cache.store(name, parts, undefined, state(2 ** 20)));
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  t.deepEqual((await cache.list()).map((e) => e.board), ['c.img', 'b.img', 'a.img'], 'most recently used first');
  await cache.lookup(entries[0]?.key ?? '');
  t.is((await cache.list())[0]?.board, 'a.img');

  await rm(path.join(dir, 'b.img'));
  t.deepEqual((await cache.prune({ maxBytes: 100 * 2 ** 20 })).map((e) => e.board), ['b.img'], 'its image is gone');
  t.deepEqual((await cache.prune({ maxBytes: 1.5 * 2 ** 20 })).map((e) => e.board), ['c.img'], 'least recently used');
  const d = await GoldenCache.keyParts(await image(dir, 'd.img'), {}, {});
  await cache.store('d.img', d, undefined, state(3 * 2 ** 20));
  t.deepEqual((await cache.list()).map((e) => e.board), ['d.img'], 'the new entry stays even alone over the limit');
  t.is((await cache.prune({ maxBytes: -1 })).length, 1, '--all');
});

test('sizes as a person writes them', (t) => {
  t.is(parseSize('4G'), 4 * 2 ** 30);
  t.is(parseSize('500M'), 500 * 2 ** 20);
  t.is(parseSize('1.5GiB'), 1.5 * 2 ** 30);
  t.is(parseSize('1024'), 1024);
  t.throws(() => parseSize('lots'), { message: /--max-size: not a size: "lots"/ });
});
