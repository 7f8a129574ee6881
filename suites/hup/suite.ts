import { defineSuite } from 'dutlab';
import { returnToCommitted } from 'dutlab/balena';

export default defineSuite({
  title: 'Host OS update: hostapp-update, A/B switch, rollback-health, rollback-altboot',
  requires: { features: ['hup'] },
  // Each test starts from a committed system, whatever the test before it
  // left: a failed update test must not become the next test's failure.
  beforeEach: returnToCommitted,
  // And whatever runs after the suite finds one too.
  teardown: returnToCommitted,
});
