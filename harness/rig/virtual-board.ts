import path from 'node:path';
import type { VirtualBoard } from '../boards/types.ts';
import type { BindOptions } from '../dut/binders.ts';
import type { BoundBoard } from '../dut/drivers.ts';
import { bindPhysicalBoard } from '../drivers/physical-board.ts';
import { startRig } from './rig.ts';

/**
 * A virtual board binds exactly as a physical one, to its rig's devices; the
 * rig itself is the hardware and lives as long as the bound board.
 */
export async function bindVirtualBoard(board: VirtualBoard, options: BindOptions): Promise<BoundBoard> {
  const rig = await startRig(board, {
    dir: board.rig.dir ?? path.join('.dutlab', 'rig', board.name),
    ...(options.accel ? { accel: options.accel } : {}),
    ...(options.note ? { note: options.note } : {}),
  });
  try {
    const bound = await bindPhysicalBoard(rig.board, options.note ? { note: options.note } : {});
    return {
      ...bound,
      describe: () => ({ ...bound.describe(), kind: 'virtual', rig: rig.describe() }),
      async close() {
        try {
          await bound.close();
        } finally {
          await rig.stop();
        }
      },
    };
  } catch (error) {
    await rig.stop();
    throw error;
  }
}
