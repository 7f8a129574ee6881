/** The systemd journal as the suites read it: what a unit logged from a moment on. */
import type { TestContext } from 'dutlab';

/** A mark in the journal (its newest entry's cursor): what is logged after it is new. */
export async function journalMark(t: TestContext): Promise<string> {
  const cursor = await t.sh("journalctl -n 1 --show-cursor -o cat --no-pager | sed -n 's/^-- cursor: //p'");
  if (!cursor) throw new Error('the journal printed no cursor (journalctl -n 1 --show-cursor)');
  return cursor;
}

/** The command printing what `unit` logged after `mark` (for t.sh, or piped into a check for t.waitUntil). */
export function journalSince(unit: string, mark: string): string {
  return `journalctl -u ${unit} --no-pager --after-cursor='${mark}'`;
}
