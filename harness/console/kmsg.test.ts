import test from 'ava';
import { KernelLineFilter } from './kmsg.ts';

const filter = (text: string): string => new KernelLineFilter().push(text);

test('removes whole printk lines and records spliced mid-line', (t) => {
  t.is(filter('a\n[   12.345678] random: crng init done\nb\n'), 'a\nb\n');
  t.is(filter('hel[   12.345678] random: crng init done\nlo\n'), 'hello\n');
  t.is(filter('[    0.000000][    T0] Linux version 6.1\nx'), 'x');
});

test('keeps brackets that are not printk timestamps', (t) => {
  const text = 'a[1] b [ ok ] [12.5]x [  3.25]\n[x] [ 1. 2] done\n';
  t.is(filter(text), text);
});

test('a record cut at any byte is still removed', (t) => {
  const text = 'one\ntw[  100.500000] usb 1-1: new device\no\n';
  const f = new KernelLineFilter();
  t.is([...text].map((char) => f.push(char)).join(''), 'one\ntwo\n');
});

test('holds back a possible timestamp until it is decided', (t) => {
  const f = new KernelLineFilter();
  t.is(f.push('x [  1'), 'x ');
  t.is(f.pending(), '[  1');
  t.is(f.push('2 apples]\n'), '[  12 apples]\n');
});
