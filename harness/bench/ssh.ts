import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import type { Dut } from '../dut/dut.ts';
import type { RunKey } from '../transports/ssh-keys.ts';
import { timeEach } from './stats.ts';

export interface SshTimes {
  dutlab: number[];
  openssh: number[];
  /** dutlab's serial console through the whole DUT (lifecycle, queue), for comparison with the bare engine. */
  dutSerial: number[];
}

/**
 * The same DUT, three ways of running `true`: dutlab's SSH transport
 * (`dut.exec`), the OpenSSH client riding a control master (a new client
 * process per command, as a script would call it, the connection kept), and
 * dutlab's serial console through the DUT.
 */
export async function sshRoundTrips(dut: Dut, key: RunKey, turns: number, rounds: number): Promise<SshTimes> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dutlab-bench-ssh-'));
  const identity = path.join(dir, 'id');
  await writeFile(identity, key.privateKey, { mode: 0o600 });
  const { host, port } = await dut.sshEndpoint();
  const options = [
    '-i', identity, '-p', String(port),
    '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', 'ControlMaster=auto', '-o', `ControlPath=${path.join(dir, 'master')}`, '-o', 'ControlPersist=300',
  ];
  const openssh = (): Promise<unknown> => execa('ssh', [...options, `root@${host}`, 'true']);
  const times: SshTimes = { dutlab: [], openssh: [], dutSerial: [] };
  try {
    // Connections are made before timing: both sides' figures are of a warm link.
    await openssh();
    await dut.exec('true', { transport: 'ssh' });
    for (let turn = 0; turn < turns; turn++) {
      times.dutlab.push(...(await timeEach(rounds, () => dut.exec('true', { transport: 'ssh' }))));
      times.openssh.push(...(await timeEach(rounds, openssh)));
      times.dutSerial.push(...(await timeEach(rounds, () => dut.exec('true', { transport: 'serial' }))));
    }
    return times;
  } finally {
    await execa('ssh', [...options, '-O', 'exit', `root@${host}`], { reject: false });
    await rm(dir, { recursive: true, force: true });
  }
}
