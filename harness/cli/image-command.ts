import { ConfigError } from '../errors.ts';
import { untilAborted } from '../proc/abort.ts';
import { buildImages, DEFAULT_VERSION } from '../../images/build.ts';
import { progressPrinter } from '../../images/builder/steps.ts';
import { defineCommand } from './command.ts';

/** `dutlab image build`: builds the reference image(s) and prints what it produced. */
export const imageCommand = defineCommand({
  name: 'image',
  subcommand: 'build',
  summary: 'Build the reference OS image(s), their hostapps and the busybox container image (cached by recipe hash).',
  details: 'Prints the paths it produced, one per line. Each artifact is written atomically, so an interrupted build leaves nothing half-made.',
  flags: {
    version: { type: 'string', default: DEFAULT_VERSION, value: 'V', help: 'the OS version to build' },
    next: { type: 'string', value: 'V2', help: 'also build this version (an update target)' },
    out: { type: 'string', value: 'DIR', help: 'where the images go (default images/out)' },
    force: { type: 'boolean', default: false, help: 'rebuild even when the cache holds this recipe' },
    production: { type: 'boolean', default: false, help: "also make each version's production build (refos-V-prod.img)" },
    flasher: { type: 'boolean', default: false, help: 'also make its flasher image (refos-V-flasher.img: an installer for the internal disk)' },
    json: { type: 'boolean', default: false, help: 'print the result as JSON' },
  },
  examples: ['dutlab image build', 'dutlab image build --version 1.0.0 --next 1.0.1 --production --flasher'],
  run: ({ values, positionals }, shutdown) => {
    if (positionals.length > 0) throw new ConfigError('dutlab image build', `unexpected "${positionals.join(' ')}"`);
    return build(values, shutdown);
  },
});

interface BuildFlags {
  version: string;
  next?: string | undefined;
  out?: string | undefined;
  force: boolean;
  production: boolean;
  flasher: boolean;
  json: boolean;
}

async function build(values: BuildFlags, shutdown: AbortSignal): Promise<number> {
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
