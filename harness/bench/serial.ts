import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { QemuBoard } from '../boards/types.ts';
import { Console } from '../console/console.ts';
import { Shell } from '../console/shell.ts';
import { SAVED_STATE } from '../drivers/qemu-board.ts';
import { closeSerialLine, openSerialLine } from '../drivers/serial-line.ts';
import type { GoldenEntry } from '../dut/golden-cache.ts';
import { launchBoard } from '../qemu/index.ts';
import { copyDisk } from '../qemu/disks.ts';
import { timeEach } from './stats.ts';

const PYTHON = fileURLToPath(new URL('./python/', import.meta.url));

export interface SerialTimes {
  dutlab: number[];
  pexpect: number[];
  labgrid: number[];
}

/**
 * One guest, resumed from the golden state (logged in on its serial
 * console), and one pty: dutlab's console engine, plain pexpect and labgrid
 * take turns on the same line, `rounds` commands each per turn, so all three
 * see the same guest, line and load. labgrid is given the line as a
 * RawSerialPort, as on a farm, rather than booting a second guest of its own
 * through its QEMUDriver: the round trip is the ShellDriver's either way.
 */
export async function serialRoundTrips(board: QemuBoard, golden: GoldenEntry, turns: number, rounds: number): Promise<SerialTimes> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-bench-serial-'));
  const qemu = await (async () => {
    await copyDisk(path.join(golden.dir, 'disk.qcow2'), path.join(dir, 'disk.qcow2'));
    await copyDisk(path.join(golden.dir, 'efivars.qcow2'), path.join(dir, 'efivars.qcow2'));
    return launchBoard(board, { disk: path.join(dir, 'disk.qcow2'), firmwareVars: path.join(dir, 'efivars.qcow2'), loadvm: SAVED_STATE });
  })();
  const times: SerialTimes = { dutlab: [], pexpect: [], labgrid: [] };
  try {
    for (let turn = 0; turn < turns; turn++) {
      const line = await openSerialLine(qemu.pty, 115200, board.name);
      const console = new Console({ name: board.name, stream: line });
      try {
        // ^C and a newline: whatever the previous client left on the line is ended.
        await console.send('\x03\n');
        const shell = await Shell.attach(console);
        times.dutlab.push(...(await timeEach(rounds, () => shell.runOk('true'))));
      } finally {
        console.close();
        await closeSerialLine(line);
      }
      for (const tool of ['pexpect', 'labgrid'] as const) {
        // Debian's interpreter: the one python3-pexpect and python3-labgrid are installed for.
        const { stdout } = await execa('/usr/bin/python3', [path.join(PYTHON, `${tool}_round_trip.py`), qemu.pty, String(rounds)], { timeout: 10 * 60_000 });
        times[tool].push(...(JSON.parse(stdout.trim().split('\n').at(-1) ?? '[]') as number[]));
      }
    }
    return times;
  } finally {
    await qemu.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
