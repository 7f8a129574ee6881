/**
 * Command execution with exit codes over a console, for a logged-in POSIX
 * shell. Commands run one at a time in call order; a second caller waits in
 * the queue rather than interleaving its input with the first one's output.
 */
import { CommandError, DutError } from '../errors.ts';
import type { Console } from './console.ts';
import { DEFINE_RUN, MarkerReader, newMarker, runRequest } from './marker.ts';

export interface ShellOptions {
  /** Timeout of a `run()` that names none. */
  timeoutMs?: number;
  /** Bound on setting the shell up. */
  setupTimeoutMs?: number;
  /** Output kept per command; beyond it the beginning is dropped. */
  maxOutputChars?: number;
}

export interface RunOptions {
  timeoutMs?: number;
  step?: string;
  /**
   * The command prints kernel log itself (dmesg, journalctl -k, pstore): keep
   * lines that look like printk records in its output, and do not read the
   * traces in them as live kernel failures.
   */
  kernelLog?: boolean;
  /** Interrupts the command (Ctrl-C) and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RunResult {
  /** stdout and stderr merged (a serial line cannot tell them apart), `\n` line ends. */
  output: string;
  exitCode: number;
  durationMs: number;
  /** The output outgrew `maxOutputChars`; its beginning was dropped. */
  truncated: boolean;
}

/** The login shell's prompt once set up. */
const PROMPT = 'dutlab$ ';

// Sent once, in one line, before the first command. Each optional setting is
// tried in a subshell first: in dash a failing `set` aborts the rest of the line.
// - stty -echo: our input is not echoed back, so it cannot be mistaken for
//   output or trip a watcher; busybox ash also drops its line editor then.
// - line editing off (bash: set +o emacs): no bracketed paste, no completion on tab.
// - kernel messages stay on (no `dmesg -n 1`): the watchers need them, and the
//   marker reader cuts them out of output.
const SETUP = [
  'stty -echo 2>/dev/null',
  'stty cols 1024 2>/dev/null',
  'unset PROMPT_COMMAND PS0',
  `PS1='${PROMPT}'`,
  "PS2=''",
  'export TERM=dumb PAGER=cat SYSTEMD_PAGER=cat SYSTEMD_COLORS=0',
  'for o in emacs vi history; do (set +o $o) 2>/dev/null && set +o $o; done',
  '(set +H) 2>/dev/null && set +H',
  DEFINE_RUN,
].join('; ');

export class Shell {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timeoutMs: number;
  private readonly maxOutputChars: number;
  /** The console's use count right after the last command that ended cleanly. */
  private cleanAt: number | undefined;
  /** Output may begin after the prompt: the line does not echo input (stty -echo took). */
  private promptBegins = false;

  private constructor(
    readonly console: Console,
    options: ShellOptions,
  ) {
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxOutputChars = options.maxOutputChars ?? 16 << 20;
  }

  /** Prepares the shell at a prompt on `console` for machine use. */
  static async attach(console: Console, options: ShellOptions = {}): Promise<Shell> {
    const shell = new Shell(console, options);
    await console.send(`${SETUP}\n`);
    const check = await shell.run('echo ready', { timeoutMs: options.setupTimeoutMs ?? 30_000, step: 'shell setup' });
    if (check.exitCode !== 0 || check.output !== 'ready\n') {
      throw new DutError('tool', `shell setup failed: exit ${check.exitCode}, output ${JSON.stringify(check.output)}`, {
        dut: console.name,
        step: 'shell setup',
        excerpt: console.recentText(),
      });
    }
    // An echoed command line would come after the prompt, inside the output.
    shell.promptBegins = true;
    const echo = await shell.run('echo ready', { timeoutMs: options.setupTimeoutMs ?? 30_000, step: 'shell setup: echo' });
    if (echo.output !== 'ready\n') {
      shell.promptBegins = false;
      console.note('the line echoes input (stty -echo did not take): every command prints a start marker');
    }
    return shell;
  }

  /** Runs `command`; resolves with its output and exit code, whatever the code. */
  run(command: string, options: RunOptions = {}): Promise<RunResult> {
    const result = this.queue.then(() => this.execute(command, options));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs `command`; a non-zero exit code throws a CommandError carrying the output. */
  async runOk(command: string, options: RunOptions = {}): Promise<RunResult> {
    const result = await this.run(command, options);
    if (result.exitCode !== 0) {
      throw new CommandError(command, result.exitCode, result.output, { dut: this.console.name, step: options.step });
    }
    return result;
  }

  private async execute(command: string, options: RunOptions): Promise<RunResult> {
    const marker = newMarker();
    const started = Date.now();
    // The prompt after a clean end is the next thing on the line, unless someone else has used the line since.
    const request = runRequest(marker, command, this.promptBegins && this.cleanAt === this.console.useCount ? PROMPT : undefined);
    this.cleanAt = undefined;
    const reader = new MarkerReader(marker, { begin: request.begin, stripKernel: !options.kernelLog, maxOutputChars: this.maxOutputChars });
    this.console.note(`run ${marker}: ${command}`);
    // Wait first, then send: output that comes back quickly is already under
    // this wait's rules (a boot banner in it is judged by the outcome).
    const completion = this.console.read(reader, `end of \`${command}\``, {
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      step: options.step,
      reset: 'defer',
      traces: !options.kernelLog,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      const [{ output, exitCode, truncated }] = await Promise.all([completion, this.console.send(request.line)]);
      this.cleanAt = this.console.useCount;
      const durationMs = Date.now() - started;
      this.console.note(`${marker} exited ${exitCode} after ${durationMs} ms`);
      return { output, exitCode, durationMs, truncated };
    } catch (error) {
      // Interrupt what still runs, so the next command is not typed into it.
      if ((error instanceof DutError && error.kind === 'timeout') || options.signal?.aborted) await this.console.send('\x03').catch(() => undefined);
      throw error;
    }
  }
}
