import test from 'ava';
import { copyFile, mkdir, open, readFile, symlink, truncate, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { ConfigError } from '../../harness/errors.ts';
import { tempDirs } from './temp-dirs.ts';
import { inspectOsImage } from './os-image.ts';

const MiB = 1024 * 1024;
const temp = tempDirs('dutlab-inspect-');

interface Part {
  name: string;
  startMiB: number;
  sizeMiB: number;
  /** A filesystem image written at the partition's offset. */
  content?: string;
}

/** A sparse GPT disk file as the builder makes them (sfdisk script, no loop device). */
async function gptDisk(file: string, sizeMiB: number, parts: Part[], label: 'gpt' | 'dos' = 'gpt'): Promise<string> {
  await writeFile(file, '');
  await truncate(file, sizeMiB * MiB);
  const lines = parts.map((p) => `start=${p.startMiB * 2048}, size=${p.sizeMiB * 2048}${label === 'gpt' ? `, name="${p.name}"` : ''}`);
  await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', file], { input: `label: ${label}\n${lines.join('\n')}\n` });
  const disk = await open(file, 'r+');
  for (const p of parts) if (p.content) await disk.write(await readFile(p.content), 0, undefined, p.startMiB * MiB);
  await disk.close();
  return file;
}

/** GRUB's environment block: 1024 bytes, '#'-padded, as grub-editenv writes it. */
function grubenv(vars: Record<string, string>): string {
  const body = `# GRUB Environment Block\n${Object.entries(vars)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('')}`;
  return body.padEnd(1024, '#');
}

async function fatWith(dir: string, name: string, files: Record<string, string>): Promise<string> {
  const image = path.join(dir, `${name}.vfat`);
  await execa('mkfs.vfat', ['-C', '-n', 'resin-boot', image, String(4 * 1024)]);
  for (const [target, content] of Object.entries(files)) {
    const local = path.join(dir, `${name}-${target.replaceAll('/', '_')}`);
    await writeFile(local, content);
    const dirs = target.split('/').slice(0, -1);
    for (let i = 1; i <= dirs.length; i++) await execa('mmd', ['-D', 's', '-i', image, `::${dirs.slice(0, i).join('/')}`]);
    await execa('mcopy', ['-i', image, local, `::${target}`]);
  }
  return image;
}

/** An ext4 root whose os-release is a regular file or, as on balenaOS, a link into /usr/lib. */
async function extRoot(dir: string, name: string, version: string, linked: boolean): Promise<string> {
  const tree = path.join(dir, `${name}-tree`);
  await mkdir(path.join(tree, 'etc'), { recursive: true });
  await mkdir(path.join(tree, 'usr/lib'), { recursive: true });
  const osRelease = `ID=balena-os\nNAME="balenaOS"\nVERSION="${version}"\n`;
  await writeFile(path.join(tree, 'usr/lib/os-release'), osRelease);
  if (linked) await symlink('../usr/lib/os-release', path.join(tree, 'etc/os-release'));
  else await writeFile(path.join(tree, 'etc/os-release'), osRelease);
  const image = path.join(dir, `${name}.ext4`);
  await execa('mkfs.ext4', ['-q', '-F', '-L', name, '-d', tree, image, '8M']);
  return image;
}

/** boot 1-5, rootA 5-13, rootB 13-21, state 21-22, data 22-24 MiB on a 26 MiB disk: room after data. */
async function balenaDisk(dir: string, name: string, prefix: 'resin' | 'balena', env: Record<string, string> | undefined, envPath = 'grubenv'): Promise<string> {
  const boot = await fatWith(dir, `${name}-boot`, env ? { [envPath]: grubenv(env) } : { 'config.json': '{}' });
  return gptDisk(path.join(dir, `${name}.img`), 26, [
    { name: `${prefix}-boot`, startMiB: 1, sizeMiB: 4, content: boot },
    { name: `${prefix}-rootA`, startMiB: 5, sizeMiB: 8, content: await extRoot(dir, `${name}-a`, '1.0.0', false) },
    { name: `${prefix}-rootB`, startMiB: 13, sizeMiB: 8, content: await extRoot(dir, `${name}-b`, '9.9.9', true) },
    { name: `${prefix}-state`, startMiB: 21, sizeMiB: 1 },
    { name: `${prefix}-data`, startMiB: 22, sizeMiB: 2 },
  ]);
}

async function refused(t: import('ava').ExecutionContext, file: string, pattern: RegExp): Promise<void> {
  const error = await t.throwsAsync(inspectOsImage(file), { instanceOf: ConfigError });
  t.log(error?.message);
  t.regex(error?.message ?? '', pattern);
  t.true(error?.message.startsWith(`--image ${file}: `), error?.message);
}

test('generic-amd64 keeps grubenv in EFI/BOOT and names the root by partition number: 3 is rootB', async (t) => {
  const image = await balenaDisk(await temp(), 'efi', 'resin', { resin_root_part: '3', upgrade_available: '0', bootcount: '0' }, 'EFI/BOOT/grubenv');
  const facts = await inspectOsImage(image);
  t.is(facts.activeRoot, 'resin-rootB');
  t.is(facts.version, '9.9.9');
});

test('an image booting root B reads VERSION through /etc/os-release -> ../usr/lib/os-release on rootB', async (t) => {
  const image = await balenaDisk(await temp(), 'ab', 'resin', { resin_root_part: 'B', upgrade_available: '0', bootcount: '0' });
  const facts = await inspectOsImage(image);
  t.is(facts.path, image);
  t.is(facts.sizeBytes, 26 * MiB);
  t.is(facts.bootPartition, 'resin-boot');
  t.is(facts.activeRoot, 'resin-rootB');
  t.is(facts.version, '9.9.9');
  t.deepEqual(
    facts.partitions.map((p) => [p.label, p.startBytes / MiB, p.sizeBytes / MiB]),
    [
      ['resin-boot', 1, 4],
      ['resin-rootA', 5, 8],
      ['resin-rootB', 13, 8],
      ['resin-state', 21, 1],
      ['resin-data', 22, 2],
    ],
  );
});

test('balena- labels count, and without a grubenv the root is A', async (t) => {
  const facts = await inspectOsImage(await balenaDisk(await temp(), 'noenv', 'balena', undefined));
  t.is(facts.bootPartition, 'balena-boot');
  t.is(facts.activeRoot, 'balena-rootA');
  t.is(facts.version, '1.0.0');
});

test('a root that cannot be read leaves version undefined rather than refusing the image', async (t) => {
  const dir = await temp();
  const image = await gptDisk(path.join(dir, 'blank.img'), 12, [
    { name: 'resin-boot', startMiB: 1, sizeMiB: 2 },
    { name: 'resin-rootA', startMiB: 3, sizeMiB: 8 },
  ]);
  const facts = await inspectOsImage(image, '--current');
  t.is(facts.bootPartition, 'resin-boot');
  t.is(facts.activeRoot, 'resin-rootA');
  t.is(facts.version, undefined);
});

test('a flasher is told by flash-boot with the balena-image-flasher marker; its version is the one flash-rootA installs', async (t) => {
  const dir = await temp();
  const boot = await fatWith(dir, 'flash-boot', { 'balena-image-flasher': '', 'config.json': '{"developmentMode":true}' });
  const image = await gptDisk(path.join(dir, 'flasher.img'), 20, [
    { name: 'flash-boot', startMiB: 1, sizeMiB: 4, content: boot },
    { name: 'flash-rootA', startMiB: 5, sizeMiB: 8, content: await extRoot(dir, 'flash-a', '2.3.4', true) },
    { name: 'flash-rootB', startMiB: 13, sizeMiB: 4 },
  ]);
  const facts = await inspectOsImage(image);
  t.true(facts.installer);
  t.is(facts.bootPartition, 'flash-boot');
  t.is(facts.activeRoot, 'flash-rootA');
  t.is(facts.version, '2.3.4');
  t.is(facts.developmentMode, true);
  t.false((await balenaDisk(dir, 'plain', 'resin', undefined).then((file) => inspectOsImage(file))).installer, 'an OS image is no installer');
});

test('a flash-boot without the marker is no flasher, and the refusal says so', async (t) => {
  const dir = await temp();
  const boot = await fatWith(dir, 'nomarker', { 'config.json': '{}' });
  const image = await gptDisk(path.join(dir, 'nomarker.img'), 12, [
    { name: 'flash-boot', startMiB: 1, sizeMiB: 4, content: boot },
    { name: 'flash-rootA', startMiB: 5, sizeMiB: 4 },
  ]);
  await refused(t, image, /has no boot partition labelled resin-boot or balena-boot \(partitions: flash-boot, flash-rootA\); flash-boot has no \/balena-image-flasher, so it is no flasher either/);
});

test('a truncated copy is refused, naming the partition it cuts into', async (t) => {
  const dir = await temp();
  const image = await balenaDisk(dir, 'full', 'resin', { resin_root_part: 'A' });
  const cut = path.join(dir, 'cut.img');
  await copyFile(image, cut);
  await truncate(cut, 20 * MiB);
  await refused(t, cut, /truncated: 20\.0 MiB long but partition resin-data ends at 24\.0 MiB/);
});

test('a copy missing only the end of the disk the GPT describes is refused too', async (t) => {
  const dir = await temp();
  const image = await balenaDisk(dir, 'tail', 'resin', { resin_root_part: 'A' });
  await truncate(image, 25 * MiB);
  await refused(t, image, /truncated: 25\.0 MiB long but its GPT partition table ends at 26\.0 MiB/);
});

test('a file of zeros, an MBR disk and a damaged header are not GPT disks', async (t) => {
  const dir = await temp();
  const zeros = path.join(dir, 'zeros.img');
  await writeFile(zeros, Buffer.alloc(MiB));
  await refused(t, zeros, /: not a GPT disk \(no 'EFI PART' header at LBA 1\)$/);

  const mbr = await gptDisk(path.join(dir, 'mbr.img'), 8, [{ name: 'x', startMiB: 1, sizeMiB: 4 }], 'dos');
  await refused(t, mbr, /not a GPT disk \(no 'EFI PART' header at LBA 1; it has an MBR partition table\)/);

  const damaged = await gptDisk(path.join(dir, 'damaged.img'), 8, [{ name: 'resin-boot', startMiB: 1, sizeMiB: 4 }]);
  const handle = await open(damaged, 'r+');
  await handle.write(Buffer.from([0xff]), 0, 1, 512 + 40); // first usable LBA
  await handle.close();
  await refused(t, damaged, /corrupt GPT: header checksum mismatch/);
});

test('a GPT disk without a boot partition is refused, listing what it has', async (t) => {
  const image = await gptDisk(path.join(await temp(), 'noboot.img'), 12, [
    { name: 'resin-rootA', startMiB: 1, sizeMiB: 8 },
    { name: '', startMiB: 9, sizeMiB: 1 },
    { name: 'resin-data', startMiB: 10, sizeMiB: 1 },
  ]);
  await refused(t, image, /has no boot partition labelled resin-boot or balena-boot \(partitions: resin-rootA, \(unnamed\), resin-data\)/);
});

test('compressed and qcow2 images are refused with what to do', async (t) => {
  const dir = await temp();
  const gz = path.join(dir, 'x.img.gz');
  await writeFile(gz, gzipSync(Buffer.alloc(4096)));
  await refused(t, gz, /is gzip-compressed, not a raw disk image; decompress it first/);
  const qcow2 = path.join(dir, 'x.qcow2');
  await writeFile(qcow2, Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), Buffer.alloc(4096)]));
  await refused(t, qcow2, /is a qcow2 image, not a raw disk image/);
});

test('a missing path, a directory and an empty file are refused by name', async (t) => {
  const dir = await temp();
  await refused(t, path.join(dir, 'nope.img'), /: not found$/);
  await refused(t, dir, /: is a directory, not a disk image file$/);
  const empty = path.join(dir, 'empty.img');
  await writeFile(empty, '');
  await refused(t, empty, /: is empty$/);
  const error = await t.throwsAsync(inspectOsImage('no-such-dir/x.img', '--image'), { instanceOf: ConfigError });
  t.is(error?.message, `--image no-such-dir/x.img: not found (looked for ${path.resolve('no-such-dir/x.img')})`);
});

(process.getuid?.() === 0 ? test.skip : test)('an unreadable file is refused with the errno (skipped as root)', async (t) => {
  const file = path.join(await temp(), 'locked.img');
  await writeFile(file, Buffer.alloc(4096));
  await chmod(file, 0o000);
  await refused(t, file, /: not readable: EACCES$/);
});

const reference = path.resolve('images/out/refos-1.0.0.img');

test('the reference image is resin-boot with version 1.0.0 on rootA, in well under a second', async (t) => {
  if (!existsSync(reference)) {
    t.log(`${reference} is not built; skipped`);
    t.pass();
    return;
  }
  const started = performance.now();
  const facts = await inspectOsImage(reference);
  const ms = performance.now() - started;
  t.log(`inspectOsImage(${path.basename(reference)}): ${ms.toFixed(0)} ms`);
  t.is(facts.bootPartition, 'resin-boot');
  t.is(facts.activeRoot, 'resin-rootA');
  t.is(facts.version, '1.0.0');
  t.true(ms < 5000, `took ${ms} ms`);
});
