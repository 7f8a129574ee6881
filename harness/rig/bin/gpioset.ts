/**
 * Emulates libgpiod v1.6's `gpioset` for the form the power driver uses:
 * `gpioset [-l|--active-low] --mode=signal <chip> <offset>=<0|1>...` drives
 * the lines until SIGTERM or SIGINT, then lets go of them. As with the
 * kernel, a line another process holds is busy, and an unknown chip fails.
 *
 * Invoked as `gpioset.ts --state <dir> ...` (see installCommand). A chip is
 * a directory `<dir>/<chip>`; while a line is held, `<dir>/<chip>/<offset>`
 * holds its physical level (`--active-low` inverts the value given) and
 * `<offset>.holder` the holder's pid. Letting go removes both: an undriven
 * line has no level.
 */
import { linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isRunning } from '../../proc/pids.ts';
import { writeSwitchFile } from '../relay-files.ts';

/** Files of the lines this process holds, removed when it lets go. */
const held: string[] = [];
const letGo = (): void => {
  for (const file of held.splice(0).reverse()) rmSync(file, { force: true });
};
// Before anything is held, so that a signal at any moment leaves no line claimed.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    letGo();
    process.exit(0);
  });
}

function die(message: string): never {
  letGo();
  process.stderr.write(`gpioset: ${message}\n`);
  process.exit(1);
}

const [flag, dir, ...args] = process.argv.slice(2);
if (flag !== '--state' || !dir) die('usage: gpioset.ts --state <dir> [options] <chip> <offset>=<value>...');

let activeLow = false;
let mode = 'exit';
const positional: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i] as string;
  if (arg === '-l' || arg === '--active-low') activeLow = true;
  else if (arg.startsWith('--mode=')) mode = arg.slice('--mode='.length);
  else if (arg === '-m' || arg === '--mode') mode = args[++i] ?? die(`option '${arg}' requires an argument`);
  else if (arg.startsWith('-')) die(`unrecognized option '${arg}'`);
  else positional.push(arg);
}
if (mode !== 'signal') die(`mode ${mode}: this emulator holds lines only with --mode=signal`);
const [chipArg, ...mappings] = positional;
if (!chipArg) die('gpiochip must be specified');
if (mappings.length === 0) die('at least one GPIO line offset to value mapping must be specified');

const lines = mappings.map((mapping) => {
  const match = /^(\d+)=(-?\d+)$/.exec(mapping);
  if (!match) die(`invalid offset<->value mapping: ${mapping}`);
  const value = Number(match[2]);
  if (value !== 0 && value !== 1) die(`value must be 0 or 1: ${mapping}`);
  return { offset: match[1] as string, value: value === 1 };
});

// Like gpiod_chip_open_lookup(): a number, a name, or a /dev path.
const chip = /^\d+$/.test(chipArg) ? `gpiochip${chipArg}` : path.basename(chipArg);
const chipDir = path.join(dir, chip);
if (!statSync(chipDir, { throwIfNoEntry: false })?.isDirectory()) die('error setting the GPIO line values: No such file or directory');

for (const line of lines) claim(path.join(chipDir, `${line.offset}.holder`));
for (const line of lines) {
  const file = path.join(chipDir, line.offset);
  held.push(file);
  writeSwitchFile(file, line.value !== activeLow);
}
// Nothing else keeps the process alive: the lines are held until a signal.
setInterval(() => undefined, 1 << 30);

/** Takes a line as the kernel grants a line request: one holder at a time, freed when the holder dies. */
function claim(holderFile: string): void {
  // Written aside and linked into place, so the holder file never exists without its pid.
  const mine = `${holderFile}.${process.pid}`;
  writeFileSync(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(mine, holderFile);
        held.push(holderFile);
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if (isRunning(holderOf(holderFile))) break;
        rmSync(holderFile, { force: true });
      }
    }
  } finally {
    rmSync(mine, { force: true });
  }
  die('error setting the GPIO line values: Device or resource busy');
}

function holderOf(holderFile: string): number {
  try {
    return Number(readFileSync(holderFile, 'utf8').trim());
  } catch {
    // Gone between our attempt and this read: its holder let go.
    return 0;
  }
}
