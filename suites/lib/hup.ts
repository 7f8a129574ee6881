/** The host OS update steps the hup suite composes. */
import assert from 'node:assert/strict';
import type { TestContext } from 'dutlab';
import { bootEnv, bootEnvFile, byState, osVersion, rollbackFiles, STATE_FILES, type StatePartition } from './device.ts';
import { waitForEngine } from './engine.ts';

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
  active: StatePartition;
  inactive: StatePartition;
}

export async function currentState(t: TestContext): Promise<UpdateState> {
  return { version: await osVersion(t), active: await byState(t, 'active'), inactive: await byState(t, 'inactive') };
}

/** Whether resin_root_part names this root: by partition number (as balenaOS's hooks write it) or, on older boot environments, by letter. */
export function namesRoot(value: string | undefined, root: StatePartition): boolean {
  return value === root.index || value === /^(?:resin|balena)-root([AB])$/.exec(root.label)?.[1];
}

/**
 * Stages an update as balena's own hup suite does (doHUP): the hostapp store
 * on the inactive root is emptied under a stopped balena-host, then
 * hostapp-update writes the new OS through it, without rebooting. Checks the
 * boot configuration the new OS's hooks leave.
 */
export async function stageUpdate(t: TestContext, target: Hostapp, before: UpdateState): Promise<void> {
  await waitForEngine(t);
  t.log(`updating ${before.version} on ${before.active.label} with ${target.file} (version ${target.version ?? 'unknown to the run'})`);
  const file = await t.stage(target.file);
  await t.sh('systemctl stop balena-host.service && rm -rf /mnt/sysroot/inactive/balena/* && systemctl start balena-host.service', { timeoutMs: 180_000 });
  await t.sh(`hostapp-update -f ${file}`, { timeoutMs: 15 * 60_000 });
  const env = await bootEnv(t);
  assert.equal(env['upgrade_available'], '1', 'the update is on trial');
  assert.ok(namesRoot(env['resin_root_part'], before.inactive), `GRUB points at the updated root ${before.inactive.label} (partition ${before.inactive.index}), not ${env['resin_root_part']}`);
  const files = await rollbackFiles(t);
  assert.ok(files.includes('rollback-health-breadcrumb') && files.includes('rollback-altboot-breadcrumb'), `breadcrumbs dropped: ${files.join(', ')}`);
}

/**
 * The one file under the inactive root whose path ends with `suffix`, as
 * balena's tests find what to break in a staged update (`find
 * /mnt/sysroot/inactive | grep …`): in a hostapp layout it sits in the
 * layer's diff folder of the engine store. Exactly one must match, or the
 * break would hit the wrong file or none.
 */
export async function inactiveFile(t: TestContext, pattern: string): Promise<string> {
  const found = (await t.sh(`find /mnt/sysroot/inactive/ | grep -E '${pattern}' || true`)).split('\n').filter(Boolean);
  assert.equal(found.length, 1, `exactly one file under /mnt/sysroot/inactive matches ${pattern}: ${found.join(', ') || 'none'}`);
  return found[0] ?? '';
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
  if ((await t.exec('systemctl is-active --quiet rollback-health.service')).exitCode === 0) {
    await t.sh('systemctl stop rollback-health.service');
    undone.push('stopped rollback-health.service, still checking an update');
  }
  const activeRoot = await byState(t, 'active');
  const active = activeRoot.label;
  const env = await bootEnv(t);
  const committed = { resin_root_part: namesRoot(env['resin_root_part'], activeRoot) ? (env['resin_root_part'] ?? '') : activeRoot.index, upgrade_available: '0', bootcount: '0' };
  const wrong = Object.entries(committed).filter(([key, value]) => env[key] !== value);
  if (wrong.length > 0) {
    // As balenaOS's rollback-stop edits it: sed in place, one-character values, so the 1024-byte block keeps its size.
    const file = await bootEnvFile(t);
    await t.sh(`sed -i ${wrong.map(([key, value]) => `-e 's/^${key}=.$/${key}=${value}/'`).join(' ')} "${file}" && sync "${file}"`);
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
