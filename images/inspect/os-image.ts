import { ConfigError } from '../../harness/errors.ts';
import { readGpt, type Gpt, type GptPartition } from './gpt.ts';
import { formatPair, openInput, type InputFile } from './input-file.ts';
import { osReleaseVersion } from './os-release.ts';
import { hasFatFile, readConfigJson, readExtFile, readHostappFile, readGrubenv } from './partition-files.ts';

export interface OsImagePartition {
  label: string;
  startBytes: number;
  sizeBytes: number;
}

export interface OsImageFacts {
  path: string;
  sizeBytes: number;
  partitions: OsImagePartition[];
  /** The boot partition's label: resin-boot, or balena-boot on newer images. */
  bootPartition: string;
  /** VERSION from the active root's os-release, when that root is readable. */
  version?: string;
  /** The label of the root grubenv selects. */
  activeRoot?: string;
  /** config.json's developmentMode, when it has one: a production image gives no shell on its console. */
  developmentMode?: boolean;
  /** A flasher: its boot partition is flash-boot with balenaOS's marker file; booting it installs the OS on internal storage. */
  installer: boolean;
}

const BOOT_LABELS = ['resin-boot', 'balena-boot'];
const FLASHER_BOOT_LABEL = 'flash-boot';
/** balenaOS's marker file on a flasher's boot partition. */
const FLASHER_MARKER = 'balena-image-flasher';

/**
 * What a raw disk image given with `flag` holds, checked before anything slow
 * so a wrong, compressed or truncated file is refused in well under a second.
 * Throws ConfigError naming the flag and file; a root it cannot read leaves
 * `version` undefined instead, since a foreign OS may keep it elsewhere.
 */
export async function inspectOsImage(file: string, flag = '--image'): Promise<OsImageFacts> {
  const input = await openInput(file, flag, 'a disk image file');
  let gpt: Gpt;
  try {
    gpt = await readGpt(input);
  } finally {
    await input.handle.close();
  }
  checkComplete(input, gpt);

  const flashBoot = gpt.partitions.find((p) => p.label === FLASHER_BOOT_LABEL);
  const installer = flashBoot !== undefined && (await hasFatFile(input.path, flashBoot.startBytes, FLASHER_MARKER));
  const boot = installer ? flashBoot : gpt.partitions.find((p) => BOOT_LABELS.includes(p.label));
  if (!boot) {
    const names = gpt.partitions.map((p) => p.label || '(unnamed)').join(', ') || 'none';
    const flasher = flashBoot ? `; ${FLASHER_BOOT_LABEL} has no /${FLASHER_MARKER}, so it is no flasher either` : '';
    throw new ConfigError(input.location, `has no boot partition labelled resin-boot or balena-boot (partitions: ${names})${flasher}`);
  }

  // A flasher runs from flash-rootA, a plain root holding the OS it installs.
  const root = installer ? gpt.partitions.find((p) => p.label === 'flash-rootA') : await activeRoot(input.path, boot, gpt.partitions);
  let osRelease: string | undefined;
  for (const file of root ? ['/etc/os-release', '/usr/lib/os-release'] : []) {
    osRelease ??= (await readHostappFile(input.path, root!.startBytes, file)) ?? (await readExtFile(input.path, root!.startBytes, file));
  }

  const developmentMode = (await readConfigJson(input.path, boot.startBytes))?.['developmentMode'];
  return {
    path: input.path,
    sizeBytes: input.sizeBytes,
    partitions: gpt.partitions.map(({ label, startBytes, sizeBytes }) => ({ label, startBytes, sizeBytes })),
    bootPartition: boot.label,
    version: osRelease === undefined ? undefined : osReleaseVersion(osRelease),
    activeRoot: root?.label,
    ...(typeof developmentMode === 'boolean' ? { developmentMode } : {}),
    installer,
  };
}

/** A partial download or copy: QEMU would boot it and fail somewhere deep in the root. */
function checkComplete(input: InputFile, gpt: Gpt): void {
  const last = gpt.partitions.reduce<GptPartition | undefined>(
    (end, p) => (!end || p.startBytes + p.sizeBytes > end.startBytes + end.sizeBytes ? p : end),
    undefined,
  );
  if (last && last.startBytes + last.sizeBytes > input.sizeBytes) {
    const [have, need] = formatPair(input.sizeBytes, last.startBytes + last.sizeBytes);
    throw new ConfigError(input.location, `truncated: ${have} long but partition ${last.label || last.number} ends at ${need}`);
  }
  if (gpt.usableEndBytes > input.sizeBytes) {
    const [have, need] = formatPair(input.sizeBytes, gpt.usableEndBytes);
    throw new ConfigError(input.location, `truncated: ${have} long but its GPT partition table ends at ${need}`);
  }
}

/**
 * The root grubenv selects: resin_root_part is a partition number in hex as
 * balenaOS's hooks write it, or A/B in older environments; rootA when unset,
 * as in the image's grub.cfg.
 */
async function activeRoot(image: string, boot: GptPartition, partitions: GptPartition[]): Promise<GptPartition | undefined> {
  const env = await readGrubenv(image, boot.startBytes);
  const which = env?.resin_root_part ?? 'A';
  const isRoot = (p: GptPartition) => /^(resin|balena)-root[AB]$/.test(p.label);
  // A and B are hex digits too: letters first.
  if (which === 'A' || which === 'B') return partitions.find((p) => p.label === `resin-root${which}` || p.label === `balena-root${which}`);
  if (/^[0-9a-f]+$/i.test(which)) return partitions.find((p) => p.number === parseInt(which, 16) && isRoot(p));
  return undefined;
}
