import { availableParallelism } from 'node:os';
import test from 'ava';
import { loadBoard } from '../boards/index.ts';
import type { QemuBoard } from '../boards/types.ts';
import { ConfigError } from '../errors.ts';
import { boardCopies, copiesHostCanRun } from './binders.ts';

async function qemuBoard(): Promise<QemuBoard> {
  const board = await loadBoard('qemu-x86_64');
  if (board.kind !== 'qemu') throw new Error('boards/qemu-x86_64.yaml is not a QEMU board');
  return board;
}

test('copies of a QEMU board are named apart; one piece of hardware is refused', async (t) => {
  const board = await qemuBoard();
  t.deepEqual(
    boardCopies(board, 3).map((copy) => copy.name),
    ['qemu-x86_64-1', 'qemu-x86_64-2', 'qemu-x86_64-3'],
  );
  t.deepEqual(boardCopies(board, 1), [board]);
  const rig = await loadBoard('virtual-x86_64');
  const error = t.throws(() => boardCopies(rig, 2), { instanceOf: ConfigError });
  t.regex(error.message, /one piece of hardware/);
});

test('--parallel auto: one QEMU guest per board.cpus cores of the host, never none; one of a piece of hardware', async (t) => {
  const board = await qemuBoard();
  const cores = availableParallelism();
  t.is(copiesHostCanRun({ ...board, qemu: { ...board.qemu, cpus: cores } }), 1);
  t.is(copiesHostCanRun({ ...board, qemu: { ...board.qemu, cpus: cores + 1 } }), 1);
  t.is(copiesHostCanRun({ ...board, qemu: { ...board.qemu, cpus: 1, memory: 256 } }), cores);
  t.is(copiesHostCanRun({ ...board, qemu: { ...board.qemu, cpus: 1, memory: 2 ** 30 } }), 1, 'memory bounds it too');
  t.is(copiesHostCanRun(await loadBoard('virtual-x86_64')), 1);
});
