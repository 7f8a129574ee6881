/**
 * Where a physical DUT's sshd is: a fixed address, the lease a DHCP server
 * handed the board's MAC, or what the DUT itself says over its console. The
 * last two are known only once the board has booted far enough to ask for an
 * address, so they are polled within a bound rather than read once.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NetworkConfig } from '../boards/types.ts';
import type { NetworkDriver, NetworkEndpoint } from '../dut/drivers.ts';
import { DutError } from '../errors.ts';
import { throwIfAborted, untilAborted } from '../proc/abort.ts';

export interface NetworkOptions {
  /** How long an address may take to appear (DHCP runs during boot). Default 60 s. */
  timeoutMs?: number;
  /** How often the leases file or the DUT is asked again. Default 1 s. */
  pollMs?: number;
}

type Factory<K extends NetworkConfig['kind']> = (config: Extract<NetworkConfig, { kind: K }>, board: string, options: Required<NetworkOptions>) => Omit<NetworkDriver, 'reach'>;

const STEP = 'network endpoint';

const FACTORIES: { [K in NetworkConfig['kind']]: Factory<K> } = {
  static: (config) => ({ asksConsole: false, endpoint: async () => ({ host: config.host, port: config.port }) }),
  'dhcp-leases': (config, board, options) => ({
    asksConsole: false,
    endpoint: (_ask, signal) =>
      poll(
        async () => {
          const text = await readLeases(config.file, board);
          const host = text === undefined ? undefined : leasedAddress(text, config.mac);
          return host === undefined ? undefined : { host, port: config.port };
        },
        { ...options, board, signal },
        () => ({ what: `no DHCP lease for MAC ${config.mac.toLowerCase()} in ${config.file}` }),
      ),
  }),
  console: (config, board, options) => {
    const command = `ip -4 -o addr show scope global${config.interface ? ` dev ${config.interface}` : ''}`;
    return {
      asksConsole: true,
      endpoint: (ask, signal) => {
        let said = '';
        return poll(
          async () => {
            said = await ask(command);
            const host = firstAddress(said);
            return host === undefined ? undefined : { host, port: config.port };
          },
          { ...options, board, signal },
          () => ({
            what: `no global IPv4 address on ${config.interface ?? 'any interface'}`,
            // What the DUT printed is the diagnosis (no such interface, no carrier, ...): it goes in the report's excerpt.
            printed: `\`${command}\` printed ${said.trim() ? `"${said.trim()}"` : 'nothing'}`,
          }),
        );
      },
    };
  },
};

export function bindNetwork(config: NetworkConfig, board: string, options: NetworkOptions = {}): NetworkDriver {
  const settled = { timeoutMs: options.timeoutMs ?? 60_000, pollMs: options.pollMs ?? 1_000 };
  const driver = (FACTORIES[config.kind] as Factory<NetworkConfig['kind']>)(config, board, settled);
  return {
    ...driver,
    ...(config.hostAddress === undefined ? {} : { hostAddress: config.hostAddress }),
    // The DUT's own address, or the port a farm's NAT maps it to.
    reach: async (port, ask, signal) => ({ host: (await driver.endpoint(ask, signal)).host, port: config.ports?.[String(port)] ?? port }),
  };
}

async function poll(
  once: () => Promise<NetworkEndpoint | undefined>,
  options: Required<NetworkOptions> & { board: string; signal: AbortSignal | undefined },
  missing: () => { what: string; printed?: string },
): Promise<NetworkEndpoint> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    throwIfAborted(options.signal, options.board, STEP);
    const found = await once();
    if (found) return found;
    if (Date.now() >= deadline) {
      const { what, printed } = missing();
      const message = `${what} within ${+(options.timeoutMs / 1000).toFixed(1)} s${printed ? `; ${printed}` : ''}`;
      throw new DutError('ssh-unreachable', message, { dut: options.board, step: STEP, ...(printed ? { excerpt: printed } : {}) });
    }
    await untilAborted(sleep(options.pollMs), options.signal);
  }
}

/** The leases file's text; undefined while it does not exist (a DHCP server writes it on its first lease). */
async function readLeases(file: string, board: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DutError('config', `cannot read DHCP leases file ${file}: ${(error as Error).message}`, { dut: board, step: STEP });
  }
}

interface DhcpLease {
  ip: string;
  mac: string;
  /** When the lease was granted or renewed, ms since the epoch; later in the file wins a tie. */
  at: number;
}

/** The newest lease's address for `mac`, from a dnsmasq or an ISC dhcpd leases file. */
export function leasedAddress(text: string, mac: string): string | undefined {
  const wanted = mac.toLowerCase();
  let newest: DhcpLease | undefined;
  for (const lease of /^\s*lease\s+\S+\s*\{/m.test(text) ? iscLeases(text) : dnsmasqLeases(text)) {
    if (lease.mac === wanted && (!newest || lease.at >= newest.at)) newest = lease;
  }
  return newest?.ip;
}

/**
 * dnsmasq: `<expiry> <mac> <ip> <hostname> <client-id>` per lease (IPv6 ones
 * carry an IAID where the MAC is, and never match). The file holds only the
 * time a lease ends; with one lease time for all, the latest end is the
 * latest grant. Expiry 0 is an infinite lease.
 */
function dnsmasqLeases(text: string): DhcpLease[] {
  const leases: DhcpLease[] = [];
  for (const line of text.split('\n')) {
    const [expiry, mac, ip] = line.trim().split(/\s+/);
    if (!expiry || !mac || !ip || !/^\d+$/.test(expiry)) continue;
    leases.push({ ip, mac: mac.toLowerCase(), at: expiry === '0' ? Infinity : Number(expiry) * 1000 });
  }
  return leases;
}

/**
 * ISC dhcpd: the file is a journal of `lease <ip> { ... }` blocks, the last
 * block for an address being its current state. A lease that is no longer
 * `binding state active` (freed, expired, released) is not where the board is.
 */
function iscLeases(text: string): DhcpLease[] {
  const current = new Map<string, DhcpLease | undefined>();
  for (const block of text.matchAll(/^\s*lease\s+(\S+)\s*\{([^}]*)\}/gm)) {
    const ip = block[1] as string;
    const body = block[2] as string;
    const mac = /^\s*hardware\s+ethernet\s+([0-9a-fA-F:]+)\s*;/m.exec(body)?.[1];
    const state = /^\s*binding\s+state\s+(\w+)\s*;/m.exec(body)?.[1];
    const at = iscTime(/^\s*starts\s+([^;]+);/m.exec(body)?.[1]);
    current.delete(ip); // re-insert so Map order follows the latest block
    current.set(ip, mac && (state === undefined || state === 'active') ? { ip, mac: mac.toLowerCase(), at } : undefined);
  }
  return [...current.values()].filter((lease): lease is DhcpLease => lease !== undefined);
}

/** `starts 3 2026/12/02 10:00:00` (UTC), or `starts epoch 1796205600` with `db-time-format local`. */
function iscTime(value: string | undefined): number {
  const epoch = value && /^epoch\s+(\d+)/.exec(value.trim());
  if (epoch) return Number(epoch[1]) * 1000;
  const utc = value && /^\d\s+(\d{4})\/(\d{2})\/(\d{2})\s+(\d{2}):(\d{2}):(\d{2})/.exec(value.trim());
  if (!utc) return 0;
  const [y, mo, d, h, mi, s] = utc.slice(1).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** The first `inet A.B.C.D/N` of `ip -4 -o addr` output. */
export function firstAddress(output: string): string | undefined {
  return /\binet\s+(\d{1,3}(?:\.\d{1,3}){3})\//.exec(output)?.[1];
}
