/**
 * The flasher against real files and Debian's tools: sparse GPT images made
 * with sfdisk, compressed with gzip, xz and zip, block maps made with
 * `bmaptool create`, written onto sparse files that play SD cards.
 *
 * Corruption is injected through the public progress callback: verification
 * announces itself (done 0) before it reads a byte, and the callback flips a
 * byte of the card right then, synchronously. That is a card which lost a
 * write between the write and the read-back, driven through the real code
 * with no test-only hook in it.
 */
import test from 'ava';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { WriteProgress } from '../dut/drivers.ts';
import { DutError } from '../errors.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { CARD_MARKER, flipByte, makeCard, makeImage, MiB, sha256Prefix } from './testing/images.ts';
import { writeImage } from './write-image.ts';

const IMAGE_MiB = 24;
const CARD_MiB = 32;

async function imageAndCard(t: import('ava').ExecutionContext): Promise<{ dir: string; image: string; card: string; sha256: string }> {
  const dir = await tempDir(t, 'flash');
  const image = path.join(dir, 'os.img');
  const card = path.join(dir, 'card.img');
  await makeImage(image, IMAGE_MiB);
  await makeCard(card, CARD_MiB);
  return { dir, image, card, sha256: await sha256Prefix(image, IMAGE_MiB * MiB) };
}

async function cardIntact(t: import('ava').ExecutionContext, card: string): Promise<void> {
  t.is((await stat(card)).size, CARD_MiB * MiB, 'the card keeps its size');
  const content = await readFile(card);
  t.is(content.subarray(-CARD_MARKER.length).toString(), CARD_MARKER, 'what lies past the image is untouched');
}

const compressions: [string, (image: string) => Promise<string>][] = [
  ['.img', async (image) => image],
  ['.img.gz', async (image) => (await execa('gzip', ['-k', '-1', image]), `${image}.gz`)],
  ['.img.xz', async (image) => (await execa('xz', ['-k', '-T2', '-1', image]), `${image}.xz`)],
  [
    '.zip',
    async (image) => {
      const zip = path.join(path.dirname(image), 'os.zip');
      await writeFile(path.join(path.dirname(image), 'README'), 'not the image\n');
      await execa('zip', ['-q', '-j', zip, image, path.join(path.dirname(image), 'README')]);
      return zip;
    },
  ],
];

for (const [suffix, compress] of compressions) {
  test(`a ${suffix} image is streamed onto the card, byte for byte, and verified`, async (t) => {
    const { image, card, sha256 } = await imageAndCard(t);
    const source = await compress(image);
    const phases = new Set<string>();
    const report = await writeImage(source, card, { board: 'rpi-7', verify: true, progress: (p) => phases.add(`${p.phase}:${p.done === p.total ? 'end' : p.done === 0 ? 'start' : 'mid'}`) });
    t.like(report, { mode: 'stream', bytes: IMAGE_MiB * MiB, imageBytes: IMAGE_MiB * MiB, verified: true, hash: sha256 });
    t.true(report.writeSeconds > 0 && report.verifySeconds > 0 && report.mibPerSecond > 0);
    t.is(await sha256Prefix(card, IMAGE_MiB * MiB), sha256, 'the card holds the image');
    t.true(['write:start', 'write:end', 'verify:start', 'verify:end'].every((p) => phases.has(p)), [...phases].join(' '));
    await cardIntact(t, card);
  });
}

test('with a block map beside the image, only mapped blocks are written (bmaptool copy) and read back against the map', async (t) => {
  const { dir, image, card, sha256 } = await imageAndCard(t);
  await execa('bmaptool', ['create', '-o', path.join(dir, 'os.bmap'), image]);
  await execa('xz', ['-k', '-T2', '-1', image]);
  for (const source of [image, `${image}.xz`]) {
    const report = await writeImage(source, card, { board: 'rpi-7', verify: true });
    t.is(report.mode, 'bmap');
    t.is(report.imageBytes, IMAGE_MiB * MiB);
    t.true(report.bytes >= 6 * MiB && report.bytes < 8 * MiB, `mapped ${report.bytes}: the three data spans and the GPT`);
    t.true(report.verified && report.verifySeconds > 0);
    t.is(await sha256Prefix(card, IMAGE_MiB * MiB), sha256, 'the image reads back whole: its holes were zeros on the card too');
    t.is((await stat(card)).size, CARD_MiB * MiB, 'bmaptool truncated the card file; it got its size back');
  }
  const { stdout } = await execa('sfdisk', ['-J', card]);
  t.deepEqual(
    (JSON.parse(stdout) as { partitiontable: { partitions: { name: string }[] } }).partitiontable.partitions.map((p) => p.name),
    ['resin-boot', 'resin-rootA'],
    'the card has the image partition table',
  );
});

test('a block map given explicitly is used, and without one the image is streamed', async (t) => {
  const { dir, image, card } = await imageAndCard(t);
  const bmap = path.join(dir, 'elsewhere.bmap');
  await execa('bmaptool', ['create', '-o', bmap, image]);
  t.is((await writeImage(image, card, { board: 'rpi-7', verify: false })).mode, 'stream');
  const report = await writeImage(image, card, { board: 'rpi-7', verify: false, bmap });
  t.like(report, { mode: 'bmap', verified: false, verifySeconds: 0 });
});

test('a byte the card lost after the write is caught by verification: a tool error naming the target, the MiB and both hashes', async (t) => {
  const { image, card, sha256 } = await imageAndCard(t);
  const offset = 13 * MiB + 4321;
  const progress = (p: WriteProgress): void => {
    if (p.phase === 'verify' && p.done === 0) flipByte(card, offset);
  };
  const error = await t.throwsAsync(writeImage(image, card, { board: 'rpi-7', verify: true, progress }), { instanceOf: DutError });
  t.is(error.kind, 'tool');
  t.is(error.dut, 'rpi-7');
  t.is(error.step, 'verify image');
  t.true(error.message.includes(card));
  t.regex(error.message, /first in MiB 13 \(offset 13631488\)/);
  t.true(error.message.includes(`written ${sha256}`));
  t.regex(error.message, /read back [0-9a-f]{64}/);
});

test('a corruption inside a mapped range is caught against the block map checksum, naming the range', async (t) => {
  const { dir, image, card } = await imageAndCard(t);
  await execa('bmaptool', ['create', '-o', path.join(dir, 'os.bmap'), image]);
  const offset = Math.floor(IMAGE_MiB / 3 + 2) * MiB; // inside the second data span
  const progress = (p: WriteProgress): void => {
    if (p.phase === 'verify' && p.done === 0) flipByte(card, offset);
  };
  const error = await t.throwsAsync(writeImage(image, card, { board: 'rpi-7', verify: true, progress }), { instanceOf: DutError });
  t.is(error.kind, 'tool');
  t.is(error.step, 'verify image');
  t.regex(error.message, /verification failed: blocks \d+-\d+ \(offset \d+, MiB 9\) read back with sha256 [0-9a-f]{64}, the block map .*os\.bmap says [0-9a-f]{64}/);
});

test('an image that does not match its block map is stopped by bmaptool while writing', async (t) => {
  const { dir, image, card } = await imageAndCard(t);
  await execa('bmaptool', ['create', '-o', path.join(dir, 'os.bmap'), image]);
  flipByte(image, 1 * MiB + 10);
  const error = await t.throwsAsync(writeImage(image, card, { board: 'rpi-7', verify: true }), { instanceOf: DutError });
  t.is(error.kind, 'tool');
  t.is(error.step, 'write image');
  t.regex(error.message, /bmaptool copy .* exited 1/);
  t.regex(error.message, /checksum mismatch/i);
});

test('a corrupt xz stream fails the write with xz\'s exit and message, not a short image taken as good', async (t) => {
  const { image, card } = await imageAndCard(t);
  await execa('xz', ['-k', '-T2', '-1', image]);
  const xz = await readFile(`${image}.xz`);
  const middle = Math.floor(xz.length / 2);
  xz[middle] = (xz[middle] as number) ^ 0xff;
  await writeFile(`${image}.xz`, xz);
  const error = await t.throwsAsync(writeImage(`${image}.xz`, card, { board: 'rpi-7', verify: true }), { instanceOf: DutError });
  t.is(error.kind, 'tool');
  t.regex(error.message, /xz -dc .* exited 1/);
  t.regex(error.message, /corrupt/i);
});

test('a target smaller than the image is refused before a byte is written', async (t) => {
  const { dir, image } = await imageAndCard(t);
  const small = path.join(dir, 'small.img');
  await makeCard(small, 16);
  const before = await readFile(small);
  const error = await t.throwsAsync(writeImage(image, small, { board: 'rpi-7', verify: true }), { instanceOf: DutError });
  t.is(error.kind, 'config');
  t.is(error.step, 'check target');
  t.true(error.message.includes(`${small}: is smaller than the image: 16777216 bytes (16.0 MiB) < 25165824 bytes (24.0 MiB)`), error.message);
  t.true((await readFile(small)).equals(before), 'the small card is untouched');
});

test('a gzip image whose size the trailer cannot tell is stopped at the end of the card, which does not grow', async (t) => {
  const { dir, image } = await imageAndCard(t);
  // 4 GiB + 24 MiB of data would take long; a lying trailer is the same case: gzip records the size modulo 4 GiB.
  await execa('gzip', ['-k', '-1', image]);
  const gz = await readFile(`${image}.gz`);
  gz.writeUInt32LE(1 * MiB, gz.length - 4);
  const lying = path.join(dir, 'lying.img.gz');
  await writeFile(lying, gz);
  const small = path.join(dir, 'small.img');
  await makeCard(small, 16);
  const error = await t.throwsAsync(writeImage(lying, small, { board: 'rpi-7', verify: true }), { instanceOf: DutError });
  t.is(error.step, 'write image');
  t.regex(error.message, /is smaller than the image: the image goes on past 16777216 bytes/);
  t.is((await stat(small)).size, 16 * MiB);
});

test('a missing target is refused with the mux hint, naming the board and the device', async (t) => {
  const { dir, image } = await imageAndCard(t);
  const absent = path.join(dir, 'sda');
  const error = await t.throwsAsync(writeImage(image, absent, { board: 'rpi-7', verify: true }), { instanceOf: DutError });
  t.is(error.message, `dut rpi-7, step check target: ${absent}: not present: is the mux switched to the host?`);
});

test('a zip without exactly one .img member is refused, listing what it holds', async (t) => {
  const { dir, image, card } = await imageAndCard(t);
  const zip = path.join(dir, 'two.zip');
  await execa('cp', [image, path.join(dir, 'other.img')]);
  await execa('zip', ['-q', '-j', zip, image, path.join(dir, 'other.img')]);
  const error = await t.throwsAsync(writeImage(zip, card, { board: 'rpi-7', verify: true }), { instanceOf: DutError });
  t.is(error.kind, 'config');
  t.regex(error.message, /must hold exactly one \.img member \(it holds os\.img, other\.img\)/);
});

test('an aborted write stops with the run\'s reason', async (t) => {
  const { image, card } = await imageAndCard(t);
  const controller = new AbortController();
  const progress = (p: WriteProgress): void => {
    if (p.phase === 'write' && p.done >= 8 * MiB) controller.abort(new DutError('interrupted', 'SIGINT'));
  };
  const error = await t.throwsAsync(writeImage(image, card, { board: 'rpi-7', verify: true, signal: controller.signal, progress }), { instanceOf: DutError });
  t.is(error.kind, 'interrupted');
});
