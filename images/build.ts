import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../harness/errors.ts';
import { buildBaseRoot } from './builder/base-root.ts';
import { BOOT_FILES_DIR, buildBootFiles, buildBootPartition } from './builder/boot-partition.ts';
import { exists, hashParts, hashTree, sha256File, writeAtomically } from './builder/cache.ts';
import { assembleDisk } from './builder/disk.ts';
import { makeExt4 } from './builder/filesystems.ts';
import { buildFlasherImage } from './builder/flasher-image.ts';
import { buildHostappSysroot } from './builder/hostapp-sysroot.ts';
import { makeProductionVariant } from './builder/production-variant.ts';
import { prepareRootTree, tarTree } from './builder/root-tree.ts';
import { Steps, type StepListener } from './builder/steps.ts';
import { tool } from './builder/tool.ts';
import { buildBusyboxArchive } from './container/busybox-image.ts';
import { writeDockerArchive } from './container/docker-archive.ts';
import { loadRecipe, type Recipe } from './recipe.ts';

/** Bumped when the builder's own logic changes what it produces. */
const BUILDER_REVISION = '2';

/** The recipe's folder for the flasher image. */
const FLASHER_DIR = 'flasher';

/** balenaOS's reset flag on resin-state and resin-data. */
const RESET_FLAG = 'remove_me_to_reset';

export const DEFAULT_VERSION = '1.0.0';
export const DEFAULT_NEXT_VERSION = '1.0.1';
const imagesDir = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = path.join(imagesDir, 'out');

export interface Artifact {
  path: string;
  size: number;
  sha256: string;
}

/**
 * A sparse disk image, identified by its block map rather than a sha256 of
 * its own: the map's ranges carry the sha256 of every block that holds data
 * (all other blocks read as zeros), so the map's sha256 proves the content,
 * where hashing the file spends half a minute on gigabytes of holes.
 */
export interface DiskArtifact {
  path: string;
  size: number;
}

/** What one version's build produced; also written as refos-V.json beside the artifacts. */
export interface ImageManifest {
  name: string;
  version: string;
  key: string;
  builtAt: string;
  buildSeconds: number;
  image: DiskArtifact;
  /** The image's block map (bmaptool create), beside it as refos-V.bmap: flashers write only the blocks that hold data. */
  bmap: Artifact;
  hostapp: Artifact;
  /** The production build (refos-V-prod.img), made when asked for: console silent, developmentMode false. */
  production?: { image: DiskArtifact; bmap: Artifact };
  /** The flasher (refos-V-flasher.img), made when asked for: boots an installer that writes the image to the internal disk. */
  flasher?: { key: string; image: DiskArtifact; bmap: Artifact };
  manifest: string;
}

/** A version built only as a hostapp tarball (an update to stage): refos-V.hostapp.json beside it. */
export interface HostappManifest {
  name: string;
  version: string;
  key: string;
  builtAt: string;
  hostapp: Artifact;
  manifest: string;
}

export interface BuildResult {
  versions: ImageManifest[];
  hostapps: HostappManifest[];
  busybox: Artifact;
}

export interface BuildOptions {
  versions?: string[];
  /** Versions wanted only as hostapp tarballs, to update to: no root filesystem, disk image or build VM. */
  hostapps?: string[];
  outDir?: string;
  force?: boolean;
  /** Also make each version's production build. */
  production?: boolean;
  /** Also make each version's flasher image. */
  flasher?: boolean;
  onStep?: StepListener;
}

const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]*$/;

/**
 * Builds the reference OS for each version: disk image, hostapp tarball and
 * manifest, plus the tiny busybox container image. Each step is cached by a
 * hash of its inputs (recipe, overlay tree, builder revision, version).
 */
export async function buildImages(options: BuildOptions = {}): Promise<BuildResult> {
  const versions = options.versions ?? [DEFAULT_VERSION];
  const hostappVersions = (options.hostapps ?? []).filter((v) => !versions.includes(v));
  for (const v of [...versions, ...hostappVersions]) {
    if (!VERSION_PATTERN.test(v)) throw new ConfigError('--version', `"${v}" is not a version string (letters, digits, . + _ -)`);
  }
  const outDir = path.resolve(options.outDir ?? DEFAULT_OUT_DIR);
  const cacheDir = path.join(outDir, 'cache');
  await mkdir(cacheDir, { recursive: true });
  const steps = new Steps(options.onStep);
  const { recipe, dir: recipeDir, text } = await loadRecipe();

  // The flasher's own folder does not change the OS: only flasher images are keyed by it.
  const baseKey = hashParts([BUILDER_REVISION, text, await hashTree(recipeDir, [FLASHER_DIR])]).slice(0, 16);
  const baseTar = path.join(cacheDir, `base-${baseKey}.tar`);
  if ((await exists(baseTar)) && !options.force) {
    steps.cached('root filesystem from Debian packages');
  } else {
    await steps.run('root filesystem from Debian packages (mmdebstrap)', () =>
      writeAtomically(baseTar, async (partial) => {
        const work = path.join(cacheDir, `work-base-${process.pid}`);
        await mkdir(work, { recursive: true });
        try {
          await buildBaseRoot(recipe, recipeDir, partial, work);
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      }),
    );
    await pruneStaleBases(cacheDir, path.basename(baseTar));
  }

  const built: ImageManifest[] = [];
  for (const version of versions) {
    const b: VersionBuild = { recipe, recipeDir, baseTar, baseKey, version, outDir, cacheDir, steps, force: !!options.force };
    let manifest = await buildVersion(b);
    if (options.production) manifest = await withProduction(manifest, cacheDir, steps);
    if (options.flasher) manifest = await withFlasher(manifest, b);
    built.push(manifest);
  }

  const hostapps: HostappManifest[] = [];
  for (const version of hostappVersions) {
    hostapps.push(await buildHostappOnly({ recipe, recipeDir, baseTar, baseKey, version, outDir, cacheDir, steps, force: !!options.force }));
  }

  return { versions: built, hostapps, busybox: await busyboxImage(outDir, steps, !!options.force) };
}

/**
 * Only the busybox container image the suites load, for runs against an OS
 * image dutlab did not build: no root filesystem is made for it.
 */
export async function buildBusybox(options: Pick<BuildOptions, 'outDir' | 'force' | 'onStep'> = {}): Promise<Artifact> {
  return busyboxImage(path.resolve(options.outDir ?? DEFAULT_OUT_DIR), new Steps(options.onStep), !!options.force);
}

async function busyboxImage(outDir: string, steps: Steps, force: boolean): Promise<Artifact> {
  const cacheDir = path.join(outDir, 'cache');
  await mkdir(cacheDir, { recursive: true });
  const busyboxPath = path.join(outDir, 'dutlab-busybox.tar');
  if ((await exists(busyboxPath)) && !force) steps.cached('busybox container image');
  else
    await steps.run('busybox container image', () =>
      writeAtomically(busyboxPath, (partial) => buildBusyboxArchive(partial, cacheDir)),
    );
  return artifact(busyboxPath);
}

interface VersionBuild {
  recipe: Recipe;
  recipeDir: string;
  baseTar: string;
  baseKey: string;
  version: string;
  outDir: string;
  cacheDir: string;
  steps: Steps;
  force: boolean;
}

async function buildVersion(b: VersionBuild): Promise<ImageManifest> {
  const { recipe, version, outDir, steps } = b;
  const key = hashParts([b.baseKey, version]).slice(0, 16);
  const stem = path.join(outDir, `${recipe.name}-${version}`);
  const manifestPath = `${stem}.json`;
  const cached = await readJson<ImageManifest>(manifestPath);
  if (cached && cached.key === key && !b.force && (await artifactsIntact(cached))) {
    steps.cached(`${recipe.name} ${version}`);
    if (await intact(cached.bmap)) return cached;
    // Built before images had block maps (or the map was removed): the image is good, only its map is made.
    const completed = { ...cached, bmap: await blockMap(cached.image.path, version, steps) };
    await writeManifest(completed);
    return completed;
  }
  await rm(manifestPath, { force: true }); // stale from here on, whatever happens next
  // So are the production build and the flasher made from the old image: nobody may boot them as this version's.
  await Promise.all([`${stem}-prod.img`, `${stem}-prod.bmap`, `${stem}-flasher.img`, `${stem}-flasher.bmap`].map((file) => rm(file, { force: true })));
  const started = performance.now();
  const work = path.join(b.cacheDir, `work-${version}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const tree = path.join(work, 'root');
    const hostappPath = await buildHostapp(b, tree, work);
    const parts = path.join(work, 'parts');
    await mkdir(parts);
    const p = recipe.partitions;
    await steps.run(`${version}: resin-rootA from the hostapp (its engine in a build VM, hostapp-update -n)`, () =>
      buildHostappSysroot({ tree, hostapp: hostappPath, output: path.join(parts, 'rootA.ext4'), label: 'resin-rootA', sizeMiB: p.root, workDir: work }),
    );
    await steps.run(`${version}: filesystems`, async () => {
      await makeExt4(path.join(parts, 'rootB.ext4'), 'resin-rootB', p.root);
      const stateTree = path.join(work, 'state');
      await mkdir(path.join(stateTree, 'journal'), { recursive: true });
      // Without its flag a partition is wiped at the next boot (resin-state-reset, balena-data-reset).
      await writeFile(path.join(stateTree, RESET_FLAG), '');
      await makeExt4(path.join(parts, 'state.ext4'), 'resin-state', p.state, stateTree);
      const dataTree = path.join(work, 'data');
      await mkdir(dataTree);
      await writeFile(path.join(dataTree, RESET_FLAG), '');
      await makeExt4(path.join(parts, 'data.ext4'), 'resin-data', p.data, dataTree);
    });
    await steps.run(`${version}: boot partition (GRUB EFI, grubenv, config.json)`, () =>
      buildBootPartition(recipe, path.join(tree, BOOT_FILES_DIR), path.join(parts, 'boot.vfat'), work),
    );
    const imagePath = `${stem}.img`;
    await steps.run(`${version}: GPT disk image`, () =>
      writeAtomically(imagePath, (partial) =>
        assembleDisk(partial, [
          { name: 'resin-boot', file: path.join(parts, 'boot.vfat'), sizeMiB: p.boot, type: 'efi' },
          { name: 'resin-rootA', file: path.join(parts, 'rootA.ext4'), sizeMiB: p.root, type: 'linux' },
          { name: 'resin-rootB', file: path.join(parts, 'rootB.ext4'), sizeMiB: p.root, type: 'linux' },
          { name: 'resin-state', file: path.join(parts, 'state.ext4'), sizeMiB: p.state, type: 'linux' },
          { name: 'resin-data', file: path.join(parts, 'data.ext4'), sizeMiB: p.data, type: 'linux' },
        ]),
      ),
    );
    const bmap = await blockMap(imagePath, version, steps);
    const manifest: ImageManifest = await steps.run(`${version}: hostapp checksum and manifest`, async () => ({
      name: recipe.name,
      version,
      key,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((performance.now() - started) / 100) / 10,
      image: await diskArtifact(imagePath),
      bmap,
      hostapp: await artifact(hostappPath),
      manifest: manifestPath,
    }));
    await writeManifest(manifest);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The OS tree into `tree` and its hostapp tarball (refos-V.hostapp.tar), whose path this returns. */
async function buildHostapp(b: VersionBuild, tree: string, work: string): Promise<string> {
  const { recipe, version, steps } = b;
  await steps.run(`${version}: root tree, boot files, identity and fingerprint`, () =>
    prepareRootTree(recipe, b.baseTar, version, tree, (dir) => buildBootFiles(recipe, b.recipeDir, path.join(dir, BOOT_FILES_DIR))),
  );
  const hostappPath = path.join(b.outDir, `${recipe.name}-${version}.hostapp.tar`);
  await steps.run(`${version}: hostapp tarball`, async () => {
    const layer = path.join(work, 'layer.tar');
    await tarTree(tree, layer);
    await writeAtomically(hostappPath, (partial) =>
      writeDockerArchive(partial, layer, [
        { repoTag: `${recipe.name}:${version}`, config: { Cmd: ['/sbin/init'], Labels: { 'io.balena.image.class': 'hostapp' } } },
      ]),
    );
    await rm(layer, { force: true });
  });
  return hostappPath;
}

async function buildHostappOnly(b: VersionBuild): Promise<HostappManifest> {
  const { recipe, version, steps } = b;
  const key = hashParts([b.baseKey, version]).slice(0, 16);
  const manifestPath = path.join(b.outDir, `${recipe.name}-${version}.hostapp.json`);
  const cached = await readJson<HostappManifest>(manifestPath);
  if (cached && cached.key === key && !b.force && (await intact(cached.hostapp))) {
    steps.cached(`${recipe.name} ${version} hostapp`);
    return cached;
  }
  await rm(manifestPath, { force: true });
  const work = path.join(b.cacheDir, `work-hostapp-${version}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const hostappPath = await buildHostapp(b, path.join(work, 'root'), work);
    const manifest: HostappManifest = { name: recipe.name, version, key, builtAt: new Date().toISOString(), hostapp: await artifact(hostappPath), manifest: manifestPath };
    await writeManifest(manifest);
    return manifest;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The manifest with its production build, made from the development image unless already there. */
async function withProduction(manifest: ImageManifest, cacheDir: string, steps: Steps): Promise<ImageManifest> {
  if (manifest.production && (await intact(manifest.production.image)) && (await intact(manifest.production.bmap))) {
    steps.cached(`${manifest.name} ${manifest.version} production build`);
    return manifest;
  }
  const production = await buildVariant(manifest, cacheDir, steps, 'prod', 'production build (developmentMode false, no kernel console)', (partial, work) =>
    makeProductionVariant(manifest.image.path, partial, work),
  );
  const completed = { ...manifest, production };
  await writeManifest(completed);
  return completed;
}

/** The manifest with its flasher image, unless one made from this image and this flasher recipe is there. */
async function withFlasher(manifest: ImageManifest, b: VersionBuild): Promise<ImageManifest> {
  const key = hashParts([manifest.key, await hashTree(path.join(b.recipeDir, FLASHER_DIR))]).slice(0, 16);
  const flasher = manifest.flasher;
  if (flasher && flasher.key === key && !b.force && (await intact(flasher.image)) && (await intact(flasher.bmap))) {
    b.steps.cached(`${manifest.name} ${manifest.version} flasher`);
    return manifest;
  }
  const built = await buildVariant(manifest, b.cacheDir, b.steps, 'flasher', 'flasher image (flash-boot, flash-rootA with the installer and the image)', (partial, work) =>
    buildFlasherImage({ recipe: b.recipe, recipeDir: b.recipeDir, baseTar: b.baseTar, version: manifest.version, image: manifest.image.path, output: partial, workDir: work }),
  );
  const completed = { ...manifest, flasher: { key, ...built } };
  await writeManifest(completed);
  return completed;
}

/** An image made from a version's image (refos-V-SUFFIX.img), with its block map; its work folder goes afterwards. */
async function buildVariant(
  manifest: ImageManifest,
  cacheDir: string,
  steps: Steps,
  suffix: string,
  title: string,
  make: (partial: string, work: string) => Promise<void>,
): Promise<{ image: DiskArtifact; bmap: Artifact }> {
  const { version } = manifest;
  const imagePath = manifest.image.path.replace(/\.img$/, `-${suffix}.img`);
  const work = path.join(cacheDir, `work-${suffix}-${version}-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    await steps.run(`${version}: ${title}`, () => writeAtomically(imagePath, (partial) => make(partial, work)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const bmap = await blockMap(imagePath, version, steps);
  return { image: await diskArtifact(imagePath), bmap };
}

/** `<image minus .img>.bmap`, made from the image just built, so a map never outlives its image. */
async function blockMap(imagePath: string, version: string, steps: Steps): Promise<Artifact> {
  const bmapPath = imagePath.replace(/\.img$/, '.bmap');
  await steps.run(`${version}: block map (bmaptool create)`, () =>
    writeAtomically(bmapPath, async (partial) => {
      await tool('bmaptool', ['create', '-o', partial, imagePath]);
    }),
  );
  return artifact(bmapPath);
}

async function writeManifest(manifest: ImageManifest | HostappManifest): Promise<void> {
  await writeAtomically(manifest.manifest, (partial) => writeFile(partial, `${JSON.stringify(manifest, null, 2)}\n`));
}

/** Only the current base root is worth its half gigabyte. */
async function pruneStaleBases(cacheDir: string, keep: string): Promise<void> {
  for (const name of await readdir(cacheDir)) {
    if (/^base-[0-9a-f]+\.tar$/.test(name) && name !== keep) await rm(path.join(cacheDir, name), { force: true });
  }
}

async function artifact(file: string): Promise<Artifact> {
  return { path: file, size: (await stat(file)).size, sha256: await sha256File(file) };
}

async function diskArtifact(file: string): Promise<DiskArtifact> {
  return { path: file, size: (await stat(file)).size };
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** A cached build is good only while its files are still there at the recorded sizes (the block map is checked on its own: it can be remade from the image). */
async function artifactsIntact(manifest: ImageManifest): Promise<boolean> {
  for (const a of [manifest.image, manifest.hostapp]) {
    if (!(await intact(a))) return false;
  }
  return true;
}

/** `undefined`: a manifest written before the artifact existed. */
async function intact(a: Artifact | DiskArtifact | undefined): Promise<boolean> {
  const info = a && (await stat(a.path).catch(() => undefined));
  return !!info && info.size === a.size;
}
