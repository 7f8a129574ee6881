/**
 * Typed errors shared by every layer. Each carries the DUT it concerns and the
 * step that was running, so a report can say "dut qemu-1, step booting: ..."
 * without parsing messages. `kind` separates infrastructure errors (the
 * harness or the device broke) from test failures, which are not errors here.
 */
export type DutErrorKind =
  | 'config' // bad input: a board file, a CLI flag, a missing artifact
  | 'tool' // an external program failed (mkfs, qemu-img, sfdisk, ...)
  | 'timeout' // a bounded wait ran out
  | 'panic' // the kernel printed a panic/oops/BUG/WARNING trace
  | 'reset' // the DUT rebooted when nobody asked it to
  | 'reboot-hung' // a reboot the OS was asked for (or owed) did not come back by itself
  | 'not-ready' // a condition the OS should reach (a service up) was not reached in time
  | 'console-lost' // the byte stream to the DUT closed
  | 'ssh-unreachable' // sshd could not be dialled although the OS booted
  | 'power' // the power driver did not do what it was told
  | 'process' // QEMU or a helper died
  | 'command' // a shell command on the DUT exited non-zero where success was required
  | 'interrupted' // the run was stopped by a signal
  | 'broken' // the lifecycle latched broken earlier; carries the first cause
  | 'boot-lost'; // a test sharing a reboot could not be checked: the boot it was prepared for ended first

export interface DutErrorOptions {
  dut?: string;
  step?: string;
  /** Console output around the event, for reports. */
  excerpt?: string;
  cause?: unknown;
}

export class DutError extends Error {
  readonly kind: DutErrorKind;
  readonly dut: string | undefined;
  readonly step: string | undefined;
  readonly excerpt: string | undefined;
  /** The message without the "dut X, step Y:" prefix. */
  readonly reason: string;

  constructor(kind: DutErrorKind, message: string, options: DutErrorOptions = {}) {
    const where = [options.dut && `dut ${options.dut}`, options.step && `step ${options.step}`]
      .filter(Boolean)
      .join(', ');
    super(where ? `${where}: ${message}` : message, { cause: options.cause });
    this.name = 'DutError';
    this.kind = kind;
    this.dut = options.dut;
    this.step = options.step;
    this.excerpt = options.excerpt;
    this.reason = message;
  }
}

/** A bad board file, CLI flag or run config. `location` names file, line and field. */
export class ConfigError extends DutError {
  constructor(location: string, message: string) {
    super('config', `${location}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** An external tool exited non-zero; the message ends with its stderr tail. */
export class ToolError extends DutError {
  readonly tool: string;
  readonly stderrTail: string;
  constructor(tool: string, message: string, stderrTail: string, options: DutErrorOptions = {}) {
    super('tool', `${tool} failed: ${message}${stderrTail ? `\n${stderrTail}` : ''}`, options);
    this.name = 'ToolError';
    this.tool = tool;
    this.stderrTail = stderrTail;
  }
}

/** A command run on the DUT's shell exited non-zero; the message ends with its output tail. */
export class CommandError extends DutError {
  readonly command: string;
  readonly exitCode: number;
  readonly output: string;
  constructor(command: string, exitCode: number, output: string, options: DutErrorOptions = {}) {
    const outputTail = tail(output);
    super('command', `\`${command}\` exited ${exitCode}${outputTail ? `\n${outputTail}` : ''}`, {
      excerpt: outputTail,
      ...options,
    });
    this.name = 'CommandError';
    this.command = command;
    this.exitCode = exitCode;
    this.output = output;
  }
}

/**
 * The reason an AbortSignal carries, as a DutError; what aborted is always a
 * DutError in dutlab, anything else is a bug in the caller and reported so.
 */
export function abortReason(signal: AbortSignal, dut?: string, step?: string): DutError {
  const reason: unknown = signal.reason;
  if (reason instanceof DutError) return reason;
  return new DutError('interrupted', `aborted: ${reason instanceof Error ? reason.message : String(reason)}`, { dut, step, cause: reason });
}

/** Keep the last `lines` lines of a tool's output for an error message. */
export function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
