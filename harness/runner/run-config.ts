import { readFile } from 'node:fs/promises';
import { Ajv } from 'ajv';
import { parseValidatedYaml } from '../config/validated-yaml.ts';
import { ConfigError } from '../errors.ts';
import { ISOLATIONS, type Isolation } from './isolation.ts';
import { REBOOT_MODES, type RebootMode } from './shared-reboot.ts';

/** A run config (`--config run.yaml`): what a farm pins for a nightly or a bug reproduction. */
export interface RunConfig {
  suites?: string[];
  /** "suite/title" regular expressions: these run and are reported, but their failures do not fail the run. */
  knownFlaky?: string[];
  grep?: string;
  bail?: boolean;
  /** Rewind to the golden snapshot before each test, suite or never (`--isolate`). */
  isolate?: Isolation;
  /** Tests written in two parts share a reboot, or each has its own (`--reboots`). */
  reboots?: RebootMode;
}

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    suites: { type: 'array', items: { type: 'string', minLength: 1 } },
    knownFlaky: { type: 'array', items: { type: 'string', minLength: 1 } },
    grep: { type: 'string', minLength: 1 },
    bail: { type: 'boolean' },
    isolate: { enum: ISOLATIONS },
    reboots: { enum: REBOOT_MODES },
  },
};
const validate = new Ajv({ allErrors: true, verbose: true }).compile(schema);

export async function loadRunConfig(file: string): Promise<RunConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, `cannot read run config: ${(error as Error).message}`);
  }
  const config = parseValidatedYaml<RunConfig>(text, file, validate, 'run config');
  for (const [i, pattern] of (config.knownFlaky ?? []).entries()) toRegExp(pattern, `${file}: knownFlaky[${i}]`);
  if (config.grep) toRegExp(config.grep, `${file}: grep`);
  return config;
}

/** A user's regular expression, or a ConfigError naming where it came from. */
export function toRegExp(pattern: string, where: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (error) {
    throw new ConfigError(where, `not a regular expression: ${(error as Error).message}`);
  }
}
