import { execa, ExecaError } from 'execa';
import { tail } from '../../errors.ts';

/**
 * Runs one command a board file names (a relay tool, a PDU script) and
 * resolves with its stdout. The signal kills it: switchedPower aborts it when
 * the operation's bound runs out, so a hung tool does not outlive its
 * operation. A failure is a plain Error whose message is the command, how it
 * ended and its stderr tail; switchedPower turns it into the power error that
 * names the board and the device.
 */
export async function runCommand(argv: readonly string[], signal: AbortSignal): Promise<string> {
  const [file, ...args] = argv as [string, ...string[]];
  try {
    const result = await execa(file, args, { cancelSignal: signal, forceKillAfterDelay: 1000, stripFinalNewline: false });
    return result.stdout;
  } catch (error) {
    if (!(error instanceof ExecaError)) throw error;
    const how = error.exitCode !== undefined ? `exited ${error.exitCode}` : error.signal ? `was killed by ${error.signal}` : (error.cause instanceof Error ? error.cause.message : error.shortMessage);
    const stderr = tail(String(error.stderr ?? ''));
    throw new Error(`\`${argv.join(' ')}\` ${how}${stderr ? `:\n${stderr}` : ''}`, { cause: error });
  }
}
