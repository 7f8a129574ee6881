import type { Feature, Requirements } from './types.ts';

/** Why a test cannot run here, or undefined when it can. */
export function unmetRequirement(requires: Requirements | undefined, deviceType: string, features: ReadonlySet<Feature>): string | undefined {
  if (!requires) return undefined;
  if (requires.deviceTypes && !requires.deviceTypes.includes(deviceType)) {
    return `requires device type ${requires.deviceTypes.join(' or ')}; the board is ${deviceType}`;
  }
  const missing = (requires.features ?? []).filter((f) => !features.has(f));
  if (missing.length > 0) return `requires ${missing.join(', ')}, which this board or image lacks`;
  return undefined;
}
