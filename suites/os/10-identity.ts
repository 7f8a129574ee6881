import assert from 'node:assert/strict';
import { acrossReboot, defineTests } from 'dutlab';
import { byState, editConfigJson, escapeRegExp, mountAt, osRelease } from 'dutlab/balena';

// procps-ng: " 17:05:42 up 3 days,  4:05,  1 user,  load average: 0.52, 0.58, 0.59",
// "up 7 min" below an hour, "%2d" for the hours and the users.
const UPTIME =
  /^ (?<clock>(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d) up (?:(?<days>[1-9]\d*) (?<dayWord>days?), )?(?:(?<hours> [1-9]|1\d|2[0-3]):(?<minutes>[0-5]\d)|(?<mins>[1-5]?\d) min), (?<users> \d|[1-9]\d+) (?<userWord>users?), {2}load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d$/;
/** Seconds the DUT may take between reading the clock or /proc/uptime and running uptime. */
const READ_SLACK_S = 5;

export default defineTests(
  {
    title: 'os-release carries the balenaOS fields and /etc/issue and /etc/issue.net name the OS and version',
    async run(t) {
      const fields = await osRelease(t);
      for (const key of ['ID', 'NAME', 'VERSION', 'VERSION_ID', 'PRETTY_NAME', 'MACHINE', 'META_BALENA_VERSION', 'SLUG']) {
        assert.ok(fields[key], `os-release has ${key}`);
      }
      assert.equal(fields['SLUG'], t.board.deviceType, 'SLUG is the board device type');
      assert.equal(fields['META_BALENA_VERSION'], fields['VERSION']);
      if (t.images.version) assert.equal(fields['VERSION'], t.images.version, 'the booted image is the one the run named');
      else t.log(`the run does not know the image's version: VERSION ${fields['VERSION']} is not compared`);
      for (const file of ['/etc/issue', '/etc/issue.net']) {
        // "NAME VERSION" and then a space or the line's end: 1.0.1 must not pass for 1.0.
        assert.match(await t.sh(`cat ${file}`), new RegExp(`^${escapeRegExp(`${fields['NAME']} ${fields['VERSION']}`)}(\\s|$)`), file);
      }
    },
  },
  {
    title: 'the OS files match their fingerprint (md5sum -c)',
    async run(t) {
      const list = await t.sh('ls /balenaos.fingerprint /resinos.fingerprint 2>/dev/null | head -n 1');
      assert.ok(list, 'the OS has /balenaos.fingerprint or /resinos.fingerprint');
      await t.sh(`cd / && md5sum --quiet -c ${list}`, { timeoutMs: 300_000 });
    },
  },
  {
    title: 'partitions carry the balenaOS labels and by-state links point active and inactive at different roots',
    async run(t) {
      // Each resolves through its label's by-state link or fails, naming the links it tried.
      for (const part of ['boot', 'rootA', 'rootB', 'state', 'data'] as const) await byState(t, part);
      const active = await byState(t, 'active');
      const inactive = await byState(t, 'inactive');
      assert.match(active.label, /^(resin|balena)-root[AB]$/);
      assert.match(inactive.label, /^(resin|balena)-root[AB]$/);
      assert.notEqual(active.device, inactive.device);
      // The balenaOS mount point of the running root's partition (the
      // reference image binds / there; balenaOS's / is an overlay on it).
      const mounted = await mountAt(t, '/mnt/sysroot/active');
      assert.equal(mounted?.devno, active.devno, `${active.label} (${active.device}) is mounted at /mnt/sysroot/active, not ${mounted?.source ?? 'nothing'}`);
    },
  },
  {
    title: 'uptime prints the time, an uptime that agrees with /proc/uptime, the users and the load averages (procps format)',
    async run(t) {
      // One command: the clock, /proc/uptime and uptime read within moments.
      const [clock = '', proc = '', shown = ''] = (await t.sh('date +%H:%M:%S; cat /proc/uptime; uptime')).split('\n');
      const seconds = /^(\d+\.\d\d) (\d+\.\d\d)$/.exec(proc);
      assert.ok(seconds, `/proc/uptime holds seconds up and idle: ${JSON.stringify(proc)}`);
      const up = Number(seconds[1]);
      assert.ok(up > 0, `/proc/uptime counts a positive time up: ${up}`);
      const fields = UPTIME.exec(shown)?.groups;
      assert.ok(fields, `uptime prints " HH:MM:SS up <duration>, <n> user(s),  load average: a.bb, c.dd, e.ff": ${JSON.stringify(shown)}`);
      const number = (name: string): number => Number(fields[name] ?? 0);
      if (fields['days'] !== undefined) assert.equal(fields['dayWord'], number('days') === 1 ? 'day' : 'days');
      assert.equal(fields['userWord'], number('users') > 1 ? 'users' : 'user');
      // procps rounds down to the minute what it read a moment after cat.
      const minutes = number('days') * 1440 + number('hours') * 60 + number('minutes') + number('mins');
      assert.ok(
        minutes >= Math.floor(up / 60) && minutes <= Math.floor((up + READ_SLACK_S) / 60),
        `uptime's ${minutes} min agrees with /proc/uptime's ${up} s`,
      );
      const daySeconds = (hms: string): number => hms.split(':').reduce((total, part) => total * 60 + Number(part), 0);
      const drift = (daySeconds(fields['clock'] ?? '') - daySeconds(clock) + 86_400) % 86_400;
      assert.ok(drift <= READ_SLACK_S, `uptime's clock ${fields['clock']} is date's ${clock}`);
    },
  },
  acrossReboot({
    title: 'a hostname set in config.json applies without a reboot, stays after one, and changes back live',
    async beforeReboot(t) {
      const original = await t.sh('hostname');
      const wanted = `dutlab-${Date.now().toString(36)}`;
      await editConfigJson(t, `.hostname = "${wanted}"`);
      await t.waitUntil(`test "$(hostname)" = ${wanted}`, { timeoutMs: 60_000, what: `the hostname ${wanted} applied live` });
      assert.equal(await t.sh('cat /etc/hostname'), wanted, '/etc/hostname holds it too');
      return { original, wanted };
    },
    async afterReboot(t, { original, wanted }) {
      assert.equal(await t.sh('hostname'), wanted, 'the hostname survives a reboot');
      await editConfigJson(t, `.hostname = "${original}"`);
      await t.waitUntil(`test "$(hostname)" = ${original}`, { timeoutMs: 60_000, what: `the hostname back to ${original}, live` });
    },
  }),
  {
    title: 'the kernel reports no under-voltage and no malformed regulatory.db in this boot',
    async run(t) {
      // Where balena's checks only comment on what dmesg says, these fail on it.
      const kernel = await t.sh('dmesg');
      assert.doesNotMatch(kernel, /Under-voltage detected/, 'no under-voltage: the board\'s supply holds');
      assert.doesNotMatch(kernel, /regulatory\.db is malformed or signature is missing/, 'the wireless regulatory database loads');
    },
  },
);
