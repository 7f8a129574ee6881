import { defineSuite } from '../../harness/runner/types.ts';

export default defineSuite({
  title: 'Host OS update: hostapp-update, A/B switch, rollback-health, rollback-altboot',
  requires: { features: ['hup'] },
  async setup(t) {
    // Each test starts from a committed system: no update on trial, no leftovers.
    await t.dut.exec('rm -f /mnt/state/rollback-health-variables /mnt/state/rollback-*-triggered');
  },
  async teardown(t) {
    await t.dut.exec('rm -f /mnt/state/rollback-health-variables /mnt/state/rollback-*-triggered');
  },
});
