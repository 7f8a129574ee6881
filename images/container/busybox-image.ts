import { chmod, mkdir, rm, symlink, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { tool } from '../builder/tool.ts';
import { writeDockerArchive } from './docker-archive.ts';

/** Debian's busybox-static: one static binary, so the image needs no libc. */
export const HOST_BUSYBOX = '/bin/busybox';

export const BUSYBOX_TAG = 'dutlab/busybox:latest';
export const BUSYBOX_HEALTH_TAG = 'dutlab/busybox-health:latest';

/**
 * The tiny container image suites load into the engine without a registry:
 * a static busybox, plus a HEALTHCHECK variant that reports healthy while
 * /tmp/healthy exists (delete it from inside to make it unhealthy).
 */
export async function buildBusyboxArchive(output: string, workDir: string): Promise<void> {
  const tree = path.join(workDir, 'busybox-tree');
  await rm(tree, { recursive: true, force: true });
  await mkdir(path.join(tree, 'bin'), { recursive: true });
  await mkdir(path.join(tree, 'tmp'));
  await chmod(path.join(tree, 'tmp'), 0o1777);
  await copyFile(HOST_BUSYBOX, path.join(tree, 'bin', 'busybox'));
  const applets = (await tool(HOST_BUSYBOX, ['--list'])).split('\n').filter((a) => a && a !== 'busybox');
  for (const applet of applets) await symlink('busybox', path.join(tree, 'bin', applet));

  const layer = path.join(workDir, 'busybox-layer.tar');
  await tool('tar', ['-C', tree, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', '--mtime=@0', '-cf', layer, '.']);
  const seconds = 1e9;
  await writeDockerArchive(output, layer, [
    { repoTag: BUSYBOX_TAG, config: { Cmd: ['sh'] } },
    {
      repoTag: BUSYBOX_HEALTH_TAG,
      config: {
        Cmd: ['sh', '-c', 'touch /tmp/healthy && exec sleep 2147483647'],
        Healthcheck: { Test: ['CMD', 'test', '-e', '/tmp/healthy'], Interval: 2 * seconds, Timeout: 2 * seconds, Retries: 1 },
      },
    },
  ]);
  await rm(tree, { recursive: true, force: true });
  await rm(layer, { force: true });
}
