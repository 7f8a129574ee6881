/**
 * Text from a serial console is not XML text: it carries ESC sequences, NUL,
 * BEL and other C0 controls that XML 1.0 forbids even as character
 * references. xmlbuilder2 escapes markup (<, &, > and so "]]>") and calls
 * `xmlCharReplacement` for each character XML cannot hold; we map C0 controls
 * to their Unicode "control pictures" (ESC → ␛, NUL → ␀), so a transcript
 * still shows what the DUT sent (`␛[?2004h`), and anything else (lone
 * surrogates, U+FFFE/U+FFFF) to U+FFFD.
 */

/** For xmlbuilder2's `invalidCharReplacement`: a visible stand-in for a character XML 1.0 forbids. */
export function xmlCharReplacement(char: string): string {
  const code = char.codePointAt(0) ?? 0xfffd;
  return code < 0x20 ? String.fromCodePoint(0x2400 + code) : '\ufffd';
}

/**
 * Line ends as an XML parser would read them anyway (it turns CR LF and a lone
 * CR into LF), made explicit so the stored file says what a reader sees.
 */
export function normalizeNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** The last `max` characters of `text`, saying how much was cut. */
export function keepTail(text: string, max: number): string {
  if (text.length <= max) return text;
  return `[… ${text.length - max} earlier characters cut]\n${text.slice(text.length - max)}`;
}

/** The first line of a message, for an XML attribute (which cannot keep line ends). */
export function firstLine(text: string): string {
  return (text.split(/\r?\n|\r/, 1)[0] ?? '').trim();
}
