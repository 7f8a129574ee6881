import test from 'ava';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { markBroken, markHealthy, readHealth } from './health.ts';
import { tempDir } from '../testing/temp-dir.ts';

async function healthDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  return path.join(await tempDir(t, 'health'), 'health');
}

test('a board is ok until marked broken, and ok again once marked healthy', async (t) => {
  const dir = await healthDir(t);
  t.deepEqual(await readHealth('b1', { dir }), { state: 'ok' });

  const record = await markBroken('b1', { cause: 'power', message: 'relay /dev/ttyUSB3 did not answer', runId: 'run-7' }, { dir });
  t.true(Math.abs(Date.parse(record.at) - Date.now()) < 5_000);
  t.deepEqual(await readHealth('b1', { dir }), record);
  t.deepEqual(JSON.parse(await readFile(path.join(dir, 'b1.json'), 'utf8')), record);
  t.deepEqual(await readHealth('b2', { dir }), { state: 'ok' }, 'one board at a time');

  await markHealthy('b1', { dir });
  t.deepEqual(await readHealth('b1', { dir }), { state: 'ok' });
  await markHealthy('b1', { dir });
  t.deepEqual(await readdir(dir), []);
});

test('a reader never sees half a record while it is rewritten', async (t) => {
  const dir = await healthDir(t);
  const message = 'console lost: '.padEnd(256 * 1024, 'x');
  await markBroken('b1', { cause: 'console-lost', message, runId: 'run-0' }, { dir });
  let writing = true;
  const writer = (async () => {
    for (let i = 1; i <= 60; i++) await markBroken('b1', { cause: 'console-lost', message, runId: `run-${i}` }, { dir });
    writing = false;
  })();
  let reads = 0;
  while (writing) {
    const health = await readHealth('b1', { dir });
    t.is(health.state === 'broken' && health.message.length, message.length);
    reads++;
  }
  await writer;
  t.true(reads > 0);
  t.deepEqual(await readdir(dir), ['b1.json'], 'no temporary file is left');
});

test('a file that is not a health record is an error naming it', async (t) => {
  const dir = await healthDir(t);
  await markHealthy('b1', { dir }); // creates nothing, fails on nothing
  await markBroken('b1', { cause: 'power', message: 'x', runId: 'r' }, { dir });
  const file = path.join(dir, 'b1.json');
  await writeFile(file, '{"state":"broken","cause":"gremlins","message":"x","at":"now","runId":"r"}');
  await t.throwsAsync(readHealth('b1', { dir }), { instanceOf: ConfigError, message: `${file}: not a board health record (needs state "broken", a verdict cause, message, at, runId)` });
  await writeFile(file, '{"state":');
  await t.throwsAsync(readHealth('b1', { dir }), { instanceOf: ConfigError, message: new RegExp(`^${file}: not a board health record: `) });
});
