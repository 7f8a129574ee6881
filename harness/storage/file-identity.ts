import { realpath, stat } from 'node:fs/promises';

/** A file as a cache key sees it: the same path, size, inode and mtime stand for the same content, without reading gigabytes. */
export interface FileIdentity {
  path: string;
  size: number;
  inode: number;
  mtimeMs: number;
}

export async function fileIdentity(file: string): Promise<FileIdentity> {
  const resolved = await realpath(file);
  const info = await stat(resolved);
  return { path: resolved, size: info.size, inode: info.ino, mtimeMs: info.mtimeMs };
}
