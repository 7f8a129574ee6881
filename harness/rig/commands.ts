import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

const TSX = path.resolve(import.meta.dirname, '../../node_modules/tsx/dist/esm/index.mjs');

/**
 * Installs an emulated vendor tool (`usbsdmux`, `usbrelay`, `gpioset`) as an
 * executable in the rig's `bin` directory: a shell script that runs the
 * emulator's TypeScript entry with this rig's state directory first. A
 * board file names the script where it would name the real tool, so the
 * driver runs it exactly as it runs the real one.
 */
export async function installCommand(rigDir: string, name: string, entry: string, stateDir: string): Promise<string> {
  const bin = path.join(rigDir, 'bin');
  await mkdir(bin, { recursive: true });
  const file = path.join(bin, name);
  const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  await writeFile(file, `#!/bin/sh\nexec ${quote(process.execPath)} --import ${quote(TSX)} ${quote(entry)} --state ${quote(stateDir)} "$@"\n`);
  await chmod(file, 0o755);
  return file;
}
