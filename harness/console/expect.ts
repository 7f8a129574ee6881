/**
 * pexpect-style matching: wait for the earliest of several patterns in the
 * cleaned console text, consume through the end of the match.
 */
import type { Reader, ReadResult } from './console.ts';

export type Pattern = RegExp | string;

export interface ExpectMatch {
  /** Which of the patterns matched. */
  index: number;
  match: RegExpExecArray | string;
  /** Text between the previous consumption point and the match. */
  before: string;
}

export interface PatternReaderOptions {
  /**
   * Longest match to allow for. After a failed scan only the last this-many
   * characters are scanned again with new text, which keeps a long stream
   * linear; a longer match is missed.
   */
  maxMatchChars: number;
  /** Unmatched text kept; older text is dropped from `before`. */
  maxBufferChars: number;
}

export class PatternReader implements Reader<ExpectMatch> {
  private readonly searchers: RegExp[];
  private text = '';
  private scanned = 0;

  constructor(
    private readonly patterns: readonly Pattern[],
    private readonly options: PatternReaderOptions,
  ) {
    // A global clone honours lastIndex, so a rescan can start mid-text while
    // `^`, `\b` and lookbehinds still see the text before it.
    this.searchers = patterns.map((pattern) =>
      typeof pattern === 'string'
        ? new RegExp(escapeRegExp(pattern), 'g')
        : new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '') + 'g'),
    );
  }

  feed(chunk: string): ReadResult<ExpectMatch> | undefined {
    this.text += chunk;
    const excess = this.text.length - this.options.maxBufferChars;
    if (excess > 0) {
      this.text = this.text.slice(excess);
      this.scanned = Math.max(0, this.scanned - excess);
    }
    const from = Math.max(0, this.scanned - this.options.maxMatchChars);
    this.scanned = this.text.length;

    let best: { index: number; found: RegExpExecArray } | undefined;
    this.searchers.forEach((searcher, index) => {
      searcher.lastIndex = from;
      const found = searcher.exec(this.text);
      if (found && (!best || found.index < best.found.index)) best = { index, found };
    });
    if (!best) return undefined;

    const { index, found } = best;
    const end = found.index + found[0].length;
    const pattern = this.patterns[index];
    return {
      value: {
        index,
        match: typeof pattern === 'string' ? pattern : found,
        before: this.text.slice(0, found.index),
      },
      rest: this.text.slice(end),
    };
  }

  unread(): string {
    return this.text;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function describePatterns(patterns: readonly Pattern[]): string {
  return patterns.map((pattern) => (typeof pattern === 'string' ? JSON.stringify(pattern) : String(pattern))).join(' | ');
}
