/** The dutlab CLI as a user runs it: real processes, real QEMU for the boot cases. */
import test from 'ava';
import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildImages } from '../../images/build.ts';

const dutlab = path.resolve('bin/dutlab.js');

const alive = async (pid: number): Promise<boolean> => {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie is dead, only not yet reaped
  } catch {
    return false;
  }
};

test('bad input exits 2 with a message naming the flag or file', async (t) => {
  const board = await execa('node', [dutlab, 'boot', '--board', 'no-such-board', '--image', '/nonexistent.img'], { reject: false });
  t.is(board.exitCode, 2);
  t.regex(board.stderr, /no such board "no-such-board" \(known boards: qemu-x86_64/);

  const flag = await execa('node', [dutlab, 'exec', '--transport', 'pigeon', '--', 'true'], { reject: false });
  t.is(flag.exitCode, 2);
  t.regex(flag.stderr, /--transport: must be one of auto, serial, ssh \(got "pigeon"\)/);

  const unknown = await execa('node', [dutlab, 'frobnicate'], { reject: false });
  t.is(unknown.exitCode, 2);
  t.regex(unknown.stderr, /unknown command "frobnicate"/);
});

test.serial('dutlab exec boots the image, runs the command and exits with its exit code', async (t) => {
  const image = (await buildImages()).versions[0]?.image.path ?? '';
  const result = await execa('node', [dutlab, 'exec', '--image', image, '--transport', 'serial', '--', 'cat /etc/issue; exit 3'], {
    reject: false,
    timeout: 10 * 60_000,
  });
  t.is(result.exitCode, 3, result.stderr);
  t.regex(result.stdout, /^balenaOS \d/);
  t.regex(result.stderr, /\]\s+ready/);
});

test.serial('a harness killed with SIGKILL leaves no QEMU behind', async (t) => {
  const image = (await buildImages()).versions[0]?.image.path ?? '';
  const child = execa('node', [dutlab, 'boot', '--json', '--image', image], { reject: false, buffer: false });
  const summary = await new Promise<{ board: { runDir: string } }>((resolve, reject) => {
    let text = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    void child.then(() => reject(new Error('dutlab boot exited before the DUT was ready')));
  });
  const qemuPid = Number((await readFile(path.join(summary.board.runDir, 'qemu.pid'), 'utf8')).trim());
  t.true(await alive(qemuPid), 'QEMU runs while the harness does');

  child.kill('SIGKILL');
  await child;
  const deadline = Date.now() + 10_000;
  while ((await alive(qemuPid)) && Date.now() < deadline) await sleep(100);
  t.false(await alive(qemuPid), `QEMU ${qemuPid} outlived the killed harness`);
});
