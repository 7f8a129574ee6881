import type { SuiteEnd, SuiteStart, TestResult, TestStart } from './events.ts';
import { unfinishedBy, type Reporter, type RunEvents } from './reporter.ts';

type Replay = (reporter: Reporter) => void;

/**
 * Suites that run at the same time on several DUTs, reported one after
 * another: TAP (and the reporter) has one suite open at a time. The first
 * suite to start streams live; another suite's events wait, in the order
 * they came, until the suites before it have ended, then stream. With one
 * DUT every event passes straight through. `finish` reports whatever still
 * waits, closing each unfinished suite with the reason, before the reporter
 * ends: nothing a DUT did is lost when the run stops.
 */
export class SuiteSequencer implements RunEvents {
  private head: string | undefined;
  private readonly waiting = new Map<string, { events: Replay[]; ended: boolean }>();

  constructor(private readonly reporter: Reporter) {}

  suiteStart(suite: SuiteStart): void {
    if (this.head === undefined && !this.waiting.has(suite.suite)) {
      this.head = suite.suite;
      this.reporter.suiteStart(suite);
    } else this.route(suite.suite, (reporter) => reporter.suiteStart(suite));
  }

  testStart(test: TestStart): void {
    this.route(test.suite, (reporter) => reporter.testStart(test));
  }

  testResult(result: TestResult): void {
    this.route(result.suite, (reporter) => reporter.testResult(result));
  }

  suiteEnd(end: SuiteEnd): void {
    if (end.suite !== this.head) {
      this.route(end.suite, (reporter) => reporter.suiteEnd(end));
      const queued = this.waiting.get(end.suite);
      if (queued) queued.ended = true;
      return;
    }
    this.reporter.suiteEnd(end);
    this.head = undefined;
    // The next suite in line streams what it kept, and stays the head if it has not ended.
    for (const [name, queued] of this.waiting) {
      this.waiting.delete(name);
      for (const replay of queued.events) replay(this.reporter);
      if (!queued.ended) {
        this.head = name;
        return;
      }
    }
  }

  /** Before the reporter ends: the head and every waiting suite reported, the unfinished ones closed with why. */
  finish(interrupted: string | undefined): void {
    const { reason, kind } = unfinishedBy(interrupted);
    if (this.head !== undefined) this.reporter.abandon(this.head, reason, kind);
    this.head = undefined;
    for (const [name, queued] of this.waiting) {
      for (const replay of queued.events) replay(this.reporter);
      if (!queued.ended) this.reporter.abandon(name, reason, kind);
    }
    this.waiting.clear();
  }

  private route(suite: string, replay: Replay): void {
    if (suite === this.head) {
      replay(this.reporter);
      return;
    }
    const queued = this.waiting.get(suite) ?? { events: [], ended: false };
    queued.events.push(replay);
    this.waiting.set(suite, queued);
  }
}
