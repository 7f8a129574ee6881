/**
 * Quoting a command for a POSIX shell reading a serial line. Three hazards
 * beyond the shell's own quoting rules:
 * - the tty line discipline acts on control characters (^C, ^D, ^U, ^S, `\r`
 *   becomes `\n`) before the shell sees them, so they are sent as `printf`
 *   octal escapes instead of raw bytes;
 * - a canonical-mode line holds at most 4095 bytes and drops the rest, so long
 *   lines are broken with backslash-newline continuations, which the shell
 *   removes before it splits words, even between two quoted strings;
 * - NUL cannot be in a shell string at all.
 * No base64 on the target is needed; busybox builds without it exist.
 */

/** Physical line length kept well under the 4095-byte canonical limit. */
export const MAX_LINE_BYTES = 1000;

/** Quotes `text` as one shell word that expands back to exactly `text`. */
export function shellQuote(text: string, maxLineBytes = MAX_LINE_BYTES): string {
  let out = '';
  let lineBytes = 0;
  let quoted = false;
  const put = (piece: string): void => {
    out += piece;
    const newline = piece.lastIndexOf('\n');
    lineBytes = newline < 0 ? lineBytes + Buffer.byteLength(piece) : Buffer.byteLength(piece.slice(newline + 1));
  };
  const openQuote = (): void => {
    if (!quoted) put("'");
    quoted = true;
  };
  const closeQuote = (): void => {
    if (quoted) put("'");
    quoted = false;
  };
  // Breaks the line if `bytes` more would not fit with a closing quote and the backslash.
  const makeRoom = (bytes: number): void => {
    if (lineBytes + bytes + 2 <= maxLineBytes) return;
    closeQuote();
    put('\\\n');
  };

  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (code === 0) throw new Error('a shell command cannot contain a NUL byte');
    if (char === "'") {
      makeRoom(2);
      closeQuote();
      put("\\'");
    } else if ((code < 0x20 && char !== '\n') || code === 0x7f) {
      const escaped = `"$(printf '\\${code.toString(8).padStart(3, '0')}')"`;
      makeRoom(escaped.length);
      closeQuote();
      put(escaped);
    } else {
      makeRoom(Buffer.byteLength(char) + 1);
      openQuote();
      put(char);
    }
  }
  closeQuote();
  return out === '' ? "''" : out;
}
