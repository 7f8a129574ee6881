import { tool } from '../../images/builder/tool.ts';
import { abortReason, DutError, ToolError, type DutErrorKind } from '../errors.ts';
import { throwIfAborted } from '../proc/abort.ts';

/** Who an error about a medium concerns: the board, the step, and the device or file worked on. */
export interface Where {
  board: string;
  step: string;
  device: string;
}

/** An error that says which board, which step and which device, as every storage error must. */
export function storageError(kind: DutErrorKind, where: Where, message: string, cause?: unknown): DutError {
  return new DutError(kind, `${where.device}: ${message}`, { dut: where.board, step: where.step, cause });
}

export interface RunToolOptions {
  /** The bound: a mux that hangs on USB must not hang the run. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * tool() for the storage layer: bounded, stopped by the run's signal, and
 * its failure said for the device worked on. An abort is the run's
 * interruption, not the tool's failure.
 */
export async function runTool(file: string, args: readonly string[], where: Where, options: RunToolOptions = {}): Promise<string> {
  throwIfAborted(options.signal, where.board, where.step);
  try {
    return await tool(file, args, {
      dut: where.board,
      step: where.step,
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      ...(options.signal ? { cancelSignal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw abortReason(options.signal, where.board, where.step);
    if (error instanceof ToolError) throw storageError('tool', where, error.reason, error);
    throw error;
  }
}
