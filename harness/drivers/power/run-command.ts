import { tool } from '../../../images/builder/tool.ts';

/**
 * Runs one command a board file names (a relay tool, a PDU script) and
 * resolves with its stdout. The signal kills it: switchedPower aborts it when
 * the operation's bound runs out, so a hung tool does not outlive its
 * operation; switchedPower also turns the failure into the power error that
 * names the board and the device.
 */
export function runBoardCommand(argv: readonly string[], signal: AbortSignal): Promise<string> {
  const [file, ...args] = argv as [string, ...string[]];
  return tool(file, args, { cancelSignal: signal, forceKillAfterDelay: 1000, stripFinalNewline: false, step: 'power' });
}
