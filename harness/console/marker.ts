/**
 * The marker protocol that brings a command's output and exit code back over
 * a serial console, after labgrid's shell driver and openQA's `$?` marker.
 *
 * A shell function is defined once. Each command then gets a fresh random
 * marker M, passed split by a backslash (`dlq7vx\k2m9`), so the terminal's
 * echo of the command line never contains M whole, and M cannot be printed by
 * the command, which never sees it. The function runs the command, then
 * prints `M:E:<status>`. Output is what lies between where it begins and that
 * end marker: no prompt ends it, so a command that prints `# ` or a made-up
 * marker, or a prompt the user changed, cannot end it early.
 *
 * Where output begins: after a start marker `M:S` that the run line prints
 * first, or, when the shell's last command ended cleanly and nothing else
 * used the line since, after the prompt the shell prints once that command
 * ended. The prompt saves the start marker's write, a quarter of a round
 * trip under TCG; a first command, or one after a timeout, an interrupt or
 * another reader, cannot trust what is on the line and pays for the marker.
 *
 * The subshell keeps the session alive whatever the command does: `exit 3`
 * reports 3, `set -e` or a syntax error cannot kill the login shell, and
 * `cd` or `export` do not carry over to the next command. Its fork is most of
 * a round trip under TCG, so a command that cannot change the shell's state
 * (shell-state.ts) runs in a brace group of the login shell instead: same
 * marker, same exit code. stdin is /dev/null either way so a command that
 * reads input cannot swallow the next command. Only bash gets the brace
 * group: dash and busybox ash drop the rest of an interactive line at a
 * syntax error in `eval`, end marker included, where bash returns 2.
 */
import { randomInt } from 'node:crypto';
import type { Reader, ReadResult } from './console.ts';
import { KernelLineFilter } from './kmsg.ts';
import { shellQuote } from './quote.ts';
import { touchesShellState } from './shell-state.ts';

// Every byte of the run line adds ~20 µs to a round trip under TCG (the
// guest's UART takes input a FIFO trigger at a time), so the names are short
// and the marker is split by one backslash, not two pairs of quotes.
const RUN = '_dls';
const RUN_HERE = '_dlh';

/** Shell code defining the run functions; POSIX sh (bash, dash, busybox ash). */
export const DEFINE_RUN = [
  `${RUN}() { (eval "$2") </dev/null; printf '\\n%s:E:%d\\n' "$1" "$?"; }`,
  `if [ -n "\${BASH_VERSION-}" ]; then ${RUN_HERE}() { { eval "$2"; } </dev/null; printf '\\n%s:E:%d\\n' "$1" "$?"; }`,
  `else ${RUN_HERE}() { ${RUN} "$@"; }; fi`,
].join('; ');

// No vowels: a marker cannot spell ERROR, FAIL or WARN for a log grep to find.
const ALPHABET = 'bcdfghjkmnpqrstvwxz23456789';

export function newMarker(): string {
  // 8 of 27 characters: 2.8e11 markers, none of them likely in any output.
  let marker = 'dl';
  for (let i = 0; i < 8; i++) marker += ALPHABET[randomInt(ALPHABET.length)];
  return marker;
}

export interface RunRequest {
  /** The input line(s) to send. */
  line: string;
  /** The text the command's output follows. */
  begin: string;
}

/**
 * How to run `command` under `marker`: output begins after `prompt` when the
 * caller knows it is the next thing the shell prints, else after a start
 * marker the line prints first.
 */
export function runRequest(marker: string, command: string, prompt?: string): RunRequest {
  const half = marker.length >> 1;
  const split = `${marker.slice(0, half)}\\${marker.slice(half)}`;
  const run = `${touchesShellState(command) ? RUN : RUN_HERE} ${split} ${shellQuote(command)}\n`;
  if (prompt !== undefined) return { line: run, begin: prompt };
  return { line: `printf '\\n%s:S\\n' ${split}; ${run}`, begin: `${marker}:S\n` };
}

export interface Completion {
  /** stdout and stderr merged, `\r\n` as `\n`, escape codes removed. */
  output: string;
  exitCode: number;
  /** The output outgrew `maxOutputChars`; its beginning was dropped. */
  truncated: boolean;
}

export interface MarkerReaderOptions {
  /** The text the output follows (`RunRequest.begin`). */
  begin: string;
  /** Cut printk records out of the output (and out of the markers they split). */
  stripKernel: boolean;
  maxOutputChars: number;
}

export class MarkerReader implements Reader<Completion> {
  private readonly filter: KernelLineFilter | undefined;
  private readonly start: string;
  private readonly end: RegExp;
  // Longest end-marker text: rescans after new text only look this far back.
  private readonly endWindow: number;
  private started = false;
  private text = '';
  private scanned = 0;
  private truncated = false;

  constructor(
    marker: string,
    private readonly options: MarkerReaderOptions,
  ) {
    this.filter = options.stripKernel ? new KernelLineFilter() : undefined;
    this.start = options.begin;
    this.end = new RegExp(`${marker}:E:(\\d+)\\n`, 'g');
    this.endWindow = marker.length + 16;
  }

  feed(chunk: string): ReadResult<Completion> | undefined {
    this.text += this.filter ? this.filter.push(chunk) : chunk;
    if (!this.started) {
      const at = this.text.indexOf(this.start);
      if (at < 0) {
        // Before the start are echo, prompts and leftovers: keep only what may begin it.
        this.text = this.text.slice(-(this.start.length - 1));
        return undefined;
      }
      this.started = true;
      this.text = this.text.slice(at + this.start.length);
    }
    const excess = this.text.length - this.options.maxOutputChars;
    if (excess > 0) {
      this.text = this.text.slice(excess);
      this.scanned = Math.max(0, this.scanned - excess);
      this.truncated = true;
    }
    this.end.lastIndex = Math.max(0, this.scanned - this.endWindow);
    const found = this.end.exec(this.text);
    this.scanned = this.text.length;
    if (!found) return undefined;

    const output = this.text.slice(0, found.index);
    return {
      // The end marker starts with a newline of its own, so output without a final newline is told apart.
      value: { output: output.endsWith('\n') ? output.slice(0, -1) : output, exitCode: Number(found[1]), truncated: this.truncated },
      rest: this.text.slice(found.index + found[0].length) + (this.filter?.pending() ?? ''),
    };
  }

  unread(): string {
    return this.text.slice(-this.endWindow) + (this.filter?.pending() ?? '');
  }
}
