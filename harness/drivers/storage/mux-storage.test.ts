/**
 * The sdwire and command drivers through real processes: a stand-in
 * `sd-mux-ctrl` (a shell script that logs its arguments and links the card
 * as the host would see it) and failing or hanging shell commands.
 */
import test from 'ava';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandStorage } from '../../boards/types.ts';
import { DutError } from '../../errors.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import { makeCard, makeImage, MiB, sha256Prefix } from '../../storage/testing/images.ts';
import { bindStorage } from './index.ts';

test('sdwire: --ts before the write, --dut on handOver, with the board file serial', async (t) => {
  const dir = await tempDir(t, 'flash');
  const ctrl = path.join(dir, 'sd-mux-ctrl');
  await writeFile(ctrl, `#!/bin/sh\necho "$*" >> ${dir}/calls\ncd ${dir}\ncase "$2" in --ts) ln -sf card.img sda ;; --dut) rm -f sda ;; esac\n`);
  await chmod(ctrl, 0o755);
  await makeCard(path.join(dir, 'card.img'), 32);
  const image = path.join(dir, 'os.img');
  await makeImage(image, 24);
  const storage = bindStorage({ kind: 'sdwire', serial: 'sdw-7', command: ctrl, medium: { device: path.join(dir, 'sda') }, verify: false, timeoutMs: 5000 }, 'rpi-7');
  const medium = await storage.write(image);
  t.is(await sha256Prefix(path.join(dir, 'card.img'), 24 * MiB), await sha256Prefix(image, 24 * MiB));
  await storage.handOver();
  t.deepEqual((await readFile(path.join(dir, 'calls'), 'utf8')).trim().split('\n'), ['--device-serial=sdw-7 --ts', '--device-serial=sdw-7 --dut']);
  t.is(medium.path, path.join(dir, 'sda'));
});

const commandMux = (host: string[], timeoutMs = 5000): CommandStorage => ({ kind: 'command', host, dut: ['true'], medium: { device: '/nonexistent/sda' }, verify: true, timeoutMs });

test('a mux command that fails is a tool error naming the board, the step, the command and its stderr', async (t) => {
  const error = await t.throwsAsync(bindStorage(commandMux(['sh', '-c', 'echo "relay jammed" >&2; exit 3']), 'rpi-7').write('/nonexistent/os.img'), { instanceOf: DutError });
  t.is(error.kind, 'tool');
  t.is(error.dut, 'rpi-7');
  t.is(error.step, 'switch SD mux to the host');
  t.regex(error.message, /SD mux command `sh -c .*`: sh failed: Command failed with exit code 3: sh -c/);
  t.regex(error.message, /relay jammed$/);
});

test('a mux command that hangs is stopped at the board file bound', async (t) => {
  const started = Date.now();
  const error = await t.throwsAsync(bindStorage(commandMux(['sleep', '30'], 400), 'rpi-7').write('/nonexistent/os.img'), { instanceOf: DutError });
  t.is(error.kind, 'tool');
  t.regex(error.message, /timed out after 400 milliseconds/);
  t.true(Date.now() - started < 5000);
});

test('an aborted run stops a mux command and reports the run\'s reason', async (t) => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DutError('interrupted', 'SIGTERM')), 200);
  const error = await t.throwsAsync(bindStorage(commandMux(['sleep', '30']), 'rpi-7').write('/nonexistent/os.img', { signal: controller.signal }), { instanceOf: DutError });
  t.is(error.kind, 'interrupted');
});
