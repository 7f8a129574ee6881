import { execa, ExecaError, type Options } from 'execa';
import { ToolError, tail } from '../../harness/errors.ts';
import { registerCleanup } from '../../harness/proc/cleanup.ts';
import { signalGroup } from '../../harness/proc/pids.ts';

/**
 * Runs one of the Debian tools the builder drives. A failure becomes a
 * ToolError naming the tool and carrying its stderr tail, so a failed build
 * says which tool failed and why without a re-run.
 *
 * Each tool leads a process group of its own, SIGKILLed whole if the harness
 * exits while it runs (an interrupted build): mmdebstrap forks workers and
 * runs dpkg and tar, which a signal to mmdebstrap alone leaves running.
 */
export interface ToolOptions extends Options {
  /** Who the failure concerns, for its message: the board, and the step (default "image build"). */
  dut?: string;
  step?: string;
}

export async function tool(file: string, args: readonly string[], options: ToolOptions = {}): Promise<string> {
  const { dut, step = 'image build', ...execaOptions } = options;
  const child = execa(file, args, { stripFinalNewline: true, ...execaOptions, detached: true });
  const pid = child.pid;
  const unregister =
    pid === undefined
      ? () => undefined
      : registerCleanup({
          name: `${file} (pid ${pid})`,
          immediate: () => {
            signalGroup(pid, 'SIGKILL');
          },
        });
  try {
    const result = await child;
    return typeof result.stdout === 'string' ? result.stdout : '';
  } catch (error) {
    if (error instanceof ExecaError) {
      const output = [error.stderr, error.stdout].filter((s) => typeof s === 'string' && s).join('\n');
      throw new ToolError(file, error.shortMessage, tail(String(output)), { step, ...(dut ? { dut } : {}) });
    }
    throw error;
  } finally {
    unregister();
  }
}
