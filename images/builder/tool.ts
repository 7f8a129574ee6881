import { execa, ExecaError, type Options } from 'execa';
import { ToolError, tail } from '../../harness/errors.ts';

/**
 * Runs one of the Debian tools the builder drives. A failure becomes a
 * ToolError naming the tool and carrying its stderr tail, so a failed build
 * says which tool failed and why without a re-run.
 */
export async function tool(file: string, args: readonly string[], options: Options = {}): Promise<string> {
  try {
    const result = await execa(file, args, { stripFinalNewline: true, ...options });
    return typeof result.stdout === 'string' ? result.stdout : '';
  } catch (error) {
    if (error instanceof ExecaError) {
      const output = [error.stderr, error.stdout].filter((s) => typeof s === 'string' && s).join('\n');
      throw new ToolError(file, error.shortMessage, tail(String(output)), { step: 'image build' });
    }
    throw error;
  }
}
