import { execa } from 'execa';
import { mkdtemp, open, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findBmap } from '../storage/bmap.ts';
import { writeImage, type WriteReport } from '../storage/write-image.ts';

const CARD_BYTES = 8 * 1024 ** 3;
const MiB = 1024 * 1024;

/**
 * Flashing figures for the bench: the image written, verified, onto a sparse
 * 8 GiB file that plays a card, three ways: streamed raw, with its block map
 * (bmaptool copy), and streamed from an .xz made here once (`xz -T2 -1`).
 * Verification of a card file reads the page cache, so its cost here is the
 * hashing; on a real card it is the card's read speed.
 */
export async function flashRows(image: string): Promise<[string, string][]> {
  const bmap = await findBmap(image);
  if (!bmap) return [['flash', `no block map beside ${image}`]];
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-bench-flash-'));
  try {
    const card = path.join(dir, 'card.img');
    // Linked alone into a folder of its own, the image has no block map beside it: it is streamed.
    const bare = path.join(dir, path.basename(image));
    await symlink(image, bare);
    const rows: [string, string][] = [];
    const run = async (label: string, source: string): Promise<void> => {
      await freshCard(card);
      rows.push([`flash ${label}`, describe(await writeImage(source, card, { board: 'bench', verify: true }))]);
    };
    await run('raw stream', bare);
    await run('bmap (bmaptool copy)', image);
    const started = performance.now();
    await execa('xz', ['-k', '-T2', '-1', bare]);
    const xz = `${bare}.xz`;
    rows.push(['xz -T2 -1 of the image', `${((await stat(xz)).size / MiB).toFixed(0)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s`]);
    await run('.xz stream', xz);
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An empty sparse card each time, so no run writes onto blocks a previous one allocated. */
async function freshCard(card: string): Promise<void> {
  const handle = await open(card, 'w');
  await handle.truncate(CARD_BYTES);
  await handle.close();
}

function describe(report: WriteReport): string {
  const mib = (report.bytes / MiB).toFixed(0);
  const verifyRate = report.bytes / MiB / Math.max(report.verifySeconds, 1e-6);
  return `${mib} MiB written in ${report.writeSeconds.toFixed(1)} s (${report.mibPerSecond.toFixed(0)} MiB/s), verified in ${report.verifySeconds.toFixed(1)} s (${verifyRate.toFixed(0)} MiB/s)`;
}
