import { renameSync, watch, unwatchFile, watchFile, writeFileSync, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * The state of an emulated switch as a file, shared by the command-line
 * emulators (`usbrelay`, `gpioset`) that write it and the rig that reacts to
 * it: `1` while the relay is closed (the line is high), `0` or no file while
 * it is open (nothing drives the line).
 */

/**
 * Replaces the file whole, so a reader never sees it half written.
 * Synchronous: the emulators that write it may be ending on a signal.
 */
export function writeSwitchFile(file: string, on: boolean): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, on ? '1\n' : '0\n');
  renameSync(temporary, file);
}

export async function readSwitchFile(file: string): Promise<boolean> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim() === '1';
}

const POLL_MS = 100;

/**
 * Calls `onChange` each time the file's state differs from the last one
 * seen, starting from off (so a file already at 1 reports on at once). It
 * watches the directory, since the file may not exist yet and is replaced
 * by renames; where fs.watch is not available (some network and overlay
 * file systems) it polls.
 */
export function watchSwitchFile(file: string, onChange: (on: boolean) => void): { stop(): void } {
  let last = false;
  let stopped = false;
  // Reads may overlap when events come in bursts: only the newest read's answer counts.
  let generation = 0;
  const check = (): void => {
    const mine = ++generation;
    void readSwitchFile(file).then((on) => {
      if (stopped || mine !== generation || on === last) return;
      last = on;
      onChange(on);
    });
  };

  let watcher: FSWatcher | undefined;
  const poll = (): void => {
    watcher?.close();
    watcher = undefined;
    watchFile(file, { interval: POLL_MS }, check);
  };
  try {
    watcher = watch(path.dirname(file), (_event, name) => {
      if (name === null || name === path.basename(file)) check();
    });
    watcher.on('error', poll);
  } catch {
    poll();
  }
  check();

  return {
    stop() {
      stopped = true;
      watcher?.close();
      unwatchFile(file, check);
    },
  };
}
