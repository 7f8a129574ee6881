import test from 'ava';
import { pendingCleanups, registerCleanup, runCleanups } from './cleanup.ts';

test.serial('graceful steps run, then every immediate step; entries are removed', async (t) => {
  const calls: string[] = [];
  registerCleanup({ name: 'a', graceful: async () => void calls.push('a.graceful'), immediate: () => void calls.push('a.immediate') });
  registerCleanup({ name: 'b', immediate: () => void calls.push('b.immediate') });
  t.deepEqual(pendingCleanups(), ['a', 'b']);
  await runCleanups(1_000);
  t.deepEqual(calls, ['a.graceful', 'a.immediate', 'b.immediate']);
  t.deepEqual(pendingCleanups(), []);
});

test.serial('a graceful step that hangs is cut off by the budget; immediate still runs', async (t) => {
  let immediate = false;
  registerCleanup({ name: 'stuck', graceful: () => new Promise(() => undefined), immediate: () => (immediate = true) });
  const started = Date.now();
  await runCleanups(100);
  t.true(Date.now() - started < 1_000);
  t.true(immediate);
});

test.serial('a throwing step does not stop the others', async (t) => {
  let ran = false;
  registerCleanup({ name: 'bad', immediate: () => { throw new Error('boom'); } });
  registerCleanup({ name: 'good', immediate: () => (ran = true) });
  await runCleanups(100);
  t.true(ran);
});
