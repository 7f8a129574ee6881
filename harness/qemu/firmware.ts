/**
 * Where the UEFI firmware lives. Debian/Ubuntu ship OVMF as
 * /usr/share/OVMF/OVMF_{CODE,VARS}_4M.fd (older: OVMF_CODE.fd), Fedora as
 * /usr/share/edk2/ovmf/. The non-secure-boot build is used: secure-boot
 * builds need SMM and enrolled keys, which test images do not have.
 */
import { existsSync } from 'node:fs';
import { ConfigError } from '../errors.ts';

export interface UefiFirmware {
  code: string;
  varsTemplate: string;
}

const CANDIDATES: UefiFirmware[] = [
  { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS_4M.fd' },
  { code: '/usr/share/OVMF/OVMF_CODE.fd', varsTemplate: '/usr/share/OVMF/OVMF_VARS.fd' },
  { code: '/usr/share/edk2/ovmf/OVMF_CODE.fd', varsTemplate: '/usr/share/edk2/ovmf/OVMF_VARS.fd' },
  { code: '/usr/share/edk2/x64/OVMF_CODE.4m.fd', varsTemplate: '/usr/share/edk2/x64/OVMF_VARS.4m.fd' },
];

export function findUefiFirmware(candidates: readonly UefiFirmware[] = CANDIDATES): UefiFirmware {
  const found = candidates.find((c) => existsSync(c.code) && existsSync(c.varsTemplate));
  if (!found) {
    throw new ConfigError(
      'firmware: uefi',
      `no OVMF firmware found (looked for ${candidates.map((c) => c.code).join(', ')}); install the "ovmf" package or use firmware: bios`,
    );
  }
  return found;
}
