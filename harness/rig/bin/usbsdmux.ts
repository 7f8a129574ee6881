/**
 * `usbsdmux` for a virtual board: Debian's CLI (usbsdmux 0.2) with the same
 * arguments, output, messages and exit codes, switching the rig's emulated
 * mux (sd-mux-state.ts) instead of a USB-SD-Mux's GPIO expander. Run as
 * `usbsdmux.ts --state <rig dir> SG {get,dut,client,host,off}`; the rig
 * installs it as `<rig>/bin/usbsdmux` with the state directory filled in.
 */
import { readMode, setMuxMode, type MuxMode } from '../sd-mux-state.ts';

const USAGE = 'usage: usbsdmux [-h] SG {get,dut,client,host,off}';
const HELP = `${USAGE}

positional arguments:
  SG                    /dev/sg* to use
  {get,dut,client,host,off}
                        Action:
                        get - return selected mode
                        dut - set to dut mode
                        client - set to dut mode (alias for dut)
                        host - set to host mode
                        off - set to off mode

options:
  -h, --help            show this help message and exit
`;
const CHOICES = ['get', 'dut', 'client', 'host', 'off'];
const SET: Record<string, MuxMode> = { dut: 'dut', client: 'dut', host: 'host', off: 'off' };

/** argparse's way of failing: usage and the error on stderr, exit 2. */
function usageError(message: string): never {
  process.stderr.write(`${USAGE}\nusbsdmux: error: ${message}\n`);
  process.exit(2);
}

const [flag, state, ...args] = process.argv.slice(2);
if (flag !== '--state' || !state) {
  process.stderr.write('usbsdmux emulator: run through the rig (--state <dir> first)\n');
  process.exit(2);
}
if (args.some((arg) => arg === '-h' || arg === '--help')) {
  process.stdout.write(HELP);
  process.exit(0);
}
const [sg, given, ...extra] = args;
if (sg === undefined) usageError('the following arguments are required: SG, mode');
if (given === undefined) usageError('the following arguments are required: mode');
const mode = given.toLowerCase();
if (!CHOICES.includes(mode)) usageError(`argument mode: invalid choice: '${mode}' (choose from ${CHOICES.map((c) => `'${c}'`).join(', ')})`);
if (extra.length) usageError(`unrecognized arguments: ${extra.join(' ')}`);

// The real tool opens the sg device, then talks SCSI to it: a missing one is Python's
// FileNotFoundError, anything that is not a mux fails its ioctl (ENOTTY); both exit 1.
let current: MuxMode | undefined;
try {
  current = await readMode(sg);
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  process.stderr.write(code === 'ENOENT' ? `[Errno 2] No such file or directory: '${sg}'\n` : `[Errno 13] Permission denied: '${sg}'\n`);
  process.exit(1);
}
if (!current) {
  process.stderr.write(`[Errno 25] Inappropriate ioctl for device\nDoes '${sg}' really point to an USB-SD-Mux?\n`);
  process.exit(1);
}
const target = SET[mode];
if (target) await setMuxMode(state, sg, target);
else process.stdout.write(`${current}\n`);
