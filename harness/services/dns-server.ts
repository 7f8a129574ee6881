import { Resolver } from 'node:dns/promises';
import { startDaemon, type Daemon } from './daemon.ts';

export const DNS_PORT = 53;

/**
 * Debian's dnsmasq as an authoritative-for-the-test DNS server on this host:
 * it answers the given names (and nothing else: no upstream, no hosts file)
 * and logs every query, so a test sees which server a DUT really asked.
 */
export function startDnsServer(records: Record<string, string>): Promise<Daemon> {
  const [probe] = Object.keys(records);
  if (!probe) throw new Error('a DNS server needs at least one record');
  return startDaemon({
    what: `dnsmasq serving DNS on UDP ${DNS_PORT}`,
    command: 'dnsmasq',
    async args(dir) {
      return [
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        `--pid-file=${dir}/dnsmasq.pid`,
        `--port=${DNS_PORT}`,
        '--no-resolv',
        '--no-hosts',
        '--log-queries',
        '--log-facility=-',
        '--user=root',
        ...Object.entries(records).map(([name, address]) => `--address=/${name}/${address}`),
      ];
    },
    async ready() {
      const resolver = new Resolver({ timeout: 500, tries: 1 });
      resolver.setServers([`127.0.0.1:${DNS_PORT}`]);
      return resolver.resolve4(probe).then(
        (found) => found.includes(records[probe] ?? ''),
        () => false,
      );
    },
  });
}
