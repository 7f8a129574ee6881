/** Quoting for a command string a POSIX shell on the DUT parses. */

/** `text` as one single-quoted shell word. */
export function posixQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
