import assert from 'node:assert/strict';
import { defineTests, type TestContext } from 'dutlab';
import { editConfigJson, loadBusybox, scratchContainer, waitForEngine } from 'dutlab/balena';

/**
 * How long one run of balena-healthcheck may take: balena's own figures for
 * the Raspberry Pis it measures, and a bound for the rest that an emulated
 * (TCG) x86 machine meets.
 */
const HEALTHCHECK_BUDGET_MS: Record<string, number> = { 'raspberry-pi': 10_000, 'raspberrypi0-2w-64': 6_000, 'raspberrypi3-64': 5_000 };
const DEFAULT_HEALTHCHECK_BUDGET_MS = 15_000;

/** balena-engine's TCP API, open only in development mode. */
const ENGINE_TCP_PORT = 2375;

/** config.json's developmentMode as jq prints it: which mode the image runs in is the run's choice, not the OS's behaviour. */
function developmentMode(t: TestContext): Promise<string> {
  return t.sh(`jq -r '.developmentMode // false' /mnt/boot/config.json`);
}

/**
 * GET /version of the engine on the DUT's TCP 2375 as this host reaches it:
 * status and body, or undefined when nothing answered within `ms`. The bound
 * is a timer held here: with Node 20's AbortSignal.any, an
 * AbortSignal.timeout source can be collected and never fire (a wait here once
 * outlived its 15 s bound until the test's own 600 s).
 */
async function engineVersion(t: TestContext, host: string, port: number, ms: number): Promise<{ status: number; body: string } | undefined> {
  const bound = new AbortController();
  const timer = setTimeout(() => bound.abort(), ms);
  const stop = (): void => bound.abort();
  t.signal.addEventListener('abort', stop, { once: true });
  try {
    const response = await fetch(`http://${host}:${port}/version`, { signal: bound.signal });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    t.signal.removeEventListener('abort', stop);
  }
}

export default defineTests(
  {
    title: 'the engine runs under balena.service and answers on its socket',
    async run(t) {
      await waitForEngine(t);
      assert.equal(await t.sh('systemctl is-active balena.service'), 'active');
      const pid = await t.sh('systemctl show -p MainPID --value balena.service');
      assert.notEqual(pid, '0');
      assert.equal(await t.sh('test -S /var/run/balena-engine.sock && echo socket'), 'socket');
      const version = await t.sh(`curl -s --unix-socket /var/run/balena-engine.sock http://engine/version 2>/dev/null || balena-engine version --format '{{json .Server}}'`);
      assert.match(version, /"Version"/);
    },
  },
  {
    title: "in development mode the engine's API answers this host on TCP 2375",
    requires: { features: ['ssh'] },
    async run(t) {
      if ((await developmentMode(t)) !== 'true') t.skip('the image under test is a production image (config.json developmentMode is not true)');
      await waitForEngine(t);
      const { host, port } = await t.dut.reach(ENGINE_TCP_PORT);
      const answer = await engineVersion(t, host, port, 30_000);
      assert.ok(answer, `nothing answered this host on ${host}:${port} (the DUT's TCP 2375) within 30 s`);
      const version = JSON.parse(answer.body) as { Version?: string; ApiVersion?: string };
      assert.match(version.Version ?? '', /^\d+\./, `the engine's /version from this host: ${JSON.stringify(version)}`);
      assert.match(version.ApiVersion ?? '', /^\d+\.\d+$/);
    },
  },
  {
    title: 'in production mode nothing answers this host on TCP 2375',
    requires: { features: ['ssh'] },
    async run(t) {
      if ((await developmentMode(t)) === 'true') t.skip('the image under test is a development image (config.json developmentMode: true)');
      await waitForEngine(t);
      // The engine up, and yet no API from outside: balena's own check of this passes whatever the device does.
      const { host, port } = await t.dut.reach(ENGINE_TCP_PORT);
      const answer = await engineVersion(t, host, port, 15_000);
      assert.equal(answer, undefined, `TCP 2375 answered this host in production: HTTP ${answer?.status}: ${answer?.body.slice(0, 200)}`);
      assert.notEqual((await t.exec('balena-engine -H tcp://127.0.0.1:2375 version')).exitCode, 0, 'nor the DUT itself');
    },
  },
  {
    title: "developmentMode switched in config.json at run time closes the engine's TCP API to this host, and switched back opens it, without a reboot",
    requires: { features: ['ssh'] },
    async run(t) {
      const bootId = await t.sh('cat /proc/sys/kernel/random/boot_id');
      const original = (await developmentMode(t)) === 'true';
      // Leaving development mode stops the console's getty: the harness logs in again once the mode is back.
      t.teardown(() => t.dut.relogin());
      const { host, port } = await t.dut.reach(ENGINE_TCP_PORT);
      for (const development of [!original, original]) {
        await editConfigJson(t, `.developmentMode = ${development}`);
        await waitForEngine(t);
        await t.waitUntil(async () => /"ApiVersion"/.test((await engineVersion(t, host, port, 15_000))?.body ?? '') === development, {
          timeoutMs: 120_000,
          what: `the engine's TCP API ${development ? 'open to' : 'closed to'} this host in ${development ? 'development' : 'production'} mode`,
        });
      }
      assert.equal(await t.sh('cat /proc/sys/kernel/random/boot_id'), bootId, 'the switches took effect without a reboot');
    },
  },
  {
    title: 'a container from a loaded image runs, prints its output and returns its exit code',
    async run(t) {
      await loadBusybox(t);
      assert.equal(await t.sh('balena-engine run --rm dutlab/busybox echo hello from a container'), 'hello from a container');
      const failing = await t.exec('balena-engine run --rm dutlab/busybox sh -c "echo about to fail; exit 42"');
      assert.equal(failing.exitCode, 42);
      assert.match(failing.stdout, /about to fail/);
    },
  },
  {
    title: 'a container with a HEALTHCHECK goes healthy, then unhealthy when its check fails (engine events)',
    async run(t) {
      await loadBusybox(t);
      const name = await scratchContainer(t, 'dutlab-health');
      const since = await t.sh('date +%s');
      await t.sh(`balena-engine run -d --name ${name} dutlab/busybox-health >/dev/null`);
      await t.waitUntil(`test "$(balena-engine inspect -f '{{.State.Health.Status}}' ${name})" = healthy`, { timeoutMs: 60_000, what: 'healthy' });
      await t.sh(`balena-engine exec ${name} rm /tmp/healthy`);
      await t.waitUntil(`test "$(balena-engine inspect -f '{{.State.Health.Status}}' ${name})" = unhealthy`, { timeoutMs: 60_000, what: 'unhealthy' });
      // --until is in whole seconds: one past now, so this second's events are in (the engine waits for it).
      const events = await t.sh(
        `balena-engine events --since ${since} --until "$(($(date +%s) + 1))" --filter container=${name} --filter event=health_status --format '{{.Status}}'`,
      );
      const statuses = events.split('\n');
      const healthy = statuses.indexOf('health_status: healthy');
      const unhealthy = statuses.indexOf('health_status: unhealthy');
      assert.ok(healthy >= 0 && unhealthy > healthy, `events show healthy then unhealthy: ${statuses.join(', ')}`);
    },
  },
  {
    title: 'the engine health check answers within the device type\'s budget, and no watchdog has fired since boot',
    async run(t) {
      await waitForEngine(t);
      const budgetMs = HEALTHCHECK_BUDGET_MS[t.board.deviceType] ?? DEFAULT_HEALTHCHECK_BUDGET_MS;
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        await t.sh('/usr/lib/balena/balena-healthcheck', { timeoutMs: 120_000 });
        const took = Date.now() - started;
        t.log(`balena-healthcheck answered in ${took} ms (budget ${budgetMs} ms)`);
        assert.ok(took < budgetMs, `balena-healthcheck took ${took} ms, over the ${budgetMs} ms budget of ${t.board.deviceType}`);
      }
      const fired = await t.sh("journalctl -b -u balena.service --no-pager | grep \"Failed with result 'watchdog'\" || true");
      assert.equal(fired, '', 'the engine was not restarted by its watchdog while idle');
    },
  },
  {
    title: 'a stopped (SIGSTOP) containerd gets the engine restarted by its watchdog, and its containers come back',
    timeoutMs: 8 * 60_000,
    async run(t) {
      await loadBusybox(t);
      const name = await scratchContainer(t, 'dutlab-always');
      await t.sh(`balena-engine run -d --restart always --name ${name} dutlab/busybox sleep 2147483647 >/dev/null`);
      const before = await t.sh('systemctl show -p MainPID --value balena.service');
      const restartsBefore = Number(await t.sh('systemctl show -p NRestarts --value balena.service'));
      // The engine's containerd (balena-engine-containerd on balenaOS), found in the unit's own cgroup.
      const containerd = await t.sh(
        'for p in $(cat "/sys/fs/cgroup$(systemctl show -p ControlGroup --value balena.service)/cgroup.procs"); do ' +
          'case "$(readlink /proc/$p/exe)" in *containerd) echo "$p"; break;; esac; done',
      );
      assert.match(containerd, /^\d+$/, "the engine's containerd runs in balena.service's cgroup");
      await t.sh(`kill -STOP ${containerd}`);
      await t.waitUntil(`test "$(systemctl show -p NRestarts --value balena.service)" -gt ${restartsBefore}`, {
        timeoutMs: 300_000,
        intervalMs: 5000,
        what: 'systemd restarting the engine',
      });
      await waitForEngine(t);
      assert.notEqual(await t.sh('systemctl show -p MainPID --value balena.service'), before);
      await t.waitUntil(`test "$(balena-engine inspect -f '{{.State.Running}}' ${name})" = true`, { timeoutMs: 120_000, what: 'the container running again' });
      assert.match(await t.sh('journalctl -b -u balena.service --no-pager'), /Failed with result 'watchdog'/, 'the restart was the watchdog\'s');
    },
  },
);
