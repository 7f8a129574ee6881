import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.ts';

/** One flag of a command: what parseArgs needs, plus what --help prints. */
export interface Flag {
  type: 'string' | 'boolean';
  default?: string | boolean;
  /** The value's placeholder in the help (`--board NAME`). */
  value?: string;
  help: string;
}

export type Flags = Record<string, Flag>;

type Parsed<F extends Flags> = ReturnType<typeof parseArgs<{ options: F; strict: true; allowPositionals: true }>>;

export interface CommandSpec<F extends Flags> {
  name: string;
  /** A word that must follow the command (`image build`). */
  subcommand?: string;
  /** What follows the flags in the synopsis (`-- CMD...`). */
  operands?: string;
  summary: string;
  /** Paragraphs after the flags: behaviour a user needs to know. */
  details?: string;
  flags: F;
  examples: string[];
  run(args: Parsed<F>, shutdown: AbortSignal): Promise<number>;
}

export interface Command {
  name: string;
  summary: string;
  synopsis: string;
  help(): string;
  invoke(argv: string[], shutdown: AbortSignal): Promise<number>;
}

/**
 * A command whose flags are declared once: parsed strictly (an unknown flag
 * names the closest known one), and printed by --help with an example.
 */
export function defineCommand<F extends Flags>(spec: CommandSpec<F>): Command {
  const synopsis = `dutlab ${[spec.name, spec.subcommand, '[flags]', spec.operands].filter(Boolean).join(' ')}`;
  return {
    name: spec.name,
    summary: spec.summary,
    synopsis,
    help: () => helpText(spec, synopsis),
    async invoke(argv, shutdown) {
      if (asksForHelp(argv)) {
        process.stdout.write(helpText(spec, synopsis));
        return 0;
      }
      if (spec.subcommand && argv[0] !== spec.subcommand) {
        throw new ConfigError(`dutlab ${spec.name}`, `unknown subcommand "${argv[0] ?? ''}"; expected "${spec.subcommand}"`);
      }
      const args = parseFlags(spec.name, spec.flags, spec.subcommand ? argv.slice(1) : argv);
      return spec.run(args, shutdown);
    },
  };
}

/** --help or -h anywhere before `--` (after it, they belong to the command run on the DUT). */
export function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function parseFlags<F extends Flags>(command: string, flags: F, argv: string[]): Parsed<F> {
  try {
    return parseArgs({ args: argv, options: flags, strict: true, allowPositionals: true });
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    const unknown = /^Unknown option '([^']+)'/.exec(message)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      const near = closest(unknown.replace(/^-+/, ''), Object.keys(flags));
      const hint = near ? `; did you mean --${near}?` : '';
      throw new ConfigError(`dutlab ${command}`, `unknown flag ${unknown}${hint} (dutlab ${command} --help lists the flags)`);
    }
    throw new ConfigError(`dutlab ${command}`, message);
  }
}

/** The known name nearest to `name` by edit distance, if near enough to be a slip rather than another word. */
export function closest(name: string, known: readonly string[]): string | undefined {
  const extended = name.length >= 3 ? known.find((k) => k.startsWith(name)) : undefined;
  if (extended) return extended;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : undefined;
}

/** Edit distance where swapping two neighbours counts as one slip (--boad, --baord). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}

function helpText<F extends Flags>(spec: CommandSpec<F>, synopsis: string): string {
  const rows = Object.entries(spec.flags).map(([name, flag]) => {
    const left = `  --${name}${flag.type === 'string' ? ` ${flag.value ?? 'VALUE'}` : ''}`;
    const fallback = flag.type === 'string' && flag.default !== undefined ? ` (default ${String(flag.default)})` : '';
    return [left, `${flag.help}${fallback}`] as const;
  });
  rows.push(['  --help', 'print this help']);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const flags = rows.map(([left, text]) => `${left.padEnd(width)}${text}`).join('\n');
  const details = spec.details ? `\n${spec.details.trim()}\n` : '';
  const examples = spec.examples.map((e) => `  ${e}`).join('\n');
  return `usage: ${synopsis}\n\n${spec.summary}\n\nflags:\n${flags}\n${details}\nexample${spec.examples.length > 1 ? 's' : ''}:\n${examples}\n`;
}
