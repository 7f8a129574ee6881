import assert from 'node:assert/strict';
import { defineTests } from '../../harness/runner/types.ts';
import { labelOf, osRelease } from '../lib/device.ts';

export default defineTests(
  {
    title: 'os-release carries the balenaOS fields and /etc/issue names the OS and version',
    async run(t) {
      const fields = await osRelease(t);
      for (const key of ['ID', 'NAME', 'VERSION', 'VERSION_ID', 'PRETTY_NAME', 'MACHINE', 'META_BALENA_VERSION', 'SLUG']) {
        assert.ok(fields[key], `os-release has ${key}`);
      }
      assert.equal(fields['SLUG'], t.board.deviceType, 'SLUG is the board device type');
      assert.equal(fields['META_BALENA_VERSION'], fields['VERSION']);
      if (t.images.version) assert.equal(fields['VERSION'], t.images.version, 'the booted image is the one the run named');
      const issue = await t.sh('cat /etc/issue');
      assert.match(issue, new RegExp(`^${fields['NAME']} ${fields['VERSION']?.replace(/[.+]/g, '\\$&')}`));
    },
  },
  {
    title: 'the OS files match their fingerprint (md5sum -c)',
    async run(t) {
      const list = await t.sh('ls /balenaos.fingerprint /resinos.fingerprint 2>/dev/null | head -n 1');
      await t.sh(`cd / && md5sum --quiet -c ${list}`, { timeoutMs: 300_000 });
    },
  },
  {
    title: 'partitions carry the balenaOS labels and by-state links point active and inactive at different roots',
    async run(t) {
      const links = (await t.sh('ls -1 /dev/disk/by-state')).split('\n');
      for (const name of ['active', 'inactive']) assert.ok(links.includes(name), `/dev/disk/by-state/${name} exists`);
      for (const part of ['boot', 'rootA', 'rootB', 'state', 'data']) {
        assert.ok(links.includes(`resin-${part}`) || links.includes(`balena-${part}`), `a ${part} partition is linked by state`);
      }
      const active = await labelOf(t, 'active');
      const inactive = await labelOf(t, 'inactive');
      assert.match(active, /^(resin|balena)-root[AB]$/);
      assert.match(inactive, /^(resin|balena)-root[AB]$/);
      assert.notEqual(active, inactive);
      assert.equal(await t.sh('findmnt -n -o SOURCE /'), await t.sh('readlink -f /dev/disk/by-state/active'), 'the root mounted is the active one');
    },
  },
  {
    title: 'uptime works',
    async run(t) {
      assert.match(await t.sh('uptime'), /up .*load average/);
    },
  },
  {
    title: 'a hostname set in config.json applies after a reboot',
    timeoutMs: 8 * 60_000,
    async run(t) {
      const wanted = `dutlab-${Date.now().toString(36)}`;
      await t.sh('cp /mnt/boot/config.json /mnt/data/config.json.dutlab-backup');
      t.teardown(() => t.sh('mv /mnt/data/config.json.dutlab-backup /mnt/boot/config.json && sync'));
      await t.sh(`jq --arg h ${wanted} '.hostname = $h' /mnt/boot/config.json > /mnt/boot/config.json.new && mv /mnt/boot/config.json.new /mnt/boot/config.json && sync`);
      await t.dut.reboot();
      assert.equal(await t.sh('hostname'), wanted);
    },
  },
);
