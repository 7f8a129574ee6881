import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { tempDir } from '../testing/temp-dir.ts';
import { textOf, Transcript } from './transcript.ts';

test('keeps target, input and info apart, with timestamps', (t) => {
  let now = 1000;
  const transcript = new Transcript({ now: () => now });
  transcript.target(Buffer.from('login: '));
  now = 1010;
  transcript.input('root\n');
  now = 1020;
  transcript.info('login: sending user root');
  t.deepEqual(
    transcript.entries.map((entry) => [entry.t, entry.stream]),
    [
      [1000, 'target'],
      [1010, 'input'],
      [1020, 'info'],
    ],
  );
  t.is(textOf(transcript.entries), 'login: ');
  t.is(textOf(transcript.entries, ['input']), 'root\n');
});

test('a UTF-8 character split across reads is decoded whole; latin1 keeps every byte', (t) => {
  const transcript = new Transcript();
  const bytes = Buffer.from('µs ✓');
  const texts = [...bytes].map((byte) => transcript.target(Buffer.from([byte])));
  t.is(texts.join(''), 'µs ✓');
  t.is(textOf(transcript.entries), 'µs ✓');
  t.false(textOf(transcript.entries).includes('\ufffd'));

  const latin1 = new Transcript({ encoding: 'latin1' });
  t.is(latin1.target(Buffer.from([0xff, 0x00, 0x41])), '\xff\x00A');
});

test('since(mark) and slice(from, to) select what a test step saw', (t) => {
  let now = 0;
  const transcript = new Transcript({ now: () => now });
  for (const [time, text] of [
    [100, 'boot '],
    [200, 'test-a '],
    [300, 'test-b '],
  ] as const) {
    now = time;
    transcript.target(Buffer.from(text));
  }
  t.is(textOf(transcript.slice(200, 300)), 'test-a ');
  t.is(textOf(transcript.slice(150)), 'test-a test-b ');
  const mark = transcript.mark();
  transcript.target(Buffer.from('later'));
  t.is(textOf(transcript.since(mark)), 'later');
});

test('mirrors entries to a log file, appending, one JSON object a line', async (t) => {
  const file = join(await tempDir(t, 'transcript'), 'console.jsonl');
  await writeFile(file, '{"earlier":true}\n');
  const transcript = new Transcript({ logFile: file });
  transcript.target(Buffer.from('\x1b[1mhi\r\n'));
  transcript.input('ls\n');
  await transcript.close();
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
  t.is(lines.length, 3);
  t.deepEqual(JSON.parse(lines[0] ?? ''), { earlier: true });
  t.like(JSON.parse(lines[1] ?? ''), { stream: 'target', data: '\x1b[1mhi\r\n' });
  t.like(JSON.parse(lines[2] ?? ''), { stream: 'input', data: 'ls\n' });
});
