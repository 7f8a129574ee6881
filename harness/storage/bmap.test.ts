import test from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { DutError } from '../errors.ts';
import { findBmap, mappedBytes, parseBmap, rangeBytes, readBmap } from './bmap.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { makeImage, MiB } from './testing/images.ts';

const where = { board: 'rpi-7', step: 'check target', device: '/dev/sdz' };

test('a bmap made by bmaptool create is read: sizes, checksum type, ranges, and mapped bytes that match its own count', async (t) => {
  const dir = await tempDir(t, 'flash');
  const image = path.join(dir, 'os.img');
  await makeImage(image, 24);
  await execa('bmaptool', ['create', '-o', path.join(dir, 'os.bmap'), image]);
  const map = await readBmap(path.join(dir, 'os.bmap'), where);
  t.like(map, { imageSize: 24 * MiB, blockSize: 4096, checksumType: 'sha256' });
  t.true(map.ranges.length >= 3 && map.ranges.every((r) => /^[0-9a-f]{64}$/.test(r.checksum ?? '')));
  const { stdout } = await execa('sh', ['-c', `grep -o '<MappedBlocksCount> *[0-9]*' ${path.join(dir, 'os.bmap')} | grep -o '[0-9]*$'`]);
  t.is(mappedBytes(map), Number(stdout) * 4096);
});

test('the bmap beside an image, compressed or not, is found by the image name without its extensions', async (t) => {
  const dir = await tempDir(t, 'flash');
  await writeFile(path.join(dir, 'refos-1.0.0.bmap'), '');
  for (const name of ['refos-1.0.0.img', 'refos-1.0.0.img.xz', 'refos-1.0.0.img.gz', 'refos-1.0.0.zip']) {
    t.is(await findBmap(path.join(dir, name)), path.join(dir, 'refos-1.0.0.bmap'), name);
  }
  t.is(await findBmap(path.join(dir, 'other-1.0.0.img')), undefined);
});

const bmap = (ranges: string, mapped: number, size = 10_000): string =>
  `<?xml version="1.0" ?>\n<!-- <ImageSize> 1 </ImageSize> in a comment is not the image size -->\n<bmap version="2.0">\n<ImageSize> ${size} </ImageSize>\n<BlockSize> 4096 </BlockSize>\n<BlocksCount> 3 </BlocksCount>\n<MappedBlocksCount> ${mapped} </MappedBlocksCount>\n<ChecksumType> sha256 </ChecksumType>\n<BlockMap>\n${ranges}\n</BlockMap>\n</bmap>\n`;

test('single-block ranges and a short last block are measured right; comments are not read as elements', (t) => {
  const map = parseBmap(bmap('<Range chksum="aa"> 0 </Range>\n<Range chksum="bb"> 2 </Range>', 2), 'x.bmap', where);
  t.is(map.imageSize, 10_000);
  t.deepEqual(map.ranges.map((r) => [r.first, r.last]), [[0, 0], [2, 2]]);
  t.deepEqual(rangeBytes(map, map.ranges[1] as (typeof map.ranges)[number]), { start: 8192, length: 10_000 - 8192 });
});

test('a bmap whose ranges disagree with its count, or that reaches past the image, is refused naming the file', (t) => {
  const count = t.throws(() => parseBmap(bmap('<Range chksum="aa"> 0-1 </Range>', 3), 'x.bmap', where), { instanceOf: DutError });
  t.regex(count.message, /\/dev\/sdz: block map x\.bmap: its ranges hold 2 blocks, <MappedBlocksCount> says 3/);
  const outside = t.throws(() => parseBmap(bmap('<Range chksum="aa"> 2-5 </Range>', 4), 'x.bmap', where), { instanceOf: DutError });
  t.regex(outside.message, /a range lies outside the image/);
  t.throws(() => parseBmap('<html></html>', 'x.bmap', where), { message: /not a bmap file/ });
});
