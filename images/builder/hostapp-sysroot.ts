import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ToolError, tail } from '../../harness/errors.ts';
import { makeExt4 } from './filesystems.ts';
import { tool } from './tool.ts';

const GUEST_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'mkfs-hostapp.sh');
const DONE_MARKER = 'DUTLAB-MKFS-HOSTAPP-OK';
/** Under TCG on a slow 2-core machine the load of a ~600 MB hostapp took about two minutes; this bounds a hang, not a slow machine. */
const VM_TIMEOUT_MS = 30 * 60_000;

export interface SysrootBuild {
  /** The OS tree the hostapp was made from: the VM boots it read-only, so the engine that fills the partition is the OS's own. */
  tree: string;
  hostapp: string;
  output: string;
  label: string;
  sizeMiB: number;
  workDir: string;
}

/**
 * A root partition as balenaOS lays it out (an engine store at /balena with
 * the hostapp as one image and one bare container, `current`, `sbin/init`,
 * `boot`, `counter`), filled the way balenaOS's build fills it: the OS's
 * engine on the partition's /balena runs `hostapp-update -f HOSTAPP -n`.
 * No engine runs on this host, so both run in a throwaway QEMU guest booted
 * from the tree itself; the engine writes straight into the ext4 image
 * instead of a directory later given to `mkfs.ext4 -d`.
 */
export async function buildHostappSysroot(b: SysrootBuild): Promise<void> {
  // -i 8192: as balenaOS's create.ext4, since an engine store has many small files.
  await makeExt4(b.output, b.label, b.sizeMiB, undefined, ['-i', '8192']);
  const vmRoot = path.join(b.workDir, 'vm-root.ext4');
  await makeExt4(vmRoot, 'mkfs-hostapp', 2048, b.tree);
  await tool('debugfs', ['-w', '-R', `write ${GUEST_SCRIPT} /mkfs-hostapp`, vmRoot]);
  await tool('debugfs', ['-w', '-R', 'sif /mkfs-hostapp mode 0100755', vmRoot]);
  const console = path.join(b.workDir, 'mkfs-hostapp.log');
  await tool(
    'qemu-system-x86_64',
    [
      '-machine', 'q35', '-accel', 'tcg', '-m', '3072', '-smp', '2', '-no-reboot',
      '-display', 'none', '-monitor', 'none', '-serial', `file:${console}`,
      '-kernel', path.join(b.tree, 'boot', 'vmlinuz'),
      '-initrd', path.join(b.tree, 'boot', 'initrd.img'),
      '-append', 'root=/dev/vda ro init=/mkfs-hostapp console=ttyS0,115200 apparmor=0 panic=-1 quiet',
      '-drive', `file=${vmRoot},format=raw,if=virtio,readonly=on`,
      '-drive', `file=${b.output},format=raw,if=virtio`,
      '-drive', `file=${b.hostapp},format=raw,if=virtio,readonly=on`,
    ],
    { timeout: VM_TIMEOUT_MS, step: 'image build: hostapp root partition' },
  );
  const log = await readFile(console, 'utf8').catch(() => '');
  if (!log.includes(DONE_MARKER)) {
    throw new ToolError('mkfs-hostapp', `the build VM did not fill ${b.label} (its console, ${console}, has no ${DONE_MARKER})`, tail(log), { step: 'image build: hostapp root partition' });
  }
}
