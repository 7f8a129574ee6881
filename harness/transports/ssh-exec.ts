/**
 * One command on an SSH exec channel: stdout and stderr apart, the exit
 * status or the signal, a timeout that ends the command and closes the
 * channel, and a dropped connection reported as such, never as an exit code.
 *
 * Ending a timed-out command takes more than closing its channel: without a
 * pty sshd leaves the command running, and OpenSSH refuses "signal" requests
 * for root sessions (they need post-auth privilege separation, which root
 * logins skip). sshd starts each command as the leader of a new session and
 * process group, so killing that group ends the command and everything it
 * started, except what left the group on purpose (setsid, a daemon). To find
 * the group from a second command, each command is tagged: it exports
 * DUTLAB_EXEC=<token>.$$ ($$ being its group), which every process it starts
 * inherits, exec'd ones included.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { abortReason, DutError, tail } from '../errors.ts';
import type { SshLink } from './ssh-link.ts';

export interface ChannelRun {
  timeoutMs: number;
  dut: string;
  step: string;
  /** Piped to the command's stdin; without it stdin is at EOF. */
  stdin?: Readable;
  /** Ends the command as a timeout does (channel closed, process group killed), then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RawExec {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  signal?: NodeJS.Signals;
  durationMs: number;
}

// A channel that closes without an exit status while the connection drops:
// wait this long for the connection's verdict, so the error names the cause.
const LOSS_GRACE_MS = 200;
// Bound on finding and killing a timed-out command's processes.
const REAP_TIMEOUT_MS = 10_000;

/** The command as errors quote it: one line, bounded. */
export function shortCommand(command: string): string {
  const line = command.replace(/\s*\n\s*/g, '; ');
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** 128+n for a signal n, as a shell reports it; undefined for a name this OS does not know. */
export function signalExitCode(signal: string): number | undefined {
  const number = (constants.signals as Record<string, number | undefined>)[signal];
  return number === undefined ? undefined : 128 + number;
}

/** The command as sent: tagged with its token and its process group, otherwise unchanged. */
export function tagged(command: string, token: string): string {
  return `DUTLAB_EXEC=${token}.$$; export DUTLAB_EXEC; ${command}`;
}

/**
 * POSIX sh (busybox, dash, bash) that SIGKILLs the process group of the
 * command tagged `token` and prints how many groups it killed. The tag is
 * read from the environment of the command's processes, or, for the shell
 * itself (whose initial environment predates its export), from its command
 * line. If no group can be killed (an sshd that does not make each command a
 * group leader), the tagged processes are killed one by one. The token is
 * split in the script, so its own command line does not carry it whole.
 */
export function reapScript(token: string): string {
  return [
    `t=DUTLAB_EXEC=; t="$t"'${token}.'`,
    'gs=""; ps=""',
    'for f in $(grep -lsF "$t" /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null); do',
    '  p=${f#/proc/}; p=${p%%/*}',
    '  [ "$p" = "$$" ] && continue',
    '  case "$f" in */environ) g=$(tr "\\000" "\\n" < "$f" 2>/dev/null | sed -n "s/^$t//p") ;; *) g=$p ;; esac',
    '  ps="$ps $p"; gs="$gs $g"',
    'done',
    'n=0',
    'for g in $(printf "%s\\n" $gs | sort -u); do kill -9 "-$g" 2>/dev/null && n=$((n + 1)); done',
    '[ "$n" = 0 ] && [ -n "$ps" ] && kill -9 $ps 2>/dev/null',
    'echo "$n"',
  ].join('\n');
}

export function runOnLink(link: SshLink, command: string, run: ChannelRun): Promise<RawExec> {
  return new Promise<RawExec>((resolve, reject) => {
    const started = Date.now();
    const token = randomBytes(8).toString('hex');
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let exit: { code: number | null; signal?: string } | undefined;
    let channel: ClientChannel | undefined;
    let settled = false;
    let timedOut = false;
    const excerpt = (): string => tail(`${Buffer.concat(stdout).toString('utf8')}\n${Buffer.concat(stderr).toString('utf8')}`.trim());
    const errorOptions = (): { dut: string; step: string; excerpt: string } => ({ dut: run.dut, step: run.step, excerpt: excerpt() });

    const finish = (error: Error | undefined, value?: RawExec): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unsubscribe();
      if (error) reject(error);
      else resolve(value as RawExec);
    };
    const lost = (reason: string): DutError =>
      new DutError(
        'console-lost',
        `SSH connection lost while \`${shortCommand(command)}\` ran (${reason}); not re-run: it may or may not have taken effect`,
        errorOptions(),
      );
    const unsubscribeLost = link.onLost((reason) => {
      channel?.destroy();
      if (!timedOut) finish(lost(reason));
    });
    // Settles only once what the command left running is killed, so a caller
    // that gave up knows the DUT is no longer running it.
    const giveUp = (end: (killed: string) => Error): void => {
      if (timedOut || settled) return;
      timedOut = true;
      if (channel) channel.close();
      reap(link, token, run).then(
        (groups) => finish(end(groups ? 'its process group killed' : 'nothing of it found running')),
        (error: Error) => finish(end(`killing what it left running failed: ${error.message}`)),
      );
    };
    const timer = setTimeout(() => {
      const what = `\`${shortCommand(command)}\` did not finish within ${run.timeoutMs} ms; its channel was closed`;
      giveUp((killed) => new DutError('timeout', `${what} and ${killed}`, errorOptions()));
    }, run.timeoutMs);
    const onAbort = (): void => giveUp(() => abortReason(run.signal as AbortSignal, run.dut, run.step));
    run.signal?.addEventListener('abort', onAbort, { once: true });
    const unsubscribe = (): void => {
      unsubscribeLost();
      run.signal?.removeEventListener('abort', onAbort);
    };
    if (run.signal?.aborted) {
      finish(abortReason(run.signal, run.dut, run.step));
      return;
    }

    const onClosed = (): void => {
      if (timedOut) return;
      if (!exit) {
        const wait = setTimeout(() => finish(lost(link.lostReason ?? 'the channel closed without an exit status')), LOSS_GRACE_MS);
        wait.unref();
        return;
      }
      const durationMs = Date.now() - started;
      const out = { stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), durationMs };
      if (exit.code !== null) return finish(undefined, { ...out, exitCode: exit.code });
      const signal = exit.signal ?? 'unknown';
      const code = signalExitCode(signal);
      if (code === undefined) {
        return finish(new DutError('tool', `\`${shortCommand(command)}\` was ended by signal ${signal}, which this host cannot number`, errorOptions()));
      }
      finish(undefined, { ...out, exitCode: code, signal: signal as NodeJS.Signals });
    };

    try {
      link.client.exec(tagged(command, token), (error, opened) => {
        if (error) {
          if (!timedOut) {
            finish(link.alive ? new DutError('tool', `the SSH server would not run \`${shortCommand(command)}\`: ${error.message}`, errorOptions()) : lost(link.lostReason ?? error.message));
          }
          return;
        }
        if (timedOut || settled) {
          // Timed out while the channel opened: the command may have started after the reaper looked.
          opened.close();
          void reap(link, token, run).catch(() => undefined);
          return;
        }
        channel = opened;
        opened.on('data', (data: Buffer) => stdout.push(data));
        opened.stderr.on('data', (data: Buffer) => stderr.push(data));
        opened.on('exit', (code: number | null, signal?: string) => {
          exit = { code, signal };
        });
        opened.on('close', onClosed);
        if (run.stdin) {
          run.stdin.on('error', (readError) => {
            opened.close();
            finish(new DutError('tool', `reading the input of \`${shortCommand(command)}\` failed: ${readError.message}`, errorOptions()));
          });
          run.stdin.pipe(opened);
        } else {
          opened.end();
        }
      });
    } catch (error) {
      // ssh2 throws when the connection is already gone.
      finish(lost(link.lostReason ?? (error as Error).message));
    }
  });
}

/** Kills what a timed-out command left running; resolves with how many process groups. */
async function reap(link: SshLink, token: string, run: ChannelRun): Promise<number> {
  if (!link.alive) throw new Error(`the connection is gone (${link.lostReason ?? ''})`);
  const result = await runOnLink(link, reapScript(token), { timeoutMs: REAP_TIMEOUT_MS, dut: run.dut, step: `${run.step}: reap` });
  const killed = Number(result.stdout.toString().trim());
  if (result.exitCode !== 0 || !Number.isInteger(killed)) throw new Error(`exit ${result.exitCode}: ${result.stderr.toString().trim()}`);
  return killed;
}
