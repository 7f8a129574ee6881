import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ConfigError } from '../../harness/errors.ts';
import { containerFormat, openInput, readAt, type InputFile } from './input-file.ts';
import { memberPath, readText, resolveLink, scanLayer, tarErrorReason, versionOfLayers, type LayerScan } from './layer-scan.ts';

export interface HostappFacts {
  path: string;
  sizeBytes: number;
  repoTags: string[];
  /** How many layers the manifest lists for the image. */
  layers: number;
  /** VERSION from os-release in the image's root, when it has one. */
  version?: string;
}

interface ManifestImage {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

interface ArchiveScan {
  members: Set<string>;
  /** Legacy docker save links a layer shared by two image IDs to its first copy. */
  links: Map<string, string>;
  manifest?: string;
  layers: Map<string, LayerScan>;
  /** Whether the file ends in the two zero blocks a complete tar ends with. */
  endMarker: boolean;
}

const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
/** docker save metadata that is never a layer; everything else is tried as one. */
const METADATA = new Set(['repositories', 'oci-layout', 'json', 'VERSION']);

/**
 * What a hostapp given with `flag` holds: a `docker save` archive of exactly
 * one image (what hostapp-update loads), read in one streaming pass since
 * manifest.json may come after the layers. Throws ConfigError naming the flag
 * and file. Gzip-compressed archives are read too, as `docker load` takes them.
 */
export async function inspectHostapp(file: string, flag = '--next-hostapp'): Promise<HostappFacts> {
  const input = await openInput(file, flag, 'a docker save archive');
  const fail = (message: string) => new ConfigError(input.location, message);

  const format = containerFormat(await readAt(input.handle, 0, 8));
  if (format && format !== 'gzip-compressed') {
    await input.handle.close();
    throw fail(`is ${format}, not a docker save archive (a tar)`);
  }
  const scan = await scanArchive(input, format === 'gzip-compressed');

  if (scan.manifest === undefined) {
    const why = scan.members.has('index.json')
      ? ' (an OCI layout without the docker manifest)'
      : scan.endMarker
        ? ''
        : ' (and no tar end marker: truncated?)';
    throw fail(`not a docker save archive: no manifest.json${why}`);
  }
  const image = singleImage(scan.manifest, fail);
  if (!scan.members.has(memberPath(image.Config))) throw fail(`manifest.json names config ${image.Config}, which is not in the archive`);
  const layers = image.Layers.map((layer) => {
    const member = memberPath(layer);
    if (!scan.members.has(member)) throw fail(`manifest.json names layer ${layer}, which is not in the archive`);
    const layerScan = scan.layers.get(scan.links.get(member) ?? member);
    if (layerScan?.kind === 'not-tar') throw fail(`layer ${layer} is not a readable tar (${layerScan.reason})`);
    return layerScan ?? { kind: 'unsupported' as const, reason: 'not scanned' };
  });

  return {
    path: input.path,
    sizeBytes: input.sizeBytes,
    repoTags: image.RepoTags,
    layers: image.Layers.length,
    version: versionOfLayers(layers),
  };
}

/** One pass: every member's name, the manifest's text, and a scan of each file that may be a layer. */
async function scanArchive(input: InputFile, gzip: boolean): Promise<ArchiveScan> {
  const fail = (message: string) => new ConfigError(input.location, message);
  const scan: ArchiveScan = { members: new Set(), links: new Map(), layers: new Map(), endMarker: gzip || (await endsWithMarker(input)) };
  const extract = tar.extract();
  const source = input.handle.createReadStream({ start: 0 }); // closes the handle when done
  const piped = (gzip ? pipeline(source, createGunzip(), extract) : pipeline(source, extract)).then(
    () => undefined,
    (error: unknown) => error as Error,
  );
  let last: string | undefined;
  let failure: Error | undefined;
  try {
    for await (const entry of extract) {
      const name = memberPath(entry.header.name);
      scan.members.add(name);
      last = name;
      const isFile = entry.header.type === 'file' || entry.header.type === 'contiguous-file';
      if (name === 'manifest.json') {
        if ((entry.header.size ?? 0) > MAX_MANIFEST_BYTES) {
          entry.resume();
          failure = fail(`manifest.json is ${entry.header.size} bytes, too big for a docker save manifest`);
        } else {
          scan.manifest = await readText(entry, MAX_MANIFEST_BYTES);
        }
      } else if (isFile && !name.endsWith('.json') && !METADATA.has(path.posix.basename(name))) {
        scan.layers.set(name, await scanLayer(entry));
      } else {
        const { type, linkname } = entry.header;
        if (type === 'symlink' && linkname) scan.links.set(name, resolveLink(name, linkname));
        if (type === 'link' && linkname) scan.links.set(name, memberPath(linkname));
        entry.resume();
      }
    }
  } catch (error) {
    failure ??= error as Error;
  }
  const pipeError = await piped;
  await input.handle.close().catch(() => undefined); // the read stream may have closed it already
  const error = failure ?? pipeError;
  if (error instanceof ConfigError) throw error;
  if (error) {
    if ((error as NodeJS.ErrnoException).code?.startsWith('Z_')) throw fail(`is gzip-compressed but truncated or corrupt (${error.message})`);
    if (last === undefined) throw fail(error.message.startsWith('Invalid tar header') ? 'not a tar archive' : `not a tar archive (${error.message})`);
    throw fail(`truncated or corrupt tar archive after member ${last} (${tarErrorReason(error)})`);
  }
  return scan;
}

async function endsWithMarker(input: InputFile): Promise<boolean> {
  if (input.sizeBytes < 1024) return false;
  const tail = await readAt(input.handle, input.sizeBytes - 1024, 1024);
  return tail.every((b) => b === 0);
}

function singleImage(text: string, fail: (message: string) => ConfigError): ManifestImage {
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw fail(`manifest.json is not valid JSON (${(error as Error).message})`);
  }
  if (!Array.isArray(manifest)) throw fail('manifest.json is not a docker save manifest (expected a list of images)');
  if (manifest.length !== 1) {
    const tags = manifest.flatMap((image: { RepoTags?: unknown }) => (Array.isArray(image?.RepoTags) ? image.RepoTags : []));
    const named = tags.length ? ` (${tags.join(', ')})` : '';
    throw fail(`holds ${manifest.length === 0 ? 'no images' : `${manifest.length} images${named}`}, a hostapp is exactly one`);
  }
  const image = manifest[0] as Partial<Record<keyof ManifestImage, unknown>> | null;
  if (typeof image?.Config !== 'string') throw fail('manifest.json: the image has no Config');
  if (!Array.isArray(image.Layers) || !image.Layers.every((l) => typeof l === 'string')) {
    throw fail('manifest.json: the image has no Layers list');
  }
  // An image saved by ID has RepoTags null.
  const repoTags = Array.isArray(image.RepoTags) ? image.RepoTags.filter((t): t is string => typeof t === 'string') : [];
  return { Config: image.Config, RepoTags: repoTags, Layers: image.Layers as string[] };
}
