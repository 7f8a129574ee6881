import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import type { PhysicalBoard } from '../boards/types.ts';
import type { BoundBoard } from '../dut/drivers.ts';
import { ConfigError } from '../errors.ts';
import { bindConsole } from './console/index.ts';
import { bindNetwork } from './network.ts';
import { bindPower } from './power/index.ts';
import { bindStorage } from './storage/index.ts';

/**
 * A board on a farm: its console, power switch, storage mux and network
 * bound from the board file. It has no reset that keeps power and carries no
 * media (files are copied over a transport), so those capabilities are
 * absent rather than faked.
 */
export async function bindPhysicalBoard(board: PhysicalBoard, options: { note?: (text: string) => void } = {}): Promise<BoundBoard> {
  const power = bindPower(board.power, board.name);
  const consoleDriver = bindConsole(board.console, board.name, options.note ? { note: options.note } : {});
  const storage = bindStorage(board.storage, board.name);
  return {
    name: board.name,
    deviceType: board.deviceType,
    power,
    console: consoleDriver,
    storage,
    ...(board.network ? { network: bindNetwork(board.network, board.name) } : {}),
    describe: () => ({
      kind: 'physical',
      source: board.source,
      drivers: { console: board.console.kind, power: board.power.kind, storage: board.storage.kind, network: board.network?.kind ?? 'none', reset: 'none (power cycle)' },
    }),
    // No process of ours is the board: a board that dies goes silent, which the console's bounds catch.
    whileAlive: (work) => work,
    close: () => power.release(),
  };
}

/** Commands the board file names must exist before a run starts, each error naming its field and package. */
export async function checkPhysicalBoard(board: PhysicalBoard): Promise<void> {
  for (const [field, command, pkg] of commandsOf(board)) {
    if (!(await isExecutable(command))) {
      throw new ConfigError(`${board.source}: ${field}`, `"${command}" is not an executable on this host${pkg ? ` (Debian package ${pkg})` : ''}`);
    }
  }
}

function commandsOf(board: PhysicalBoard): [field: string, command: string, pkg?: string][] {
  const found: [string, string, string?][] = [];
  const { power, storage } = board;
  if (power.kind === 'usbrelay') found.push(['power.command', power.command, 'usbrelay']);
  if (power.kind === 'gpio') found.push(['power.command', power.command, 'gpiod']);
  if (power.kind === 'command') {
    found.push(['power.on', power.on[0] as string], ['power.off', power.off[0] as string]);
    if (power.status) found.push(['power.status', power.status[0] as string]);
  }
  if (storage.kind === 'usbsdmux') found.push(['storage.command', storage.command, 'usbsdmux']);
  if (storage.kind === 'sdwire') found.push(['storage.command', storage.command]);
  if (storage.kind === 'command') found.push(['storage.host', storage.host[0] as string], ['storage.dut', storage.dut[0] as string]);
  found.push(['storage', 'bmaptool', 'bmap-tools']);
  return found;
}

async function isExecutable(command: string): Promise<boolean> {
  const candidates = command.includes('/') ? [command] : (process.env['PATH'] ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, command));
  for (const candidate of candidates) {
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}
