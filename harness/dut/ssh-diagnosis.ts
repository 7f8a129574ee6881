/**
 * Why SSH does not answer, asked over the serial console: has the OS
 * finished booting, does anything listen on the DUT's SSH port, which
 * interfaces have addresses. Generic Linux tools only (systemctl, ss, ip);
 * each part is optional, so a missing tool shows as "unknown", not a failure.
 */
import type { Transport } from '../transports/types.ts';

/** The port sshd listens on inside the DUT (balenaOS and its relatives use 22222). */
export const DUT_SSH_PORT = 22222;
export const SSH_DIAGNOSIS_INTERVAL_MS = 5000;

export interface SshDiagnosis {
  /** Booting is over and nothing listens: dialling on cannot help. */
  hopeless: boolean;
  /** One line for the report. */
  text: string;
}

const SCRIPT = [
  'echo "system=$(systemctl is-system-running 2>/dev/null || true)"',
  `echo "listeners=$(ss -Htln 'sport = :${DUT_SSH_PORT}' 2>/dev/null | wc -l)"`,
  `echo "ssh_units=$(systemctl list-units --all --no-legend --plain 'ssh*' 'sshd*' 'dropbear*' 2>/dev/null | awk '{print $1":"$3"/"$4}' | tr '\\n' ' ')"`,
  `echo "addresses=$(ip -br addr 2>/dev/null | awk '$1 != "lo" {print $1":"$2":"$3}' | tr '\\n' ' ')"`,
].join('; ');

export async function diagnoseSsh(serial: Transport, signal?: AbortSignal): Promise<SshDiagnosis> {
  const result = await serial.exec(SCRIPT, { timeoutMs: 20_000, step: 'ssh diagnosis', ...(signal ? { signal } : {}) });
  const facts = Object.fromEntries(
    result.stdout
      .split('\n')
      .map((line) => /^(\w+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] as string, (m[2] ?? '').trim()]),
  );
  const system = facts['system'] || 'unknown';
  const listeners = Number(facts['listeners'] ?? NaN);
  const booted = system === 'running' || system === 'degraded';
  const text = [
    `system ${system}`,
    Number.isNaN(listeners) ? `port ${DUT_SSH_PORT}: unknown` : `${listeners} listener(s) on port ${DUT_SSH_PORT}`,
    `ssh units: ${facts['ssh_units'] || 'none'}`,
    `addresses: ${facts['addresses'] || 'none'}`,
  ].join('; ');
  return { hopeless: booted && listeners === 0, text };
}
