/** The host OS update steps the hup suite composes. */
import assert from 'node:assert/strict';
import type { TestContext } from '../../harness/runner/types.ts';
import { bootEnv, labelOf, osVersion, rollbackFiles, waitForEngine } from './device.ts';

/** The hostapp for a version: the next one, or the running one (HUP to the same version). */
export function hostappFor(t: TestContext, which: 'next' | 'same', running: string): { file: string; version: string } {
  const { nextHostapp, nextVersion, currentHostapp, version } = t.images;
  // After an earlier test updated the DUT, "next" and "current" swap roles.
  const candidates = [
    { file: nextHostapp, version: nextVersion },
    { file: currentHostapp, version },
  ].filter((c): c is { file: string; version: string } => !!c.file && !!c.version);
  const pick = candidates.find((c) => (which === 'same' ? c.version === running : c.version !== running));
  assert.ok(pick, `the run has no hostapp for ${which === 'same' ? `version ${running}` : `a version other than ${running}`}`);
  return pick;
}

export interface UpdateState {
  version: string;
  active: string;
  inactive: string;
}

export async function currentState(t: TestContext): Promise<UpdateState> {
  return { version: await osVersion(t), active: await labelOf(t, 'active'), inactive: await labelOf(t, 'inactive') };
}

/** Runs hostapp-update without rebooting and checks the boot configuration it leaves. */
export async function stageUpdate(t: TestContext, file: string, before: UpdateState): Promise<void> {
  await waitForEngine(t);
  await t.sh(`hostapp-update -f ${await t.stage(file)}`, { timeoutMs: 15 * 60_000 });
  const env = await bootEnv(t);
  assert.equal(env['upgrade_available'], '1', 'the update is on trial');
  assert.equal(`root${env['resin_root_part']}`, before.inactive.replace(/^(resin|balena)-/, ''), 'GRUB points at the updated root');
  const files = await rollbackFiles(t);
  assert.ok(files.includes('rollback-health-breadcrumb') && files.includes('rollback-altboot-breadcrumb'), `breadcrumbs dropped: ${files.join(', ')}`);
}

/** Waits until rollback-health has committed the update. */
export async function waitForCommit(t: TestContext): Promise<void> {
  await t.waitUntil('test ! -e /mnt/state/rollback-health-breadcrumb', { timeoutMs: 5 * 60_000, intervalMs: 5000, what: 'rollback-health committing the update' });
  const env = await bootEnv(t);
  assert.equal(env['upgrade_available'], '0', 'the update is committed');
  assert.equal(env['bootcount'], '0');
}
