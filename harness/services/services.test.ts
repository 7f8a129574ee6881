/**
 * The servers a test starts on the harness host, against real clients: an
 * SNTP request, Node's DNS resolver, fetch. Each answers only while started
 * and leaves no process behind.
 */
import test from 'ava';
import { Resolver } from 'node:dns/promises';
import { isRunning } from '../proc/pids.ts';
import { DNS_PORT, startDnsServer } from './dns-server.ts';
import { HttpServer } from './http-server.ts';
import { NTP_PORT, ntpAnswers, startNtpServer } from './ntp-server.ts';

test.serial('chronyd serves this host\'s clock over NTP while started, and is gone after stop', async (t) => {
  const server = await startNtpServer();
  t.true(await ntpAnswers('127.0.0.1', NTP_PORT));
  await server.stop();
  t.false(await ntpAnswers('127.0.0.1', NTP_PORT, 500));
  // Its own process: the host may run a chronyd of its own as its time daemon.
  t.false(isRunning(server.pid));
});

test.serial('dnsmasq answers exactly the records it was given, logs the queries, and is gone after stop', async (t) => {
  const server = await startDnsServer({ 'probe.dutlab.test': '192.0.2.7' });
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([`127.0.0.1:${DNS_PORT}`]);
  t.deepEqual(await resolver.resolve4('probe.dutlab.test'), ['192.0.2.7']);
  await t.throwsAsync(resolver.resolve4('other.dutlab.test'));
  t.regex(server.output(), /query\[A\] other\.dutlab\.test from 127\.0\.0\.1/);
  await server.stop();
  t.false(isRunning(server.pid));
});

test('the HTTP server answers its token path with its body, 404 elsewhere, and records every request', async (t) => {
  const server = await HttpServer.start();
  t.teardown(() => server.stop());
  const ok = await fetch(`http://127.0.0.1:${server.port}/${server.token}`, { headers: { 'user-agent': 'probe/1' } });
  t.is(ok.status, 200);
  t.is(await ok.text(), server.body);
  t.is((await fetch(`http://127.0.0.1:${server.port}/elsewhere`)).status, 404);
  t.is(server.seen.length, 2);
  t.like(server.hits(), [{ userAgent: 'probe/1' }]);
});
