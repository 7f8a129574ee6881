import test from 'ava';
import { VtStripper } from './vt.ts';

const strip = (text: string): string => new VtStripper().push(text);

test('removes CSI (colours, bracketed paste), OSC titles and carriage returns', (t) => {
  t.is(strip('\x1b[?2004hroot@dut:~# \x1b[?2004l\r\n'), 'root@dut:~# \n');
  t.is(strip('\x1b[01;32mgreen\x1b[0m \x1b[1;31mred\x1b[m\r\n'), 'green red\n');
  t.is(strip('\x1b]0;root@dut: ~\x07prompt'), 'prompt');
  t.is(strip('\x1b]2;title\x1b\\after'), 'after');
  t.is(strip('\x1b(B\x1b=\x1b7x\x1b8'), 'x');
});

test('keeps tabs and newlines, drops other controls and stray escapes', (t) => {
  t.is(strip('a\tb\x00c\x07d\x08e\x7ff\n'), 'a\tbcdef\n');
  t.is(strip('g\x1b\x01h\xff'), 'gh\xff');
});

test('a sequence split at every byte boundary still disappears', (t) => {
  const text = 'x\x1b[?2004hy\x1b]0;t\x07z\x1b[1;31mw';
  for (let cut = 0; cut <= text.length; cut++) {
    const stripper = new VtStripper();
    t.is(stripper.push(text.slice(0, cut)) + stripper.push(text.slice(cut)), 'xyzw', `cut at ${cut}`);
  }
  const stripper = new VtStripper();
  t.is([...text].map((char) => stripper.push(char)).join(''), 'xyzw');
});

test('an unterminated sequence does not swallow the rest of the stream', (t) => {
  const stripper = new VtStripper();
  const out = stripper.push('\x1b]0;' + 'a'.repeat(300)) + stripper.push('\nlogin: ');
  t.true(out.endsWith('\nlogin: '));
});

test('the CR-spaces-CR line erase printed before kernel messages leaves nothing, even split across chunks', (t) => {
  const vt = new VtStripper();
  t.is(vt.push('out\r\n\r       '), 'out\n');
  t.is(vt.push('    \r[   41.1] msg\r\nhello\r\n'), '[   41.1] msg\nhello\n');
  t.is(new VtStripper().push('a\r   \rb'), 'ab');
});
