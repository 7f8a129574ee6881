/**
 * Kernel console messages. The kernel writes printk records straight to the
 * UART, so they land anywhere in a shell's output, even mid-line, between two
 * FIFO refills (labgrid #1749). A record starts with its timestamp and runs to
 * the end of its line; that is all we can rely on to tell it apart.
 */

/** `[   12.345678] `, optionally followed by a caller id as in `[    T1] `. */
export const PRINTK_HEAD = String.raw`\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])? `;

const HEAD_AT = new RegExp(PRINTK_HEAD, 'y');
// Characters a timestamp can be built from: a tail made only of them may be a
// record whose head has not fully arrived yet.
const MAYBE_HEAD = /^\[[\s\d.\]TC[]*$/;
const MAX_HEAD = 40;

/**
 * Removes printk records from a chunked text stream (already VT-cleaned). A
 * record spliced into the middle of a line is cut out with its own newline, so
 * `hel[ 1.0] msg\nlo\n` comes out as `hello\n`.
 */
export class KernelLineFilter {
  private held = '';
  private inRecord = false;

  push(text: string): string {
    const input = this.held + text;
    this.held = '';
    let out = '';
    let i = 0;
    while (i < input.length) {
      if (this.inRecord) {
        const eol = input.indexOf('\n', i);
        if (eol < 0) return out;
        this.inRecord = false;
        i = eol + 1;
        continue;
      }
      const bracket = input.indexOf('[', i);
      if (bracket < 0) return out + input.slice(i);
      out += input.slice(i, bracket);
      HEAD_AT.lastIndex = bracket;
      if (HEAD_AT.test(input)) {
        this.inRecord = true;
        i = HEAD_AT.lastIndex;
        continue;
      }
      const rest = input.slice(bracket);
      if (rest.length < MAX_HEAD && MAYBE_HEAD.test(rest)) {
        this.held = rest;
        return out;
      }
      out += '[';
      i = bracket + 1;
    }
    return out;
  }

  /** Text held back because it might still become a record head. */
  pending(): string {
    return this.held;
  }
}
