import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { buildImages, DEFAULT_VERSION } from '../../images/build.ts';
import { progressPrinter } from '../../images/builder/steps.ts';

/** `dutlab image build`: builds the reference image(s) and prints what it produced. */
export async function imageCommand(argv: string[], shutdown: AbortSignal): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'build') throw new ConfigError('dutlab image', `unknown subcommand "${sub ?? ''}"; expected "build"`);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        version: { type: 'string', default: DEFAULT_VERSION },
        next: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean', default: false },
        production: { type: 'boolean', default: false },
        flasher: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      strict: true,
    });
  } catch (error) {
    throw new ConfigError('dutlab image build', (error as Error).message);
  }
  const { values } = parsed;
  const versions = [values.version, ...(values.next ? [values.next] : [])];
  // Each artifact is written atomically: an interrupted build leaves nothing half-made in the cache.
  const result = await untilAborted(
    buildImages({
      versions,
      force: values.force,
      production: values.production,
      flasher: values.flasher,
      ...(values.out ? { outDir: values.out } : {}),
      ...(values.json ? {} : { onStep: progressPrinter() }),
    }),
    shutdown,
  );
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    for (const v of result.versions) {
      const extra = [v.production?.image.path, v.flasher?.image.path].filter(Boolean).map((p) => `${p}\n`).join('');
      process.stdout.write(`${v.image.path}\n${extra}${v.hostapp.path}\n${v.manifest}\n`);
    }
    process.stdout.write(`${result.busybox.path}\n`);
  }
  return 0;
}
