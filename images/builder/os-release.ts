import type { Recipe } from '../recipe.ts';

/** The identity files a balenaOS root carries, for one version string. */
export function osIdentityFiles(recipe: Recipe, version: string): Record<string, string> {
  const fields: Record<string, string> = {
    ID: 'balena-os',
    NAME: 'balenaOS',
    VERSION: version,
    VERSION_ID: version,
    PRETTY_NAME: `balenaOS ${version}`,
    MACHINE: recipe.machine,
    VARIANT: 'Development',
    VARIANT_ID: 'dev',
    META_BALENA_VERSION: version,
    SLUG: recipe.slug,
    ID_LIKE: 'debian',
    HOME_URL: 'https://github.com/dutlab/dutlab',
  };
  const osRelease = Object.entries(fields)
    .map(([key, value]) => `${key}="${value}"`)
    .join('\n');
  return {
    'etc/os-release': `${osRelease}\n`,
    'usr/lib/os-release': `${osRelease}\n`,
    'etc/issue': `balenaOS ${version}\n\n`,
    'etc/issue.net': `balenaOS ${version}\n`,
    // Differs between versions beyond os-release, so an update test can see
    // that file contents, not only the version string, came across.
    'usr/lib/balena/release': `${recipe.name} ${version}\n`,
    'etc/hosts': '127.0.0.1\tlocalhost\n127.0.1.1\tbalena\n::1\tlocalhost ip6-localhost ip6-loopback\n',
  };
}
