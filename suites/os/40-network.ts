import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defineTests } from 'dutlab';
import { editConfigJson, escapeRegExp, loadBusybox } from 'dutlab/balena';

/** An address from the documentation range (RFC 5737): no real server answers it. */
const DOC_ADDRESS = '192.0.2.55';

export default defineTests(
  {
    title: 'the host OS and a container on the default bridge fetch a page this host serves, the container through the engine\'s NAT rule',
    requires: { features: ['host-network'] },
    async run(t) {
      await loadBusybox(t);
      // Where balenaOS keeps its default bridge (balena0 on balenaOS): asked of the engine, not assumed.
      const bridge = await t.sh(`balena-engine network inspect bridge -f '{{index .Options "com.docker.network.bridge.name"}}'`);
      const subnet = await t.sh(`balena-engine network inspect bridge -f '{{(index .IPAM.Config 0).Subnet}}'`);
      assert.match(subnet, /^10\.114\.101\.0\/2[45]$/, 'the bridge on balenaOS\'s 10.114.101.0/24 (--bip)');
      const nat = await t.sh('iptables -t nat -S POSTROUTING');
      assert.match(nat, new RegExp(`^-A POSTROUTING -s ${escapeRegExp(subnet)} ! -o ${escapeRegExp(bridge)} -j MASQUERADE$`, 'm'), `the engine masquerades its bridge:\n${nat}`);

      const page = await t.host.http();
      assert.equal(await t.sh(`curl -fsS --max-time 60 ${page.url}`), page.body.trimEnd(), 'the host OS fetched the page');
      // Not wget -T: Debian's busybox-static 1.35 crashes on it.
      assert.equal(
        await t.sh(`balena-engine run --rm dutlab/busybox timeout 60 wget -q -O - ${page.url}`, { timeoutMs: 180_000 }),
        page.body.trimEnd(),
        'a container fetched the page',
      );
      const agents = page.hits().map((hit) => hit.userAgent);
      assert.equal(agents.length, 2, `two requests reached this host: ${agents.join(', ')}`);
      assert.match(agents[0] ?? '', /^curl\//);
      assert.match(agents[1] ?? '', /^Wget/);
    },
  },
  {
    title: 'dnsmasq resolves for the host OS and containers through the DNS servers config.json names, applied and removed without a reboot',
    requires: { features: ['host-network'] },
    timeoutMs: 6 * 60_000,
    async run(t) {
      await loadBusybox(t);
      const name = `dutlab-${randomBytes(4).toString('hex')}.test`;
      const dns = await t.host.dns({ [name]: DOC_ADDRESS });
      await editConfigJson(t, `.dnsServers = "${t.host.address}"`);
      await t.waitUntil(`grep -qx 'server=${t.host.address}' /run/dnsmasq.servers`, { timeoutMs: 60_000, what: `dnsServers ${t.host.address} in /run/dnsmasq.servers` });
      // The host OS asks dnsmasq (resolv.conf: 127.0.0.2), which asks the server config.json names.
      assert.match(await t.sh('cat /etc/resolv.conf'), /^nameserver 127\.0\.0\.2$/m);
      // getent's own exit code decides (a pipe would give head's): dnsmasq takes the new server a moment after the file changes.
      const hostAnswer = await t.waitUntil(`answer=$(getent ahostsv4 ${name}) && echo "$answer" | head -n 1`, { timeoutMs: 60_000, what: `${name} resolving on the host OS` });
      assert.match(hostAnswer, new RegExp(`^${escapeRegExp(DOC_ADDRESS)}\\s`));
      // A container asks dnsmasq on the resin-dns bridge (the engine's --dns).
      // The A record only: busybox's nslookup also asks for AAAA and exits 1 when that finds nothing.
      const containerAnswer = await t.sh(`balena-engine run --rm dutlab/busybox nslookup -type=a ${name}`, { timeoutMs: 180_000 });
      assert.match(containerAnswer, new RegExp(`Address:\\s+${escapeRegExp(DOC_ADDRESS)}`));
      assert.ok(dns.queries().includes(name), `this host's DNS server was asked for ${name}: ${dns.queries().join(', ')}`);

      // "null": no servers from config.json at all (balenaOS's way to use only the network's).
      await editConfigJson(t, '.dnsServers = "null"');
      await t.waitUntil(`! grep -q '^server=' /run/dnsmasq.servers`, { timeoutMs: 60_000, what: 'no server lines with dnsServers "null"' });
      await editConfigJson(t, 'del(.dnsServers)');
      await t.waitUntil(`grep -qx 'server=8.8.8.8' /run/dnsmasq.servers`, { timeoutMs: 60_000, what: "balenaOS's default server=8.8.8.8 once dnsServers is removed" });
      assert.doesNotMatch(await t.sh('journalctl -u dnsmasq.service -b --no-pager'), /bad address/, 'dnsmasq read every servers file it was given');
    },
  },
);
