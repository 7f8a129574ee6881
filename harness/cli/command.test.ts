import test from 'ava';
import { asksForHelp, closest } from './command.ts';

test('--help counts only before `--`: after it, it belongs to the command run on the DUT', (t) => {
  t.true(asksForHelp(['--board', 'x', '--help']));
  t.true(asksForHelp(['-h']));
  t.false(asksForHelp(['--', 'ls', '--help']));
});

test('the closest flag: a slip or a swap is named, an unrelated word is not', (t) => {
  const flags = ['board', 'image', 'boot-timeout', 'json', 'reports', 'suite'];
  t.is(closest('boad', flags), 'board');
  t.is(closest('baord', flags), 'board');
  t.is(closest('jsno', flags), 'json');
  t.is(closest('report', flags), 'reports');
  t.is(closest('boot', flags), 'boot-timeout');
  t.is(closest('frobnicate', flags), undefined);
});
