import { untilAborted } from '../proc/abort.ts';
import { defineCommand } from './command.ts';
import { dutFlags, openDut } from './dut-session.ts';

/**
 * `dutlab boot`: boot to a shell, print the timeline, keep the DUT until
 * Ctrl-C. With --console the terminal is attached to the serial line (Ctrl-]
 * detaches): the entry point for poking at a reproduced field bug.
 */
export const bootCommand = defineCommand({
  name: 'boot',
  summary: 'Boot the image to a shell, print the timeline, and keep the DUT until Ctrl-C.',
  details: 'Ctrl-C powers the DUT off. With --console the terminal is attached to the serial line; Ctrl-] detaches.',
  flags: { ...dutFlags, console: { type: 'boolean', default: false, help: 'attach the terminal to the serial console once ready' } },
  examples: ['dutlab boot --image images/out/refos-1.0.0.img --console'],
  run: ({ values }, shutdown) => boot(values, shutdown),
});

async function boot(values: { console: boolean } & Parameters<typeof openDut>[0], shutdown: AbortSignal): Promise<number> {
  const session = await openDut(values, shutdown);
  const { dut } = session;
  try {
    await untilAborted(dut.boot(), shutdown);
    const ssh = dut.board.network ? await dut.sshEndpoint(shutdown).catch(() => undefined) : undefined;
    const summary = { dut: dut.name, state: dut.state, board: dut.board.describe(), ssh, timeline: dut.entries() };
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const ssh = summary.ssh ? `ssh -p ${summary.ssh.port} root@${summary.ssh.host}` : 'no network';
      process.stderr.write(`${dut.name} is ready (${ssh}); console log: ${dut.transcript.logFile ?? '-'}\n`);
    }
    if (values.console) {
      process.stderr.write('attached to the serial console; Ctrl-] detaches\n');
      await untilAborted(dut.interact(process.stdin, process.stdout), shutdown);
      return 0;
    }
    process.stderr.write('Ctrl-C powers the DUT off and exits\n');
    await new Promise((resolve) => shutdown.addEventListener('abort', resolve, { once: true }));
    // Kept until the user stopped it: that was the job, so it is not a failure.
    return 0;
  } finally {
    await session.close();
  }
}
