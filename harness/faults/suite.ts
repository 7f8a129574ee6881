import { defineSuite } from '../runner/types.ts';

/**
 * Faults the harness must judge right, provoked on purpose against the
 * reference image. Most of these tests are *meant* to fail or error:
 * faults.test.ts runs the suite with `dutlab run` and checks that each
 * verdict, cause, excerpt and wall time is what a farm must be told. Not
 * part of the main job.
 */
export default defineSuite({
  title: 'Harness faults: verdicts for hangs, resets, panics, timeouts and a dead sshd',
});
