import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { osReleaseVersion } from './os-release.ts';

/**
 * Finds os-release in image layers while they stream past, without unpacking
 * them: a layer is a tar nested in the archive's tar. Only the few paths that
 * can lead to os-release are kept (the file, or the links to it), so a 500 MB
 * root costs one read and a few KiB of memory.
 */

type Node = { kind: 'file'; content: string } | { kind: 'symlink'; target: string } | { kind: 'hardlink'; target: string };

export type LayerScan =
  | { kind: 'layer'; nodes: Map<string, Node>; whiteouts: string[]; opaqueDirs: string[] }
  | { kind: 'not-tar'; reason: string }
  | { kind: 'unsupported'; reason: string };

/** The os-release(5) search order: /etc first, /usr/lib when /etc has none. */
const OS_RELEASE = ['etc/os-release', 'usr/lib/os-release'];
const MAX_TEXT_BYTES = 64 * 1024;
const MAX_LINK_HOPS = 8;

/** A tar member name as a path from the root: "./etc/x" and "/etc/x/" both become "etc/x". */
export function memberPath(name: string): string {
  return path.posix.normalize(`/${name}`).slice(1).replace(/\/$/, '');
}

/** Where a symbolic link at `from` points, as a path from the root; `..` stops at the root. */
export function resolveLink(from: string, target: string): string {
  return path.posix.resolve('/', path.posix.dirname(from), target).slice(1);
}

/**
 * Drains `entry` to its end in every case: tar-stream entries are streamx
 * streams whose destruction aborts the whole outer archive, so a layer that
 * fails to parse must still be read through, never abandoned.
 */
export async function scanLayer(entry: AsyncIterable<unknown>): Promise<LayerScan> {
  const feed = new PassThrough();
  let parsing: Promise<LayerScan> | undefined;
  let unsupported: string | undefined;
  for await (const data of entry) {
    const chunk = data as Buffer;
    if (!parsing && !unsupported) {
      if (chunk[0] === 0x28 && chunk[1] === 0xb5 && chunk[2] === 0x2f && chunk[3] === 0xfd) {
        unsupported = 'zstd-compressed layer'; // no zstd in node:zlib on Node 20
      } else {
        parsing = parseLayer(feed, chunk[0] === 0x1f && chunk[1] === 0x8b);
      }
    }
    if (!parsing || feed.destroyed) continue;
    if (!feed.write(chunk)) await drainedOrClosed(feed);
  }
  feed.end();
  if (unsupported) return { kind: 'unsupported', reason: unsupported };
  return parsing ?? { kind: 'not-tar', reason: 'empty' };
}

function drainedOrClosed(stream: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

async function parseLayer(feed: PassThrough, gzip: boolean): Promise<LayerScan> {
  const extract = tar.extract();
  const piped = (gzip ? pipeline(feed, createGunzip(), extract) : pipeline(feed, extract)).then(
    () => undefined,
    (error: unknown) => error,
  );
  const nodes = new Map<string, Node>();
  const whiteouts: string[] = [];
  const opaqueDirs: string[] = [];
  // Grows as links are met; tars list etc/ before usr/, so a link is seen before its target.
  const wanted = new Set(OS_RELEASE);
  try {
    for await (const member of extract) {
      const name = memberPath(member.header.name);
      const base = path.posix.basename(name);
      const dir = path.posix.dirname(name);
      if (base === '.wh..wh..opq') opaqueDirs.push(dir === '.' ? '' : dir);
      else if (base.startsWith('.wh.')) whiteouts.push(path.posix.join(dir, base.slice(4)));
      if (!wanted.has(name)) {
        member.resume();
        continue;
      }
      const { type, linkname } = member.header;
      if (type === 'file' || type === 'contiguous-file') {
        nodes.set(name, { kind: 'file', content: await readText(member) });
        continue;
      }
      member.resume();
      if (type === 'symlink' && linkname) {
        nodes.set(name, { kind: 'symlink', target: linkname });
        wanted.add(resolveLink(name, linkname));
      } else if (type === 'link' && linkname) {
        nodes.set(name, { kind: 'hardlink', target: memberPath(linkname) });
        wanted.add(memberPath(linkname));
      }
    }
  } catch (error) {
    await piped;
    return { kind: 'not-tar', reason: tarErrorReason(error as Error) };
  }
  const pipeError = await piped;
  if (pipeError) return { kind: 'not-tar', reason: tarErrorReason(pipeError as Error) };
  return { kind: 'layer', nodes, whiteouts, opaqueDirs };
}

/** tar-stream's reason, without its gunzip guess: compression is detected before parsing. */
export function tarErrorReason(error: Error): string {
  return error.message.startsWith('Invalid tar header') ? 'invalid tar header' : error.message;
}

/** A member's text, at most MAX_TEXT_BYTES of it, always reading it to the end. */
export async function readText(member: AsyncIterable<unknown>, limit = MAX_TEXT_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const data of member) {
    const chunk = data as Buffer;
    if (kept >= limit) continue;
    chunks.push(chunk);
    kept += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * VERSION as the image's merged root would show it: layers applied bottom to
 * top, each one's whiteouts hiding what lies below it, then links followed.
 */
export function versionOfLayers(layers: readonly LayerScan[]): string | undefined {
  const root = new Map<string, Node>();
  for (const layer of layers) {
    if (layer.kind !== 'layer') continue;
    for (const dir of layer.opaqueDirs) {
      for (const key of [...root.keys()]) if (dir === '' || key.startsWith(`${dir}/`)) root.delete(key);
    }
    for (const gone of layer.whiteouts) root.delete(gone);
    for (const [key, node] of layer.nodes) root.set(key, node);
  }
  for (const start of OS_RELEASE) {
    let current = start;
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const node = root.get(current);
      if (!node) break;
      if (node.kind === 'file') return osReleaseVersion(node.content);
      current = node.kind === 'symlink' ? resolveLink(current, node.target) : node.target;
    }
  }
  return undefined;
}
