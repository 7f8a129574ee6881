/**
 * The refusals, on this machine's own kernel tables: its real mountinfo and
 * /sys entries, and the disk that holds `/` here, which must be refused.
 * Only checkTarget runs against real devices: it reads and never writes, so
 * a bug here cannot reach the host's disk. The expected answers come from
 * other sources than the code's own parsing (stat of `/`, findmnt, lsblk).
 */
import test from 'ava';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { DutError } from '../errors.ts';
import { checkTarget, deviceNumber, parseMountinfo, rootDevice, stackedDevices, wholeDisks } from './target-check.ts';
import { tempDir } from '../testing/temp-dir.ts';

const where = { board: 'rpi-7', step: 'check target', device: '' };
const GiB = 1024 ** 3;

/** `/` as util-linux sees it: its source, and the whole disk under it (lsblk's parent kernel name, or the device itself). */
async function rootDiskByUtilLinux(): Promise<{ source: string; disk: string } | undefined> {
  const source = (await execa('findmnt', ['-no', 'SOURCE', '/'], { reject: false })).stdout.trim();
  if (!source.startsWith('/dev/') || !(await stat(source).then((s) => s.isBlockDevice(), () => false))) return undefined;
  const parent = (await execa('lsblk', ['-ndo', 'PKNAME', source])).stdout.trim();
  return { source, disk: `/dev/${parent || path.basename(source)}` };
}
const root = await rootDiskByUtilLinux();
const rootTest = root ? test : test.skip;
// Tests are declared synchronously: whatever decides them is read first.
const zram = await stat('/dev/zram0').then((s) => s.isBlockDevice(), () => false);
const emptyZram = zram && (await readFile('/sys/class/block/zram0/size', 'utf8')).trim() === '0';

test('mountinfo parsing finds the device / is mounted from, as stat(/) reports it', async (t) => {
  const mounts = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8'));
  t.true(mounts.some((m) => m.mountPoint === '/proc' && m.source === 'proc'));
  const rootDev = (await stat('/', { bigint: true })).dev;
  t.is(await rootDevice(mounts), deviceNumber(rootDev));
});

test('mountinfo escapes in mount points are decoded', (t) => {
  const [entry] = parseMountinfo('36 35 8:17 / /media/my\\040card rw,relatime shared:1 - vfat /dev/sdb1 rw\n');
  t.deepEqual(entry, { device: '8:17', mountPoint: '/media/my card', source: '/dev/sdb1' });
});

test('device numbers are split as glibc splits them, large minors included', (t) => {
  const makedev = (major: bigint, minor: bigint): bigint => (minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n);
  t.is(deviceNumber(makedev(8n, 17n)), '8:17');
  t.is(deviceNumber(makedev(259n, 70000n)), '259:70000');
  t.is(deviceNumber(makedev(5000n, 3n)), '5000:3');
});

rootTest("the host's root disk is refused, named, before anything else about it is considered", async (t) => {
  const { disk } = root as { disk: string };
  const error = await t.throwsAsync(checkTarget(disk, 0, { ...where, device: disk }), { instanceOf: DutError });
  t.is(error.kind, 'config');
  t.true(error.message.includes(`${disk}: is the host's own root disk (${disk} holds /)`), error.message);
});

rootTest('sysfs: the root disk is its own whole disk, and what is stacked on it includes itself', async (t) => {
  const { disk } = root as { disk: string };
  const number = deviceNumber((await stat(disk, { bigint: true })).rdev);
  t.deepEqual([...(await wholeDisks(number))], [path.basename(disk)]);
  t.is((await stackedDevices(number)).get(number), path.basename(disk));
});

rootTest('a disk with a mounted filesystem is refused, saying where it is mounted', async (t) => {
  const dir = await tempDir(t, 'flash');
  const { disk } = root as { disk: string };
  const number = deviceNumber((await stat(disk, { bigint: true })).rdev);
  // This machine's /sys, and a mount table in which / lives elsewhere (an overlay) and the disk is mounted at /srv/data.
  const mountinfo = path.join(dir, 'mountinfo');
  await writeFile(mountinfo, `1 0 0:99 / / rw - overlay overlay rw\n2 1 ${number} / /srv/data rw - ext4 ${disk} rw\n`);
  const error = await t.throwsAsync(checkTarget(disk, 0, { ...where, device: disk }, { mountinfo, swaps: path.join(dir, 'none') }), { instanceOf: DutError });
  t.true(error.message.includes(`${disk}: is in use: ${disk} (${number}) is mounted at /srv/data`), error.message);
});

rootTest('a disk used as swap is refused', async (t) => {
  const dir = await tempDir(t, 'flash');
  const { disk } = root as { disk: string };
  const mountinfo = path.join(dir, 'mountinfo');
  const swaps = path.join(dir, 'swaps');
  await writeFile(mountinfo, '1 0 0:99 / / rw - overlay overlay rw\n');
  await writeFile(swaps, `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n${disk}                               partition\t1048572\t\t0\t\t-2\n`);
  const error = await t.throwsAsync(checkTarget(disk, 0, { ...where, device: disk }, { mountinfo, swaps }), { instanceOf: DutError });
  t.regex(error.message, /is in use: \/dev\/\S+ is a swap area/);
});

(emptyZram ? test : test.skip)('a block device of size 0 (a reader with no card, a mux on the DUT side) is refused with the mux hint', async (t) => {
  const error = await t.throwsAsync(checkTarget('/dev/zram0', GiB, { ...where, device: '/dev/zram0' }), { instanceOf: DutError });
  t.is(error.message, 'dut rpi-7, step check target: /dev/zram0: has no medium (size 0): is the mux switched to the host?');
});

test('a regular file is measured by its size; a character device is refused', async (t) => {
  const dir = await tempDir(t, 'flash');
  const card = path.join(dir, 'card.img');
  await writeFile(card, Buffer.alloc(4096));
  t.like(await checkTarget(card, 4096, { ...where, device: card }), { kind: 'file', bytes: 4096 });
  const error = await t.throwsAsync(checkTarget('/dev/null', 1, { ...where, device: '/dev/null' }), { instanceOf: DutError });
  t.regex(error.message, /\/dev\/null: is neither a block device nor a regular file/);
});
