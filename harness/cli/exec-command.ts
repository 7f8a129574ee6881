import { ConfigError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { defineCommand } from './command.ts';
import { dutFlags, openDut } from './dut-session.ts';

/** `dutlab exec [options] -- CMD...`: boot, run one command, exit with its code. */
export const execCommand = defineCommand({
  name: 'exec',
  operands: '-- CMD...',
  summary: 'Boot the image, run one shell command on the DUT, and exit with its exit code.',
  details: 'Its stdout and stderr are passed through; with --json they are printed with the exit code and the boot timeline.',
  flags: {
    ...dutFlags,
    transport: { type: 'string', default: 'auto', value: 'auto|serial|ssh', help: 'where the command runs (auto: SSH when the board has a network path)' },
    timeout: { type: 'string', default: '600', value: 'S', help: 'seconds the command may run' },
  },
  examples: ["dutlab exec --transport serial -- 'cat /etc/os-release'"],
  run: ({ values, positionals }, shutdown) => exec(values, positionals, shutdown),
});

async function exec(values: { transport: string; timeout: string } & Parameters<typeof openDut>[0], positionals: string[], shutdown: AbortSignal): Promise<number> {
  if (positionals.length === 0) throw new ConfigError('dutlab exec', 'no command given (dutlab exec [options] -- CMD ...)');
  if (!['auto', 'serial', 'ssh'].includes(values.transport)) {
    throw new ConfigError('--transport', `must be one of auto, serial, ssh (got "${values.transport}")`);
  }
  const session = await openDut(values, shutdown);
  try {
    await untilAborted(session.dut.boot(), shutdown);
    const result = await session.dut.exec(positionals.join(' '), {
      ...(values.transport === 'auto' ? {} : { transport: values.transport as 'serial' | 'ssh' }),
      timeoutMs: Number(values.timeout) * 1000,
      signal: shutdown,
    });
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ...result, timeline: session.dut.entries() })}\n`);
    } else {
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
    }
    return result.exitCode;
  } finally {
    await session.close();
  }
}
