import test from 'ava';
import { randomBytes } from 'node:crypto';
import { createHash } from 'node:crypto';
import { MiB, PrefixDigest } from './digest.ts';

function digestOf(data: Buffer, chunk: number): PrefixDigest {
  const digest = new PrefixDigest();
  for (let at = 0; at < data.length; at += chunk) digest.update(data.subarray(at, at + chunk));
  return digest;
}

test('the digest is the sha256 of the stream whatever the chunking', (t) => {
  const data = randomBytes(3 * MiB + 777);
  const expected = createHash('sha256').update(data).digest('hex');
  for (const chunk of [1000, MiB, 4 * MiB, 3 * MiB + 1]) t.is(digestOf(data, chunk).hex(), expected, `chunks of ${chunk}`);
});

test('the first differing MiB is found wherever the difference is, and equal streams have none', (t) => {
  const data = randomBytes(5 * MiB + 100);
  t.is(digestOf(data, 65536).firstDifferingMiB(digestOf(Buffer.from(data), MiB)), undefined);
  for (const offset of [0, MiB - 1, MiB, 3 * MiB + 5, 5 * MiB + 99]) {
    const other = Buffer.from(data);
    other[offset] = (other[offset] as number) ^ 1;
    t.is(digestOf(data, 65536).firstDifferingMiB(digestOf(other, 4 * MiB)), Math.floor(offset / MiB), `offset ${offset}`);
  }
  t.is(digestOf(data, MiB).firstDifferingMiB(digestOf(data.subarray(0, 4 * MiB), MiB)), 4, 'a shorter read-back differs where it ends');
});
