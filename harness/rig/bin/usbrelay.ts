/**
 * Emulates Debian's `usbrelay` for the forms the power driver uses:
 * `usbrelay` lists every relay as `NAME_N=0|1`, `usbrelay NAME_N=1|0`
 * switches one (after listing, as the real tool lists before it acts). An
 * unknown relay is reported on stderr and counted in the exit code, as the
 * real tool counts relays it did not find.
 *
 * Invoked as `usbrelay.ts --state <dir> [NAME_N=V...]` (see installCommand):
 * `<dir>/relays` names the relays one a line; `<dir>/<NAME_N>` holds each state.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readSwitchFile, writeSwitchFile } from '../relay-files.ts';

const [flag, dir, ...actions] = process.argv.slice(2);
if (flag !== '--state' || !dir) {
  process.stderr.write('usage: usbrelay.ts --state <dir> [NAME_N=0|1...]\n');
  process.exit(2);
}

const relays = (await readFile(path.join(dir, 'relays'), 'utf8').catch(() => ''))
  .split('\n')
  .map((line) => line.trim())
  .filter(Boolean);
for (const relay of relays) process.stdout.write(`${relay}=${(await readSwitchFile(path.join(dir, relay))) ? 1 : 0}\n`);

let notFound = 0;
for (const action of actions) {
  const match = /^([^=_]+_\d+)=(.*)$/.exec(action);
  if (!match) {
    process.stderr.write(`Invalid relay specification: ${action}\n`);
    process.exit(1);
  }
  const [, relay = '', value = ''] = match;
  if (!relays.includes(relay)) {
    process.stderr.write(`usbrelay: no relay ${relay} (found: ${relays.join(', ') || 'none'})\n`);
    notFound += 1;
    continue;
  }
  // The real tool reads the value with atoi(): anything but a number other than 0 is off.
  writeSwitchFile(path.join(dir, relay), (Number.parseInt(value, 10) || 0) !== 0);
}
process.exitCode = notFound;
