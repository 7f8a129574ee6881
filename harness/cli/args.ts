import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.ts';

/** A command's flags, strictly: an unknown or malformed flag is a ConfigError naming the command. */
export function parseCommandArgs<O extends ParseArgsConfig['options']>(command: string, argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new ConfigError(`dutlab ${command}`, (error as Error).message);
  }
}
