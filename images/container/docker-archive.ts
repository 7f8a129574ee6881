import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { sha256File } from '../builder/cache.ts';

/** The parts of a Docker image config that our images set. */
export interface ImageConfig {
  Cmd?: string[];
  Entrypoint?: string[];
  Env?: string[];
  WorkingDir?: string;
  Labels?: Record<string, string>;
  Healthcheck?: { Test: string[]; Interval?: number; Timeout?: number; Retries?: number; StartPeriod?: number };
}

export interface ArchiveImage {
  repoTag: string;
  config: ImageConfig;
}

/**
 * Writes a `docker save`-format tarball (manifest.json, one config per image,
 * one shared layer) that `docker load` / `balena-engine load` accept, so
 * images reach the engine under test without a registry or a Docker host.
 * Several images may share the single layer (e.g. a plain and a HEALTHCHECK
 * variant).
 */
export async function writeDockerArchive(output: string, layerTar: string, images: readonly ArchiveImage[]): Promise<void> {
  const layerDigest = await sha256File(layerTar);
  const layerSize = (await stat(layerTar)).size;
  const layerPath = `${layerDigest}/layer.tar`;
  const created = new Date(0).toISOString(); // byte-stable rebuilds

  const configs = images.map(({ repoTag, config }) => {
    const json = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created,
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], ...config },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
      history: [{ created, created_by: 'dutlab image build' }],
    });
    const digest = createHash('sha256').update(json).digest('hex');
    return { repoTag, json, name: `${digest}.json` };
  });
  const manifest = configs.map(({ repoTag, name }) => ({ Config: name, RepoTags: [repoTag], Layers: [layerPath] }));

  const pack = tar.pack();
  const written = pipeline(pack, createWriteStream(output));
  const mtime = new Date(0);
  pack.entry({ name: `${layerDigest}/`, type: 'directory', mtime });
  await pipeline(createReadStream(layerTar), pack.entry({ name: layerPath, size: layerSize, mtime }));
  for (const { name, json } of configs) pack.entry({ name, mtime }, json);
  pack.entry({ name: 'manifest.json', mtime }, JSON.stringify(manifest));
  pack.finalize();
  await written;
}
