import { DutError } from '../errors.ts';
import type { QmpClient } from './qmp.ts';

/**
 * Forwards this host's 127.0.0.1:hostPort to the guest's TCP guestPort on
 * its user network (net0), while QEMU runs: how a test reaches a DUT port
 * other than sshd from the host, as it would on a farm's network.
 */
export async function forwardPort(qmp: QmpClient, hostPort: number, guestPort: number, dut: string): Promise<void> {
  const said = (await qmp.hmp(`hostfwd_add net0 tcp:127.0.0.1:${hostPort}-:${guestPort}`)).trim();
  if (said) throw new DutError('process', `QEMU did not forward 127.0.0.1:${hostPort} to the guest's port ${guestPort}: ${said}`, { dut, step: 'port forward' });
}
