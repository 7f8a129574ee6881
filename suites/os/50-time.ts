import assert from 'node:assert/strict';
import { defineTests, type TestContext } from 'dutlab';
import { editConfigJson, escapeRegExp, journalMark, journalSince } from 'dutlab/balena';

/** How far the DUT's clock may be from this host's once synchronised (the read itself takes a round trip). */
const AGREE_S = 2;

/** DUT clock minus this host's, in seconds, read over one command. */
async function clockOffset(t: TestContext): Promise<number> {
  const sent = Date.now();
  const dut = Number(await t.sh('date +%s.%N'));
  const received = Date.now();
  return dut - (sent + received) / 2000;
}

/** Waits for chrony to select `server` as its source (`^*` in chronyc sources). */
async function selected(t: TestContext, server: string, timeoutMs: number): Promise<void> {
  await t.waitUntil(`chronyc -n sources | grep -Eq '^\\^\\* ${escapeRegExp(server)} '`, { timeoutMs, intervalMs: 3000, what: `chrony selecting ${server} as its source` });
}

/** The NTP server on this host, named in config.json: chrony takes it without a reboot. */
async function hostTimeServer(t: TestContext): Promise<string> {
  await t.host.ntp();
  const server = t.host.address;
  await editConfigJson(t, `.ntpServers = "${server}"`);
  return server;
}

export default defineTests(
  {
    title: 'chronyd runs under its health check and synchronises to the NTP server config.json names, taken and dropped without a reboot',
    requires: { features: ['host-network'] },
    timeoutMs: 6 * 60_000,
    async run(t) {
      assert.equal(await t.sh('systemctl is-active chronyd.service'), 'active');
      assert.match(await t.sh('systemctl show -p ExecStart --value chronyd.service'), /healthdog.*chrony-healthcheck/, 'chronyd runs under healthdog with chrony-healthcheck');
      const server = await hostTimeServer(t);
      await t.waitUntil(`grep -q '${escapeRegExp(server)}' /run/chrony/added_config.sources`, { timeoutMs: 60_000, what: 'ntpServers in chrony\'s added sources' });
      await selected(t, server, 180_000);
      assert.match(await t.sh('chronyc -n tracking'), /^Leap status\s+:\s+Normal$/m, 'chrony reports the clock synchronised');
      const offset = await clockOffset(t);
      assert.ok(Math.abs(offset) < AGREE_S, `the DUT's clock agrees with this host's (offset ${offset.toFixed(3)} s)`);

      await editConfigJson(t, 'del(.ntpServers)');
      await t.waitUntil(`sources=$(chronyc -n sources) && ! echo "$sources" | grep -q ' ${escapeRegExp(server)} '`, { timeoutMs: 60_000, what: `${server} gone from chrony's sources` });
    },
  },
  {
    title: 'with NTP unreachable chrony\'s health check forces a poll, then has chronyd restarted; once NTP is back a clock set 2 min back is stepped right',
    requires: { features: ['host-network'] },
    timeoutMs: 15 * 60_000,
    async run(t) {
      const server = await hostTimeServer(t);
      await selected(t, server, 180_000);
      const mark = await journalMark(t);
      // As balena's own test: NTP dropped at the firewall, chronyd started afresh without a reachable source.
      await t.sh('iptables -I OUTPUT -p udp --dport 123 -j DROP');
      t.teardown(() => t.exec('iptables -D OUTPUT -p udp --dport 123 -j DROP'));
      await t.sh('systemctl restart chronyd.service');
      // Counted from here: a manual start resets systemd's count of automatic
      // restarts, and one may have happened before this test (chronyd without
      // a source since boot: its watchdog fires 4 min in).
      const restarts = Number(await t.sh('systemctl show -p NRestarts --value chronyd.service'));
      await t.sh('date -s "-2 min" >/dev/null');
      // Should the OS never step it back, the tests after this one still get a right clock.
      t.teardown(() => t.exec(`date -s @${(Date.now() / 1000).toFixed(3)} >/dev/null`));
      const journal = journalSince('chronyd.service', mark);
      await t.waitUntil(`${journal} | grep -q 'No online NTP sources - forcing poll'`, { timeoutMs: 300_000, intervalMs: 10_000, what: 'the health check forcing a poll' });
      await t.waitUntil(`${journal} | grep -q 'NTP time lost synchronization - restarting chronyd'`, { timeoutMs: 300_000, intervalMs: 10_000, what: 'the health check giving up on synchronisation' });
      await t.waitUntil(`test "$(systemctl show -p NRestarts --value chronyd.service)" -gt ${restarts}`, {
        timeoutMs: 360_000,
        intervalMs: 10_000,
        what: 'systemd restarting chronyd (its watchdog no longer petted)',
      });
      assert.match(await t.sh(journal), /chronyd\.service: Watchdog timeout/, 'systemd restarted chronyd for its watchdog');
      const skewed = await clockOffset(t);
      assert.ok(skewed < -100, `the clock is still 2 min back while NTP is blocked (offset ${skewed.toFixed(1)} s)`);

      await t.sh('iptables -D OUTPUT -p udp --dport 123 -j DROP');
      await t.waitUntil(async () => Math.abs(await clockOffset(t)) < AGREE_S, { timeoutMs: 300_000, intervalMs: 5000, what: `the clock within ${AGREE_S} s of this host's again` });
      await selected(t, server, 120_000);
    },
  },
);
