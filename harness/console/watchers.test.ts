import test from 'ava';
import { DutError } from '../errors.ts';
import { Console } from './console.ts';
import { FakeDut } from './testing/fake-dut.ts';

function setup(options: Partial<ConstructorParameters<typeof Console>[0]> = {}) {
  const dut = new FakeDut();
  const console = new Console({ stream: dut.stream, name: 'fake-1', rebootExpected: false, ...options });
  return { dut, console };
}

const PANIC = [
  '[    2.100000] VFS: Cannot open root device "vda2"',
  '[    2.200000] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
  '[    2.200001] CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.1.0 #1',
  '[    2.200002] Call Trace:',
  '[    2.200003]  <TASK>',
  '[    2.200004] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs ]---',
].join('\r\n');

test('a kernel panic fails the wait with kind panic, the trace in the excerpt', async (t) => {
  const { dut, console } = setup();
  const waiting = console.expect(['login: '], { timeoutMs: 5000, step: 'booting' });
  dut.say(`${PANIC}\r\n`);
  const error = await t.throwsAsync(waiting, { instanceOf: DutError });
  t.is(error.kind, 'panic');
  t.is(error.step, 'booting');
  t.regex(error.message, /kernel trace: .*Kernel panic - not syncing: VFS/);
  t.regex(error.excerpt ?? '', /Cannot open root device[^]*Call Trace:[^]*---\[ end Kernel panic/);
});

for (const [name, lines] of [
  ['Oops (x86)', ['[   41.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008', '[   41.000001] Oops: 0002 [#1] PREEMPT SMP NOPTI']],
  ['Oops (arm64)', ['[   41.000000] Unable to handle kernel paging request', '[   41.000001] Internal error: Oops: 0000000096000004 [#1] SMP']],
  ['BUG', ['[   12.000000] BUG: KASAN: use-after-free in foo+0x10/0x20']],
  ['WARNING', ['[   12.000000] ------------[ cut here ]------------', '[   12.000001] WARNING: CPU: 1 PID: 42 at drivers/foo.c:12 foo_probe+0x1c/0x30']],
  ['WARNING without printk time', ['WARNING: CPU: 0 PID: 1 at kernel/foo.c:1 bar+0x0/0x10']],
] as const) {
  test(`${name} is reported as a kernel trace, with the lines after it`, async (t) => {
    const { dut, console } = setup();
    const waiting = console.expect(['login: '], { timeoutMs: 5000 });
    dut.say(`boot line\r\n${lines.join('\r\n')}\r\n[   41.1] RIP: 0010:foo+0x10/0x20\r\n[   41.2] ---[ end trace 0000000000000000 ]---\r\nlogin: `);
    const error = await t.throwsAsync(waiting, { instanceOf: DutError });
    t.is(error.kind, 'panic');
    t.true(error.excerpt?.includes(lines.at(-1) ?? ''));
    t.regex(error.excerpt ?? '', /RIP: 0010:foo[^]*end trace/);
  });
}

test('a trace without an end line is reported after traceMs, and the awaited text meanwhile does not win', async (t) => {
  const { dut, console } = setup({ watchers: { traceMs: 150 } });
  const waiting = console.expect(['login: '], { timeoutMs: 5000 });
  dut.say('[ 5.000000] BUG: soft lockup - CPU#0 stuck for 22s!\r\n[ 5.000001] Modules linked in: x\r\ndut login: ');
  const started = Date.now();
  const error = await t.throwsAsync(waiting, { instanceOf: DutError });
  t.is(error.kind, 'panic');
  t.true(Date.now() - started >= 100);
  t.regex(error.excerpt ?? '', /Modules linked in/);
});

test('a trace is cut after traceLines lines', async (t) => {
  const { dut, console } = setup({ watchers: { traceLines: 3, traceMs: 5000 } });
  const waiting = console.expect(['never'], { timeoutMs: 5000 });
  dut.say(`[ 1.0] BUG: x\r\n${Array.from({ length: 10 }, (_, i) => `[ 1.${i + 1}] line ${i + 1}\r\n`).join('')}`);
  const error = await t.throwsAsync(waiting, { instanceOf: DutError });
  t.regex(error.excerpt ?? '', /line 3$/);
});

test('look-alikes do not fire: a program warning, a typed command, bracketed words', async (t) => {
  const { dut, console } = setup();
  dut.say(
    [
      'WARNING: apt does not have a stable CLI interface.',
      "root@dut:~# echo 'BUG: not a kernel bug'",
      'grep: Oops, nothing here',
      '[ ok ] Linux version string in a log',
      'login: ',
    ].join('\r\n'),
  );
  t.is((await console.expect(['login: '], { timeoutMs: 1000 })).index, 0);
});

test('the echo of what the harness sent does not fire; the same text printed by the target does', async (t) => {
  const { dut, console } = setup();
  // Typed into a shell without a prompt (PS2=''), the echo starts a line as a banner would.
  await console.send('Linux version 6.1.0 (built by us)\n');
  dut.say('Linux version 6.1.0 (built by us)\r\nprompt> ');
  await console.expect(['prompt> '], { timeoutMs: 1000 });
  const waiting = console.expect(['prompt> '], { timeoutMs: 1000 });
  dut.say('\r\nLinux version 6.1.0 (built by us)\r\nprompt> ');
  t.like(await t.throwsAsync(waiting), { kind: 'reset' });
});

for (const banner of [
  '[    0.000000] Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP',
  'BdsDxe: loading Boot0001 "UEFI QEMU HARDDISK QM00001" from PciRoot(0x0)',
  '                             GNU GRUB  version 2.06',
  'U-Boot 2023.01 (Jan 10 2023 - 12:00:00 +0000)',
  '[   45.970864] sysrq: Resetting',
  '[  312.118201] reboot: Restarting system',
]) {
  test(`an unexpected boot banner is a reset: ${banner.trim().slice(0, 20)}`, async (t) => {
    const { dut, console } = setup();
    const waiting = console.expect(['done'], { timeoutMs: 5000, step: 'test-1' });
    dut.say(`output before\r\n${banner}\r\nmore boot`);
    const error = await t.throwsAsync(waiting, { instanceOf: DutError });
    t.is(error.kind, 'reset');
    t.is(error.step, 'test-1');
    t.regex(error.excerpt ?? '', /output before\n.*(?:Linux version|BdsDxe|GRUB|U-Boot|Resetting|Restarting)/);
  });
}

test('banner patterns are configurable', async (t) => {
  const { dut, console } = setup({ watchers: { banners: [/^Hello from ROM/] } });
  const waiting = console.expect(['done'], { timeoutMs: 5000 });
  dut.say('[    0.000000] Linux version 6.1 (x)\r\nHello from ROM v1\r\n');
  const error = await t.throwsAsync(waiting, { instanceOf: DutError });
  t.is(error.kind, 'reset');
  t.regex(error.message, /boot banner: Hello from ROM v1/);
});

test('expectReboot() lets banners through until bootComplete() arms the watcher again', async (t) => {
  const { dut, console } = setup();
  console.expectReboot();
  const booting = console.expect(['login: '], { timeoutMs: 1000 });
  dut.say('BdsDxe: starting Boot0001\r\n[    0.000000] Linux version 6.1.0 (x)\r\ndut login: ');
  await booting;
  console.bootComplete();
  const waiting = console.expect(['login: '], { timeoutMs: 1000 });
  dut.say('[    0.000000] Linux version 6.1.0 (x)\r\ndut login: ');
  t.like(await t.throwsAsync(waiting), { kind: 'reset' });
});

test("reset: 'allow' lets a banner through for one wait", async (t) => {
  const { dut, console } = setup();
  const waiting = console.expect(['login: '], { timeoutMs: 1000, reset: 'allow' });
  dut.say('U-Boot 2023.01 (x)\r\nlogin: ');
  t.is((await waiting).index, 0);
});

test("reset: 'defer' ignores a banner when the wait succeeds and reports it when the wait fails", async (t) => {
  const { dut, console } = setup();
  const printed = console.expect(['END'], { timeoutMs: 1000, reset: 'defer' });
  dut.say('[    0.000000] Linux version 6.1.0 (from dmesg)\r\nEND');
  await printed;

  const rebooted = console.expect(['END'], { timeoutMs: 200, reset: 'defer', step: 'long command' });
  dut.say('[    0.000000] Linux version 6.1.0 (x)\r\n[    0.1] more boot\r\n');
  const error = await t.throwsAsync(rebooted, { instanceOf: DutError });
  t.is(error.kind, 'reset');
  t.is(error.step, 'long command');
});

test('a verdict reached while nobody waits fails the next wait, once', async (t) => {
  const { dut, console } = setup();
  dut.say('[ 9.0] BUG: unable to handle page fault\r\n[ 9.1] ---[ end trace 0 ]---\r\n');
  await new Promise((resolve) => setImmediate(resolve));
  t.like(await t.throwsAsync(console.expect(['x'], { timeoutMs: 1000 })), { kind: 'panic' });
  dut.say('x');
  t.is((await console.expect(['x'], { timeoutMs: 1000 })).index, 0);
});

test('traces: false lets a wait read kernel traces as text (dmesg)', async (t) => {
  const { dut, console } = setup();
  const waiting = console.expect(['END'], { timeoutMs: 1000, traces: false });
  dut.say('[ 9.0] WARNING: CPU: 0 PID: 1 at foo.c:1 bar\r\n[ 9.1] ---[ end trace 0 ]---\r\nEND');
  t.is((await waiting).before, '[ 9.0] WARNING: CPU: 0 PID: 1 at foo.c:1 bar\n[ 9.1] ---[ end trace 0 ]---\n');
});

test('a panic right before the stream closes is reported as the panic, then the console is lost', async (t) => {
  const { dut, console } = setup();
  const waiting = console.expect(['login: '], { timeoutMs: 5000 });
  dut.say('[ 2.2] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009\r\n[ 2.3] CPU: 0 PID: 1');
  dut.hangUp();
  const error = await t.throwsAsync(waiting, { instanceOf: DutError });
  t.is(error.kind, 'panic');
  t.regex(error.excerpt ?? '', /CPU: 0 PID: 1$/);
  t.like(await t.throwsAsync(console.expect(['x'], { timeoutMs: 100 })), { kind: 'console-lost' });
});

test('a reset deferred to a wait is told to onFault when the wait gives up', async (t) => {
  const faults: string[] = [];
  const { dut, console } = setup({ onFault: (error) => faults.push(error.kind) });
  const waiting = console.expect(['never'], { timeoutMs: 300, reset: 'defer' });
  dut.say('BdsDxe: loading Boot0001 "UEFI Misc Device"\r\n');
  t.like(await t.throwsAsync(waiting), { kind: 'reset' });
  t.deepEqual(faults, ['reset']);
});
