import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { textOf } from '../console/transcript.ts';
import type { Dut } from '../dut/dut.ts';

/** The serial transcript of a time span, as the target printed it (with our input and notes marked). */
export function serialSlice(dut: Dut, fromMs: number, toMs: number): string {
  return textOf(dut.transcript.slice(fromMs, toMs), ['target']);
}

/** The whole serial log of the run, as the target printed it. */
export async function writeSerialLog(dut: Dut, file: string): Promise<void> {
  await writeFile(file, textOf(dut.transcript.entries, ['target']));
}

/** What a failed test leaves behind when the DUT still answers: its logs and the engine's containers. */
const FAILURE_COMMANDS: [string, string][] = [
  ['journal.txt', 'journalctl -b --no-pager -n 2000'],
  ['dmesg.txt', 'dmesg'],
  ['engine-ps.txt', 'balena-engine ps -a'],
];

/**
 * Collects the failure artifacts, each with a short bound: a DUT that does
 * not answer must not hold the run up. Returns the files written.
 */
export async function collectFailureArtifacts(dut: Dut, dir: string, options: { signal?: AbortSignal; rebooted?: boolean } = {}): Promise<string[]> {
  const written: string[] = [];
  if (dut.state !== 'ready') return written;
  const { signal } = options;
  // Over serial when SSH was found unreachable: the diagnosis is not paid twice.
  const transport = dut.reachableTransport;
  // After a panic or reset the DUT runs a new boot: what explains the fault is in the journal of the one before.
  const commands: [string, string][] = options.rebooted ? [['journal-previous-boot.txt', 'journalctl -b -1 --no-pager -n 2000'], ...FAILURE_COMMANDS] : FAILURE_COMMANDS;
  for (const [name, command] of commands) {
    try {
      const result = await dut.exec(command, { timeoutMs: 30_000, transport, ...(signal ? { signal } : {}) });
      const file = path.join(dir, name);
      await writeFile(file, `$ ${command}\n# exit ${result.exitCode}\n${result.stdout}${result.stderr}`);
      written.push(file);
    } catch {
      break; // the DUT stopped answering: what we have is what there is
    }
  }
  return written;
}
