/** One lifecycle transition, with when it happened: what reports draw. */
export interface TimelineEntry {
  state: string;
  /** ms since the epoch */
  at: number;
  /** ms spent in the previous state */
  afterMs: number;
  detail?: string;
}

/** Records state changes (not repeated snapshots of the same state) with their times. */
export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly listeners = new Set<(entry: TimelineEntry) => void>();

  enter(state: string, detail?: string, at = Date.now()): void {
    const last = this.entries.at(-1);
    if (last?.state === state) return;
    const entry: TimelineEntry = { state, at, afterMs: last ? at - last.at : 0, ...(detail ? { detail } : {}) };
    this.entries.push(entry);
    for (const listener of this.listeners) listener(entry);
  }

  /** Subscribe to new entries (progress lines, TAP diagnostics); returns an unsubscribe function. */
  subscribe(listener: (entry: TimelineEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** When `state` was first entered, relative to the first entry. */
  firstOffset(state: string): number | undefined {
    const first = this.entries[0];
    const entry = this.entries.find((e) => e.state === state);
    return first && entry ? entry.at - first.at : undefined;
  }
}
