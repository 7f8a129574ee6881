import test from 'ava';
import { MiB } from './digest.ts';
import { writeProgressPrinter } from './progress.ts';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = { isTTY, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

/** The printer reads CI from the environment: each test sets it and puts it back. */
function withCi(t: import('ava').ExecutionContext, value: string | undefined): void {
  const before = process.env['CI'];
  if (value === undefined) delete process.env['CI'];
  else process.env['CI'] = value;
  t.teardown(() => {
    if (before === undefined) delete process.env['CI'];
    else process.env['CI'] = before;
  });
}

test.serial('in a log, a plain line at each phase start and end and about every 10 s, with MiB/s', (t) => {
  withCi(t, 'true');
  const { stream, text } = fakeStream(true);
  let now = 0;
  const print = writeProgressPrinter({ stream, now: () => now });
  const total = 1000 * MiB;
  for (let second = 0; second <= 24; second++) {
    now = second * 1000;
    print({ phase: 'write', done: second * 40 * MiB, total });
  }
  now = 26_000;
  print({ phase: 'write', done: total, total });
  print({ phase: 'verify', done: 0, total });
  const lines = text().trimEnd().split('\n');
  t.is(lines.length, 5, text());
  t.regex(lines[1] as string, /^write +\[#+\.+\] +40% {2}400\/1000 MiB {2}40\.0 MiB\/s$/);
  t.regex(lines[3] as string, /100% {2}1000\/1000 MiB/);
  t.regex(lines[4] as string, /^verify .* 0%/);
  t.false(text().includes('\r'));
});

test.serial('on a terminal, one line redrawn in place, ended by a newline when the phase completes', (t) => {
  withCi(t, undefined);
  const { stream, text } = fakeStream(true);
  let now = 0;
  const print = writeProgressPrinter({ stream, now: () => now });
  for (let i = 0; i <= 10; i++) {
    now = i * 300;
    print({ phase: 'write', done: i * MiB, total: 10 * MiB });
  }
  t.is(text().split('\r\x1b[2K').length - 1, 11);
  t.true(text().endsWith('10/10 MiB  3.3 MiB/s\n'), JSON.stringify(text().slice(-60)));
});

test.serial('a total that is only a lower bound (gzip) is not drawn as more than 100%', (t) => {
  withCi(t, 'true');
  const { stream, text } = fakeStream(false);
  const print = writeProgressPrinter({ stream, now: () => 1000 });
  print({ phase: 'write', done: 0, total: MiB });
  print({ phase: 'write', done: 5 * MiB, total: MiB });
  t.regex(text(), /\nwrite 5 MiB/);
});
