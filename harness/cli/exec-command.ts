import { ConfigError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { parseCommandArgs } from './args.ts';
import { dutOptions, openDut } from './dut-session.ts';

/** `dutlab exec [options] -- CMD...`: boot, run one command, exit with its code. */
export async function execCommand(argv: string[], shutdown: AbortSignal): Promise<number> {
  const { values, positionals } = parseCommandArgs('exec', argv, {
    ...dutOptions,
    transport: { type: 'string', default: 'auto' },
    timeout: { type: 'string', default: '600' },
  });
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
