import test from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DutError } from '../errors.ts';
import { bindNetwork } from './network.ts';
import { tempDir } from '../testing/temp-dir.ts';

const MAC = 'dc:a6:32:01:02:03';
const noAsk = async (): Promise<string> => {
  throw new Error('this resolver must not ask the DUT');
};

test('static: the configured address', async (t) => {
  const network = bindNetwork({ kind: 'static', host: '10.20.0.41', port: 22222 }, 'b1');
  t.deepEqual(await network.endpoint(noAsk), { host: '10.20.0.41', port: 22222 });
  t.is(network.hostAddress, undefined);
});

test("another port of the DUT: at the DUT's address, or where the farm's NAT maps it; the host as the board sees it", async (t) => {
  const direct = bindNetwork({ kind: 'static', host: '10.20.0.41', port: 22222, hostAddress: '10.20.0.1' }, 'b1');
  t.deepEqual(await direct.reach(2375, noAsk), { host: '10.20.0.41', port: 2375 });
  t.is(direct.hostAddress, '10.20.0.1');
  const mapped = bindNetwork({ kind: 'static', host: '192.168.7.2', port: 40022, ports: { '2375': 40375 } }, 'b1');
  t.deepEqual(await mapped.reach(2375, noAsk), { host: '192.168.7.2', port: 40375 });
  t.deepEqual(await mapped.reach(80, noAsk), { host: '192.168.7.2', port: 80 });
});

/** A dnsmasq.leases as dnsmasq writes it: one line per lease, the MAC in any case, IPv6 leases after a duid line. */
const DNSMASQ = [
  '1796205600 b8:27:eb:aa:bb:cc 10.20.0.17 rpi3-lab4 01:b8:27:eb:aa:bb:cc',
  `1796201000 ${MAC.toUpperCase()} 10.20.0.40 * 01:dc:a6:32:01:02:03`,
  `1796209000 ${MAC} 10.20.0.41 balena *`,
  `1796204000 ${MAC} 10.20.0.39 balena *`,
  'duid 00:01:00:01:2c:5f:12:34:52:54:00:12:34:56',
  '1796209999 3456789012 fd00::41 balena 00:02:00:00:ab:11:01:02:03:04:05:06',
  '',
].join('\n');

test('dhcp-leases, dnsmasq: the newest lease for the MAC, matched whatever its case', async (t) => {
  const dir = await tempDir(t, 'network');
  const file = path.join(dir, 'dnsmasq.leases');
  await writeFile(file, DNSMASQ);
  const network = bindNetwork({ kind: 'dhcp-leases', file, mac: MAC.toUpperCase(), port: 22222 }, 'b1');
  t.deepEqual(await network.endpoint(noAsk), { host: '10.20.0.41', port: 22222 });
});

/** An ISC dhcpd.leases journal: blocks appended as leases change; the last block of an address is its state. */
const ISC = `# The format of this file is documented in the dhcpd.leases(5) manual page.
# This lease file was written by isc-dhcp-4.4.3-P1

# authoring-byte-order entry is generated, DO NOT DELETE
authoring-byte-order little-endian;

server-duid "\\000\\001\\000\\001,_\\0224RT\\000\\0224V";

lease 10.20.0.50 {
  starts 3 2026/12/02 08:00:00;
  ends 3 2026/12/02 20:00:00;
  cltt 3 2026/12/02 08:00:00;
  binding state active;
  next binding state free;
  rewind binding state free;
  hardware ethernet ${MAC};
  uid "\\001\\334\\2462\\001\\002\\003";
  client-hostname "balena";
}
lease 10.20.0.51 {
  starts 3 2026/12/02 09:30:00;
  ends 3 2026/12/02 21:30:00;
  cltt 3 2026/12/02 09:30:00;
  binding state active;
  next binding state free;
  rewind binding state free;
  hardware ethernet ${MAC.toUpperCase()};
  client-hostname "balena";
}
lease 10.20.0.52 {
  starts 3 2026/12/02 10:00:00;
  ends 3 2026/12/02 22:00:00;
  tstp 3 2026/12/02 10:05:00;
  cltt 3 2026/12/02 10:00:00;
  binding state free;
  hardware ethernet ${MAC};
}
lease 10.20.0.53 {
  starts 3 2026/12/02 11:00:00;
  ends 3 2026/12/02 23:00:00;
  cltt 3 2026/12/02 11:00:00;
  binding state active;
  next binding state free;
  hardware ethernet ${MAC};
}
lease 10.20.0.53 {
  starts 3 2026/12/02 11:10:00;
  ends 3 2026/12/02 23:10:00;
  cltt 3 2026/12/02 11:10:00;
  binding state active;
  next binding state free;
  hardware ethernet b8:27:eb:aa:bb:cc;
}
lease 10.20.0.17 {
  starts 3 2026/12/02 12:00:00;
  ends 4 2026/12/03 00:00:00;
  binding state active;
  hardware ethernet b8:27:eb:aa:bb:cc;
}
`;

test('dhcp-leases, ISC dhcpd: the newest active lease for the MAC; a freed lease, or an address since given to another MAC, is not it', async (t) => {
  const dir = await tempDir(t, 'network');
  const file = path.join(dir, 'dhcpd.leases');
  await writeFile(file, ISC);
  const network = bindNetwork({ kind: 'dhcp-leases', file, mac: MAC, port: 22 }, 'b1');
  // .53 was newer but went to another board; .52 is newer than .51 but freed.
  t.deepEqual(await network.endpoint(noAsk), { host: '10.20.0.51', port: 22 });
});

test('dhcp-leases: a lease that appears while the board boots is found; none within the bound is ssh-unreachable naming file and MAC', async (t) => {
  const dir = await tempDir(t, 'network');
  const file = path.join(dir, 'dnsmasq.leases');
  const network = bindNetwork({ kind: 'dhcp-leases', file, mac: MAC, port: 22222 }, 'b1', { timeoutMs: 10_000, pollMs: 100 });
  // The server has handed out nothing yet: first no file, then a file without this MAC, then the lease.
  setTimeout(() => void writeFile(file, DNSMASQ.split('\n')[0] as string), 300);
  setTimeout(() => void writeFile(file, DNSMASQ), 900);
  const started = Date.now();
  t.deepEqual(await network.endpoint(noAsk), { host: '10.20.0.41', port: 22222 });
  t.true(Date.now() - started >= 800);

  const never = bindNetwork({ kind: 'dhcp-leases', file, mac: '02:00:00:00:00:01', port: 22222 }, 'b1', { timeoutMs: 500, pollMs: 100 });
  const error = await t.throwsAsync(never.endpoint(noAsk), { instanceOf: DutError });
  t.is(error?.kind, 'ssh-unreachable');
  t.is(error?.message, `dut b1, step network endpoint: no DHCP lease for MAC 02:00:00:00:00:01 in ${file} within 0.5 s`);
});

test('dhcp-leases: an abort stops the wait', async (t) => {
  const network = bindNetwork({ kind: 'dhcp-leases', file: '/nonexistent/dnsmasq.leases', mac: MAC, port: 22222 }, 'b1', { pollMs: 100 });
  const stop = new DutError('interrupted', 'run interrupted by SIGTERM');
  const controller = new AbortController();
  setTimeout(() => controller.abort(stop), 300);
  t.is(await t.throwsAsync(network.endpoint(noAsk, controller.signal)), stop);
});

/** `ip -4 -o addr show scope global` as printed on the machine these tests were written on. */
const IP_GLOBAL = '4: eth0    inet 192.0.2.2/24 brd 192.0.2.255 scope global eth0\\       valid_lft forever preferred_lft forever\n';

test('console: the DUT is asked for its global IPv4 address, on the configured interface', async (t) => {
  const asked: string[] = [];
  const any = bindNetwork({ kind: 'console', port: 22222 }, 'b1');
  t.deepEqual(await any.endpoint(async (command) => (asked.push(command), IP_GLOBAL)), { host: '192.0.2.2', port: 22222 });
  const eth0 = bindNetwork({ kind: 'console', interface: 'eth0', port: 22 }, 'b1');
  t.deepEqual(await eth0.endpoint(async (command) => (asked.push(command), IP_GLOBAL)), { host: '192.0.2.2', port: 22 });
  t.deepEqual(asked, ['ip -4 -o addr show scope global', 'ip -4 -o addr show scope global dev eth0']);
});

test('console: an address that comes up late is waited for; none is ssh-unreachable with what the DUT printed', async (t) => {
  let calls = 0;
  const late = bindNetwork({ kind: 'console', interface: 'eth0', port: 22222 }, 'b1', { timeoutMs: 10_000, pollMs: 50 });
  t.deepEqual(await late.endpoint(async () => (++calls < 3 ? '' : IP_GLOBAL)), { host: '192.0.2.2', port: 22222 });
  t.is(calls, 3);

  const none = bindNetwork({ kind: 'console', interface: 'wlan0', port: 22222 }, 'b1', { timeoutMs: 200, pollMs: 50 });
  const error = await t.throwsAsync(none.endpoint(async () => 'Device "wlan0" does not exist.\n'), { instanceOf: DutError });
  t.is(error?.kind, 'ssh-unreachable');
  t.is(error?.message, 'dut b1, step network endpoint: no global IPv4 address on wlan0 within 0.2 s; `ip -4 -o addr show scope global dev wlan0` printed "Device "wlan0" does not exist."');

  const lost = new DutError('console-lost', 'serial line closed');
  await t.throwsAsync(none.endpoint(async () => Promise.reject(lost)), { is: lost });
});
