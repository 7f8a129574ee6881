/** The host OS update steps the hup suite composes. */
import assert from 'node:assert/strict';
import type { TestContext } from '../../harness/runner/types.ts';
import { bootEnv, GRUBENV, labelOf, osVersion, rollbackFiles, STATE_FILES, waitForEngine } from './device.ts';

/** A hostapp of the run; `version` is undefined when the run could not read it (a foreign hostapp). */
export interface Hostapp {
  file: string;
  version: string | undefined;
}

/**
 * The hostapp to update to: one of another version than the running one
 * ('next'), or of the running version itself ('same'). Without one the test
 * is skipped: that is a prerequisite of the run, not a fault of the OS.
 */
export function hostappFor(t: TestContext, which: 'next' | 'same', running: string): Hostapp {
  const { nextHostapp, nextVersion, currentHostapp, version } = t.images;
  const next = nextHostapp === undefined ? undefined : { file: nextHostapp, version: nextVersion };
  const current = currentHostapp === undefined ? undefined : { file: currentHostapp, version };
  const known = [next, current].filter((h): h is Hostapp => h?.version !== undefined);
  if (which === 'same') {
    // Only a version the run could read can be told to be the running one.
    return (
      known.find((h) => h.version === running) ??
      t.skip(`the run has no hostapp known to be version ${running}, the running one; pass --current-hostapp with a hostapp whose version the run can read`)
    );
  }
  // After an earlier test updated the DUT, "next" and "current" swap roles.
  const other =
    known.find((h) => h.version !== running) ??
    // The current hostapp is the image's version and the next one another:
    // when the next one is known to run now, the current one is not running.
    (current?.version === undefined && next?.version === running ? current : undefined) ??
    // A next hostapp of unknown version is taken at the run's word
    // (--next-hostapp is another version than the image). The update test,
    // first in the suite, then checks that the version changed rather than
    // which version it became; the rollback tests after it only need an
    // update, whatever its version.
    (next?.version === undefined ? next : undefined);
  return other ?? t.skip(`the run has no hostapp of a version other than ${running}; pass --next-hostapp`);
}

export interface UpdateState {
  version: string;
  active: string;
  inactive: string;
}

export async function currentState(t: TestContext): Promise<UpdateState> {
  return { version: await osVersion(t), active: await labelOf(t, 'active'), inactive: await labelOf(t, 'inactive') };
}

/** A or B: the root a label names, as resin_root_part in grubenv names it. */
export function rootLetter(label: string): string {
  const letter = /^(?:resin|balena)-root([AB])$/.exec(label)?.[1];
  assert.ok(letter, `${label} is the label of a root partition (resin-rootA, balena-rootB, ...)`);
  return letter;
}

/** Runs hostapp-update without rebooting and checks the boot configuration it leaves. */
export async function stageUpdate(t: TestContext, target: Hostapp, before: UpdateState): Promise<void> {
  await waitForEngine(t);
  t.log(`updating ${before.version} on ${before.active} with ${target.file} (version ${target.version ?? 'unknown to the run'})`);
  await t.sh(`hostapp-update -f ${await t.stage(target.file)}`, { timeoutMs: 15 * 60_000 });
  const env = await bootEnv(t);
  assert.equal(env['upgrade_available'], '1', 'the update is on trial');
  assert.equal(env['resin_root_part'], rootLetter(before.inactive), 'GRUB points at the updated root');
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

/** What an update on trial leaves in /mnt/state: breadcrumbs, verdicts and the shortened rollback-health settings of a test. */
const UPDATE_LEFTOVERS = [...STATE_FILES, 'rollback-health-variables'];

/**
 * Returns the DUT to a committed system on the root that is active now,
 * whatever an earlier (failed) test left: no rollback-health still counting
 * checks, grubenv with no update on trial and resin_root_part naming the
 * running root (a test may have failed between hostapp-update and the
 * reboot, leaving GRUB pointed at the other root), no leftovers in
 * /mnt/state. Logs what it had to undo, so a report shows it.
 */
export async function returnToCommitted(t: TestContext): Promise<void> {
  const undone: string[] = [];
  // Left running, it would roll back or commit, and reboot, under the next test.
  if ((await t.dut.exec('systemctl is-active --quiet rollback-health.service')).exitCode === 0) {
    await t.sh('systemctl stop rollback-health.service');
    undone.push('stopped rollback-health.service, still checking an update');
  }
  const active = await labelOf(t, 'active');
  const committed = { resin_root_part: rootLetter(active), upgrade_available: '0', bootcount: '0' };
  const env = await bootEnv(t);
  const wrong = Object.entries(committed).filter(([key, value]) => env[key] !== value);
  if (wrong.length > 0) {
    // grub-editenv is what the image's own hooks write grubenv with (env_set in balena-lib.sh).
    await t.sh(`grub-editenv ${GRUBENV} set ${wrong.map(([key, value]) => `${key}=${value}`).join(' ')} && sync ${GRUBENV}`);
    undone.push(...wrong.map(([key, value]) => `grubenv ${key}=${env[key] ?? '(unset)'} → ${value}`));
  }
  const leftovers = await rollbackFiles(t, UPDATE_LEFTOVERS);
  if (leftovers.length > 0) {
    await t.sh(`cd /mnt/state && rm -f ${leftovers.join(' ')} && sync`);
    undone.push(`removed ${leftovers.map((f) => `/mnt/state/${f}`).join(', ')}`);
  }
  const now = await bootEnv(t);
  assert.deepEqual(
    Object.fromEntries(Object.keys(committed).map((key) => [key, now[key]])),
    committed,
    `grubenv describes a committed system on ${active}`,
  );
  t.log(undone.length > 0 ? `back to a committed system on ${active}: ${undone.join('; ')}` : `a committed system on ${active}; nothing to undo`);
}
