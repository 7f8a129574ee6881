/**
 * Report files are replaced whole or not at all: written to a temporary file
 * beside the target, flushed, then renamed over it. The TAP stream goes to
 * `<name>.part` as it happens (so a killed run leaves what it had) and is
 * renamed when the run ends. Synchronous on purpose: the last report of an
 * interrupted run is written from a signal handler just before exit.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A file that is appended to while it grows and appears under its name only when complete. */
export class StreamedFile {
  readonly partPath: string;
  private fd: number | undefined;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.partPath = `${path}.part`;
    this.fd = openSync(this.partPath, 'w');
  }

  append(chunk: string): void {
    if (this.fd !== undefined) writeSync(this.fd, chunk);
  }

  /** Flushes, closes and renames the file into place; later appends are dropped. */
  complete(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.partPath, this.path);
  }
}
