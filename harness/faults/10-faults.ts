import assert from 'node:assert/strict';
import { defineTests } from '../runner/types.ts';

/** The marker files the timed-out test leaves for the one after it to check. */
const SLOW_PID = '/run/dutlab-slow.pid';
const TICKS = '/run/dutlab-ticks';
const TEARDOWN_RAN = '/run/dutlab-teardown-ran';

export default defineTests(
  {
    // Expected: fail, reboot-hung. A unit that never stops keeps systemd from
    // finishing the shutdown; only the harness's power cycle brings the DUT back.
    title: 'a reboot that hangs in shutdown',
    timeoutMs: 8 * 60_000,
    async run(t) {
      await t.sh('systemd-run --unit=dutlab-hang -p KillSignal=SIGCONT -p SendSIGKILL=no -p TimeoutStopSec=infinity sleep infinity');
      // The hang is certain, so the bound only decides when the verdict comes: a short one spares the run's time.
      await t.dut.reboot({ bannerTimeoutMs: 10_000 });
    },
  },
  {
    // Expected: fail, unexpected-reset, though every command here succeeds.
    title: 'a reset during an SSH command loop',
    timeoutMs: 6 * 60_000,
    async run(t) {
      assert.equal(t.dut.defaultTransport, 'ssh');
      await t.sh("setsid -f sh -c 'sleep 3; echo b > /proc/sysrq-trigger' </dev/null >/dev/null 2>&1");
      for (;;) await t.sh('true');
    },
  },
  {
    // Expected: fail, panic, with the kernel's trace as the excerpt.
    title: 'a kernel panic during an SSH command',
    timeoutMs: 6 * 60_000,
    async run(t) {
      await t.sh('echo c > /proc/sysrq-trigger', { timeoutMs: 300_000 });
    },
  },
  {
    // Expected: error, timeout; then the next test checks what was left.
    title: 'a test that outlives its timeout',
    timeoutMs: 10_000,
    async run(t) {
      await t.sh(`rm -f ${TEARDOWN_RAN} ${TICKS}`);
      t.teardown(() => t.sh(`touch ${TEARDOWN_RAN}`));
      await t.sh(`echo $$ > ${SLOW_PID}; while :; do date +%s >> ${TICKS}; sleep 1; done`, { timeoutMs: 600_000 });
    },
  },
  {
    // Expected: pass.
    title: 'the timed-out test left nothing running and its teardown ran',
    async run(t) {
      await t.sh(`test -e ${TEARDOWN_RAN}`);
      const pid = await t.sh(`cat ${SLOW_PID}`);
      assert.equal((await t.exec(`kill -0 ${pid}`)).exitCode, 1, `process ${pid} of the timed-out command is gone`);
      const before = await t.sh(`wc -l < ${TICKS}`);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      assert.equal(await t.sh(`wc -l < ${TICKS}`), before, 'nothing writes ticks any more');
    },
  },
  {
    // Expected: pass: after the reset and the panic the DUT came back on fresh boots.
    title: 'after the faults the DUT answers over SSH and the console',
    async run(t) {
      assert.equal(await t.sh('echo over ssh'), 'over ssh');
      assert.equal(await t.sh('echo over serial', { transport: 'serial' }), 'over serial');
      assert.ok(Number((await t.sh('cut -d. -f1 /proc/uptime')).trim()) < 600, 'a recent boot');
    },
  },
  {
    // Expected: error, ssh-unreachable, within seconds, with the serial diagnosis.
    title: 'a DUT whose sshd is gone',
    timeoutMs: 5 * 60_000,
    async run(t) {
      // Stopping sshd.socket stops only the listener; the live session (its own sshd) is killed by hand.
      await t.sh("systemctl stop sshd.socket && pkill -KILL -f 'sshd: root' ; sleep 2", { transport: 'serial' });
      await t.sh('echo still there');
    },
  },
);
