import { boardsCommand } from './boards-command.ts';
import { bootCommand } from './boot-command.ts';
import { cacheCommand } from './cache-command.ts';
import { closest, type Command } from './command.ts';
import { execCommand } from './exec-command.ts';
import { imageCommand } from './image-command.ts';
import { runCommand } from './run-command.ts';
import { handleSignals } from './signals.ts';

/**
 * dutlab's entry point: dispatches to one module per command. Exit codes:
 * 0 success, 1 test failures, 2 infrastructure errors or bad input.
 */
const commands: readonly Command[] = [runCommand, bootCommand, execCommand, imageCommand, boardsCommand, cacheCommand];

const usage = `usage: dutlab <command> [flags]

${commands.map((c) => `  ${c.synopsis}\n      ${c.summary}`).join('\n')}

\`dutlab <command> --help\` prints a command's flags and an example.
`;

async function main(argv: string[], shutdown: AbortSignal): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === (name === 'help' ? rest[0] : name));
  if (!command) {
    const near = closest(name === 'help' ? (rest[0] ?? '') : name, commands.map((c) => c.name));
    process.stderr.write(`dutlab: unknown command "${name === 'help' ? rest[0] : name}"${near ? `; did you mean "${near}"?` : ''}\n\n${usage}`);
    return 2;
  }
  if (name === 'help') {
    process.stdout.write(command.help());
    return 0;
  }
  return command.invoke(rest, shutdown);
}

const shutdown = handleSignals();
try {
  process.exitCode = await main(process.argv.slice(2), shutdown.signal);
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`dutlab: ${message}\n`);
  // Anything that escapes a command is infrastructure, bad input or an interruption, never a test failure.
  process.exitCode = 2;
}
// Interrupted: what the command left running (a build tool, a helper) ends with the process, now.
if (shutdown.signal.aborted) process.exit();
