import type { Medium } from '../dut/drivers.ts';
import { editConfigJson } from './boot-files.ts';

/** What this run puts into the image's config.json before the first boot. */
export interface BootSettings {
  /** OpenSSH authorized_keys line installed through config.json os.sshKeys. */
  sshPublicKey?: string;
  /** Merged into config.json (hostname, developmentMode, ...). */
  config?: Record<string, unknown>;
}

/**
 * Provisions a written medium for this run, whatever board it is for: the
 * same host-side edit of config.json on a QEMU overlay, an SD card behind a
 * mux or an image file, so every board kind boots with the same settings.
 */
export async function provisionMedium(image: string, medium: Medium, settings: BootSettings): Promise<void> {
  await editConfigJson(image, medium, (config) => withBootSettings(config, settings));
}

/** config.json with this run's SSH key added to os.sshKeys and any settings merged. */
export function withBootSettings(config: Record<string, unknown>, settings: BootSettings): Record<string, unknown> {
  const os = (config['os'] as Record<string, unknown> | undefined) ?? {};
  const keys = Array.isArray(os['sshKeys']) ? (os['sshKeys'] as string[]) : [];
  return {
    ...config,
    ...settings.config,
    os: { ...os, sshKeys: settings.sshPublicKey ? [...keys, settings.sshPublicKey] : keys },
  };
}
