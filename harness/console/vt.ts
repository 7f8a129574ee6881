/**
 * Terminal noise removal for pattern matching. Shells and getty decorate their
 * output with VT escape sequences (bracketed paste `ESC[?2004h`, colours,
 * window titles) and `\r`; patterns must not have to allow for them. The raw
 * bytes stay in the transcript; only the matching side is cleaned.
 */

// One ESC-introduced token: a complete sequence, or (capture group 1) a sequence
// cut off by the end of the chunk, to be completed by the next one.
//   CSI  ESC [ params intermediates final
//   OSC  ESC ] ... BEL | ESC \
//   DCS/SOS/PM/APC  ESC P|X|^|_ ... ESC \
//   two-byte and charset escapes (ESC ( B, ESC =, ESC 7, ESC c), whose final
//   byte is not one that introduces the longer forms above
const ESCAPE =
  // eslint-disable-next-line no-control-regex -- control characters are what this module matches
  /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[ -/]*[0-OQ-WYZ\\`-~])|(\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)$)/g;

// Every C0 control but newline and tab, plus DEL: `\r`, BEL, backspace, NUL and
// stray ESCs that started no valid sequence.
// eslint-disable-next-line no-control-regex -- as above
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

// The line erase the kernel and systemd print before a message when the cursor
// is not at column 0: CR, a run of spaces, CR. A terminal shows nothing of it.
const ERASE = /\r +\r/g;
// ... which may be cut by the end of a chunk.
const ERASE_CUT = /\r *$/;

/** An unfinished sequence longer than this is line noise, not a sequence. */
const MAX_PENDING = 256;

/** Strips escape sequences and control characters from a chunked text stream. */
export class VtStripper {
  private pending = '';

  push(text: string): string {
    const input = this.pending + text;
    this.pending = '';
    const cleaned = input.replace(ESCAPE, (_whole, cutOff: string | undefined) => {
      if (cutOff === undefined) return '';
      if (cutOff.length > MAX_PENDING) return cutOff; // its ESC goes with the controls below
      this.pending = cutOff;
      return '';
    });
    let erased = cleaned.replace(ERASE, '');
    const cut = this.pending === '' ? ERASE_CUT.exec(erased) : null;
    if (cut && cut[0].length <= MAX_PENDING) {
      this.pending = cut[0];
      erased = erased.slice(0, cut.index);
    }
    return erased.replace(CONTROL, '');
  }
}

