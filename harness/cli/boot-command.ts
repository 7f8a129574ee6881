import { dutOptions, openDut, parseCommandArgs } from './dut-session.ts';

/**
 * `dutlab boot`: boot to a shell, print the timeline, keep the DUT until
 * Ctrl-C. With --console the terminal is attached to the serial line (Ctrl-]
 * detaches): the entry point for poking at a reproduced field bug.
 */
export async function bootCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs('boot', argv, { ...dutOptions, console: { type: 'boolean', default: false } });
  const session = await openDut(values);
  const { dut } = session;
  try {
    await dut.boot();
    const summary = { dut: dut.name, state: dut.state, board: dut.board.describe(), ssh: dut.board.sshEndpoint(), timeline: dut.entries() };
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      const ssh = summary.ssh ? `ssh -p ${summary.ssh.port} root@${summary.ssh.host}` : 'no network';
      process.stderr.write(`${dut.name} is ready (${ssh}); console log: ${dut.transcript.logFile ?? '-'}\n`);
    }
    if (values.console) {
      process.stderr.write('attached to the serial console; Ctrl-] detaches\n');
      await dut.interact(process.stdin, process.stdout);
    } else {
      process.stderr.write('Ctrl-C powers the DUT off and exits\n');
      await new Promise<never>(() => undefined); // until a signal; the cleanup registry tears down
    }
    return 0;
  } finally {
    await session.close();
  }
}
