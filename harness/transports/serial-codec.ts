/**
 * Bytes as shell text and back, for files over a serial console: the
 * commands that write a block on the DUT, and strict decoders for what the
 * DUT prints. Everything here is POSIX sh plus tools both busybox and GNU
 * coreutils have; every physical line stays far below the 4095-byte limit of
 * a canonical-mode tty line.
 */
import { posixQuote } from './shell-words.ts';

/** `base64` on the DUT, or the shell's own `printf` with octal escapes (4 bytes of text per byte) where there is none. */
export type Encoding = 'base64' | 'octal';
export type Checksum = 'sha256' | 'md5';

/** Raw bytes per base64 line: 57 bytes are 76 characters, the width base64(1) itself writes. */
export const BASE64_LINE_BYTES = 57;
/** Raw bytes per printf line: 4 characters each, 256 per line. */
export const OCTAL_LINE_BYTES = 64;

const HEREDOC = 'DUTLAB_EOF';

export const CHECKSUM_TOOLS: Record<Checksum, string> = { sha256: 'sha256sum', md5: 'md5sum' };

/**
 * The command appending (or, for the first block, writing) `block` to `path`.
 * base64 goes through a quoted here-document, one 76-character line each;
 * octal through printf, whose format is all escapes (no `%`, no quotes).
 */
export function writeBlockCommand(encoding: Encoding, block: Buffer, path: string, first: boolean): string {
  const redirect = `${first ? '>' : '>>'} ${posixQuote(path)}`;
  if (encoding === 'base64') {
    const lines: string[] = [];
    for (let at = 0; at < block.length; at += BASE64_LINE_BYTES) lines.push(block.subarray(at, at + BASE64_LINE_BYTES).toString('base64'));
    return `base64 -d ${redirect} <<'${HEREDOC}'\n${lines.join('\n')}\n${HEREDOC}`;
  }
  const lines: string[] = [];
  for (let at = 0; at < block.length; at += OCTAL_LINE_BYTES) {
    let escapes = '';
    for (const byte of block.subarray(at, at + OCTAL_LINE_BYTES)) escapes += `\\${byte.toString(8).padStart(3, '0')}`;
    lines.push(`printf '${escapes}'`);
  }
  return `{\n${lines.join('\n')}\n} ${redirect}`;
}

/** The command printing `path` in `encoding`'s text form (base64, or od's hex bytes). */
export function readFileCommand(encoding: Encoding, path: string): string {
  return encoding === 'base64' ? `base64 < ${posixQuote(path)}` : `od -An -v -tx1 < ${posixQuote(path)}`;
}

/** The command printing the size of `path`, then its checksum. */
export function sizeAndSumCommand(checksum: Checksum, path: string): string {
  return `wc -c < ${posixQuote(path)} && ${CHECKSUM_TOOLS[checksum]} < ${posixQuote(path)}`;
}

/** Parses sizeAndSumCommand's output; undefined if it is not `<size>\n<hex>  -`. */
export function parseSizeAndSum(checksum: Checksum, output: string): { size: number; sum: string } | undefined {
  const [sizeLine, sumLine] = output.trim().split('\n');
  const size = Number(sizeLine?.trim());
  const sum = sumLine?.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  const digits = checksum === 'sha256' ? 64 : 32;
  if (!Number.isSafeInteger(size) || size < 0 || !new RegExp(`^[0-9a-f]{${digits}}$`).test(sum)) return undefined;
  return { size, sum };
}

/**
 * Decodes what readFileCommand printed. Strict: Node's own decoders skip
 * characters they do not know, which would hide a corrupted line; any stray
 * character here is an error (undefined).
 */
export function decode(encoding: Encoding, text: string): Buffer | undefined {
  const compact = text.replace(/\s+/g, '');
  if (encoding === 'base64') {
    if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) return undefined;
    return Buffer.from(compact, 'base64');
  }
  if (compact.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(compact)) return undefined;
  return Buffer.from(compact, 'hex');
}

/** The command listing which of `tools` the DUT has, one per line. */
export function probeToolsCommand(tools: readonly string[]): string {
  return `for t in ${tools.join(' ')}; do command -v "$t" >/dev/null 2>&1 && echo "$t"; done; true`;
}
