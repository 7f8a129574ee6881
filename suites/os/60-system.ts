import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defineTests } from 'dutlab';
import { byState, editConfigJson, journalMark, journalSince } from 'dutlab/balena';

/** balenaOS sizes zram as half the memory, at most this many KiB. */
const ZRAM_MAX_KIB = 4_096_000;
/** balena's own check allows this much for the swap header and page rounding. */
const ZRAM_SLACK_KIB = 50;

const SOCKET_DROPIN = '/run/systemd/system/sshd.socket.d/dutlab-burst.conf';
const TIMER_DROPIN = '/run/systemd/system/recover-sshd-socket.timer.d/dutlab-often.conf';

export default defineTests(
  {
    title: 'zram is the only swap, sized as balenaOS sizes it (half the memory, at most 4,096,000 KiB)',
    async run(t) {
      const swaps = (await t.sh('tail -n +2 /proc/swaps')).split('\n').filter(Boolean);
      assert.equal(swaps.length, 1, `exactly one swap: ${swaps.join(' | ') || 'none'}`);
      const [device = '', , size = ''] = (swaps[0] ?? '').split(/\s+/);
      assert.match(device, /^\/dev\/zram\d+$/);
      const memory = Number(await t.sh("awk '/^MemTotal:/ { print $2 }' /proc/meminfo"));
      const expected = Math.min(Math.floor(memory / 2), ZRAM_MAX_KIB);
      assert.ok(Math.abs(Number(size) - expected) <= ZRAM_SLACK_KIB, `swap of ${size} KiB, expected ${expected} KiB (MemTotal ${memory} KiB)`);
    },
  },
  {
    title: 'udev leaves loop devices alone: a loop-attached filesystem with a balenaOS label takes no by-state link, and udev logs no substitution failures',
    async run(t) {
      const data = await byState(t, 'data');
      const image = '/tmp/dutlab-loop.ext4';
      t.teardown(() => t.exec(`for d in $(losetup -j ${image} -O NAME -n); do losetup -d "$d"; done; rm -f ${image}`));
      await t.sh(`truncate -s 8M ${image} && mkfs.ext4 -q -L ${data.label} ${image}`);
      const loop = await t.sh(`losetup --find --show ${image}`);
      await t.sh('udevadm settle --timeout=60');
      assert.equal(await t.sh(`blkid -s LABEL -o value ${loop}`), data.label, `${loop} carries the label ${data.label}`);
      const after = await byState(t, 'data');
      assert.equal(after.device, data.device, `${data.link} still leads to ${data.device}, not to ${loop}`);
      const links = await t.sh('for l in /dev/disk/by-state/*; do printf "%s -> %s\\n" "$l" "$(readlink -f "$l")"; done');
      assert.doesNotMatch(links, /-> \/dev\/(loop|ram|zram)/, `no by-state link leads to a loop, ram or zram device:\n${links}`);
      assert.doesNotMatch(await t.sh('journalctl -b -u systemd-udevd.service --no-pager'), /Failed to substitute variable/);
    },
  },
  {
    title: 'overlayfs mounts with index=off over another overlay\'s upper directory (the kernel behaviour the engine relies on)',
    async run(t) {
      const root = '/tmp/dutlab-ovl';
      t.teardown(() => t.exec(`umount ${root}/mnt1 ${root}/mnt0 2>/dev/null; rm -rf ${root}`));
      await t.sh(`mkdir -p ${root}/lower ${root}/upper0/u ${root}/upper0/w ${root}/upper1/w ${root}/mnt0 ${root}/mnt1`);
      await t.sh(`mount -t overlay none ${root}/mnt0 -o lowerdir=${root}/lower,upperdir=${root}/upper0/u,workdir=${root}/upper0/w`);
      // A kernel with the "overlapping layers" regression refuses this: "lowerdir is in-use as upperdir/workdir".
      for (let i = 0; i < 3; i++) {
        await t.sh(`mount -t overlay none ${root}/mnt1 -o index=off,lowerdir=${root}/upper0/u,upperdir=${root}/lower,workdir=${root}/upper1/w && umount ${root}/mnt1`);
      }
    },
  },
  {
    title: 'a burst of connections trips sshd.socket\'s trigger limit, balenaOS\'s recovery timer starts it again, and it leaves a healthy socket alone',
    requires: { features: ['ssh'] },
    timeoutMs: 5 * 60_000,
    async run(t) {
      assert.equal(await t.sh('systemctl is-active recover-sshd-socket.timer'), 'active');
      const cleanup = `rm -f ${SOCKET_DROPIN} ${TIMER_DROPIN}; systemctl daemon-reload; systemctl reset-failed sshd.socket; systemctl restart sshd.socket recover-sshd-socket.timer`;
      t.teardown(() => t.exec(cleanup));
      const logSince = (mark: string): Promise<string> => t.sh(journalSince('recover-sshd-socket.service', mark));
      // A healthy socket: the recovery service has nothing to do.
      const healthy = await journalMark(t);
      await t.sh('systemctl start recover-sshd-socket.service');
      assert.equal(await t.sh('systemctl is-active sshd.socket'), 'active');
      assert.doesNotMatch(await logSince(healthy), /restarting/, 'a healthy socket is left alone');
      const beforeBurst = await journalMark(t);

      // As balena's test: a low trigger limit, and the recovery every 10 s instead of every 15 min.
      await t.sh(
        `mkdir -p ${SOCKET_DROPIN.replace(/\/[^/]+$/, '')} ${TIMER_DROPIN.replace(/\/[^/]+$/, '')} && ` +
          `printf '[Socket]\\nTriggerLimitBurst=2\\nTriggerLimitIntervalSec=5s\\n' > ${SOCKET_DROPIN} && ` +
          `printf '[Timer]\\nOnCalendar=\\nOnCalendar=*:*:0/10\\n' > ${TIMER_DROPIN} && ` +
          'systemctl daemon-reload && systemctl restart sshd.socket recover-sshd-socket.timer',
      );
      // Five connections at once, each held open a moment (the live session has its own sshd and is not touched).
      const tripped = await t.sh(
        "for i in 1 2 3 4 5; do bash -c 'exec 3<>/dev/tcp/127.0.0.1/22222; sleep 5' 2>/dev/null & done; sleep 2; systemctl show -p Result --value sshd.socket",
      );
      assert.equal(tripped, 'trigger-limit-hit', 'the burst stopped sshd.socket');
      await t.waitUntil('test "$(systemctl is-active sshd.socket)" = active', { timeoutMs: 60_000, intervalMs: 2000, what: 'sshd.socket active again' });
      assert.match(await logSince(beforeBurst), /trigger rate limit.*restarting/, 'the recovery service says it restarted sshd.socket');
      // A new connection is answered by sshd again.
      await t.sh(cleanup);
      const banner = await t.waitUntil("timeout 10 bash -c 'exec 3<>/dev/tcp/127.0.0.1/22222; head -c 8 <&3'", { timeoutMs: 60_000, what: 'sshd answering a new connection on 22222' });
      assert.equal(banner, 'SSH-2.0-');
    },
  },
  {
    title: "config.json's os.udevRules and os.sshKeys apply without a reboot and are removed when unset",
    timeoutMs: 5 * 60_000,
    async run(t) {
      const boot = await byState(t, 'boot');
      const rule = `ENV{ID_FS_LABEL_ENC}=="${boot.label}", SYMLINK+="disk/dutlab-test"`;
      const key = publicKey();
      await editConfigJson(t, `.os.udevRules = {"99-dutlab": ${JSON.stringify(rule)}} | .os.sshKeys = ((.os.sshKeys // []) + [${JSON.stringify(key)}])`);
      await t.waitUntil(`test "$(readlink -e /dev/disk/dutlab-test)" = "$(readlink -e ${boot.link})"`, { timeoutMs: 120_000, what: 'the udev rule from config.json linking /dev/disk/dutlab-test' });
      assert.equal(await t.sh('cat /etc/udev/rules.d/99-dutlab.rules'), rule);
      await t.waitUntil(`grep -qxF '${key}' /root/.ssh/authorized_keys`, { timeoutMs: 60_000, what: 'the key from config.json in root\'s authorized_keys' });

      await editConfigJson(t, 'del(.os.udevRules) | .os.sshKeys = ((.os.sshKeys // []) - [' + JSON.stringify(key) + '])');
      await t.waitUntil('test ! -e /etc/udev/rules.d/99-dutlab.rules && test ! -e /dev/disk/dutlab-test', { timeoutMs: 120_000, what: 'the rule and its link gone' });
      await t.waitUntil(`! grep -qF '${key}' /root/.ssh/authorized_keys`, { timeoutMs: 60_000, what: 'the key gone from authorized_keys' });
    },
  },
);

/** An OpenSSH ed25519 public key line for a random key nobody holds the private half of. */
function publicKey(): string {
  const field = (bytes: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(randomBytes(32))]);
  return `ssh-ed25519 ${blob.toString('base64')} dutlab-test`;
}
