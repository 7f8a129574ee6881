import { tool } from './tool.ts';

/** An ext4 image file filled from a directory (or empty), without mounting. */
export async function makeExt4(file: string, label: string, sizeMiB: number, fromDir?: string, extra: readonly string[] = []): Promise<void> {
  const fill = fromDir ? ['-d', fromDir] : [];
  await tool('mkfs.ext4', ['-q', '-F', '-L', label, '-E', 'root_owner=0:0', ...extra, ...fill, file, `${sizeMiB}M`]);
}

/** A FAT image file holding the given files ({ '/EFI/BOOT/BOOTX64.EFI': hostPath }). */
export async function makeVfat(file: string, label: string, sizeMiB: number, files: Record<string, string>): Promise<void> {
  await tool('mkfs.vfat', ['-C', '-n', label, file, String(sizeMiB * 1024)]);
  const dirs = new Set<string>();
  for (const target of Object.keys(files)) {
    const parts = target.split('/').filter(Boolean).slice(0, -1);
    for (let i = 1; i <= parts.length; i++) dirs.add(`/${parts.slice(0, i).join('/')}`);
  }
  for (const dir of [...dirs].sort()) await tool('mmd', ['-i', file, `::${dir}`]);
  for (const [target, source] of Object.entries(files)) await tool('mcopy', ['-o', '-i', file, source, `::${target}`]);
}
